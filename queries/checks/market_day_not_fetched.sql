-- check: market_day_not_fetched
-- level: warn
-- Invariant: inside a city's fetched span of a market family (its first to its last day whose
-- trades and candles of that family were fetched, fetched_days_in), every event date with
-- curated markets of that family was fetched too: trades and candle pages are in the raw
-- layer. A row is a day the listings named (its markets are in the curated table) whose trades
-- or candles were never asked for: a hole between two backfilled windows, or a day a run did
-- not finish. Families are apart: a city backfilled for highs only has no lows span (its lows
-- are not holes), and its highs are not missing because its lows are. `kalshi-lake status`
-- shows the same days as gaps; backfill the day to fill it. Days outside the span are not holes
-- (listings name markets on either side of any backfilled range), and a gap is not an error:
-- windows may be fetched apart on purpose, so this only warns.
WITH days AS (
    SELECT f.city, f.family, f.date, f.trades_fetched, f.candles_fetched, f.fetched
    FROM fetched_days_in(getvariable('check_city')) AS f
),
span AS (
    SELECT d.city, d.family, min(d.date) AS first_date, max(d.date) AS last_date
    FROM days AS d
    WHERE d.fetched
    GROUP BY d.city, d.family
),
listed AS (
    SELECT m.city, m.family, m.date, count(*) AS markets
    FROM markets_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS m
    GROUP BY ALL
)
SELECT
    l.city,
    l.family,
    l.date,
    l.markets,
    coalesce(d.trades_fetched, false) AS trades_fetched,
    coalesce(d.candles_fetched, false) AS candles_fetched
FROM listed AS l
JOIN span AS s
    ON s.city = l.city AND s.family = l.family AND l.date BETWEEN s.first_date AND s.last_date
LEFT JOIN days AS d ON d.city = l.city AND d.family = l.family AND d.date = l.date
WHERE NOT coalesce(d.fetched, false)
ORDER BY l.city, l.family, l.date;
