-- view: lake_status
-- What the lake holds, one row per city and market family (high, low) (kalshi-lake status).
-- Coverage is what was fetched: a day counts as covered only when the raw layer holds its
-- trades and its candle pages of that family (fetched_days_in), whatever the curated tables
-- hold, because listing pages bring markets of days whose trades and candles were never asked
-- for; a city's highs fetched never cover its lows. first_date and last_date are the first and
-- last covered day, event_dates how many days are covered, and the gaps the days between them
-- that are not (never fetched, or only partly: trades without candles or the reverse), as
-- 'YYYY-MM-DD' or 'YYYY-MM-DD..YYYY-MM-DD' ranges. Then the curated counts of the family:
-- markets (and how many settled), trades, 1m candles by source, listed_only_days (event dates
-- that have curated markets but were not fetched, inside the span or not), and the last fetch
-- time seen in the curated rows.
-- Invariant: event_dates + missing_days = last_date - first_date + 1 for every city and family
-- with a covered day (otherwise both dates are NULL and both counts 0).
CREATE OR REPLACE VIEW lake_status AS
WITH fetched AS (
    SELECT f.city, f.family, f.date
    FROM fetched_days_in() AS f
    WHERE f.fetched
),
span AS (
    SELECT
        f.city,
        f.family,
        min(f.date) AS first_date,
        max(f.date) AS last_date,
        count(*) AS event_dates
    FROM fetched AS f
    GROUP BY f.city, f.family
),
missing AS (
    SELECT s.city, s.family, CAST(g.d AS DATE) AS date
    FROM span AS s,
        generate_series(
            CAST(s.first_date AS TIMESTAMP), CAST(s.last_date AS TIMESTAMP), INTERVAL 1 DAY
        ) AS g(d)
    ANTI JOIN fetched AS f
        ON f.city = s.city AND f.family = s.family AND f.date = CAST(g.d AS DATE)
),
runs AS (
    SELECT
        x.city,
        x.family,
        min(x.date) AS lo,
        max(x.date) AS hi
    FROM (
        SELECT
            mi.city,
            mi.family,
            mi.date,
            mi.date - CAST(
                row_number() OVER (PARTITION BY mi.city, mi.family ORDER BY mi.date) AS INTEGER
            ) AS grp
        FROM missing AS mi
    ) AS x
    GROUP BY x.city, x.family, x.grp
),
gaps AS (
    SELECT
        r.city,
        r.family,
        CAST(sum(r.hi - r.lo + 1) AS BIGINT) AS missing_days,
        list(
            CASE
                WHEN r.lo = r.hi THEN strftime(r.lo, '%Y-%m-%d')
                ELSE strftime(r.lo, '%Y-%m-%d') || '..' || strftime(r.hi, '%Y-%m-%d')
            END
            ORDER BY r.lo
        ) AS gaps
    FROM runs AS r
    GROUP BY r.city, r.family
),
market_counts AS (
    SELECT
        m.city,
        m.family,
        count(*) AS markets,
        count(*) FILTER (WHERE m.status IN ('finalized', 'settled', 'determined', 'amended'))
            AS settled_markets,
        max(m.fetched_at) AS markets_fetched_at
    FROM markets AS m
    GROUP BY m.city, m.family
),
listed_only AS (
    SELECT x.city, x.family, count(*) AS listed_only_days
    FROM (SELECT DISTINCT m.city, m.family, m.date FROM markets AS m) AS x
    ANTI JOIN fetched AS f ON f.city = x.city AND f.family = x.family AND f.date = x.date
    GROUP BY x.city, x.family
),
trade_counts AS (
    SELECT t.city, t.family, count(*) AS trades, max(t.fetched_at) AS trades_fetched_at
    FROM trades AS t
    GROUP BY t.city, t.family
),
candle_counts AS (
    SELECT
        k.city,
        k.family,
        count(*) FILTER (WHERE k.source = 'api') AS api_candles_1m,
        count(*) FILTER (WHERE k.source = 'trades') AS trade_candles_1m
    FROM candles_1m AS k
    GROUP BY k.city, k.family
),
keys AS (
    SELECT s.city, s.family FROM span AS s
    UNION
    SELECT m.city, m.family FROM market_counts AS m
    UNION
    SELECT t.city, t.family FROM trade_counts AS t
)
SELECT
    c.city,
    c.family,
    s.first_date,
    s.last_date,
    coalesce(s.event_dates, 0) AS event_dates,
    coalesce(m.markets, 0) AS markets,
    coalesce(m.settled_markets, 0) AS settled_markets,
    coalesce(t.trades, 0) AS trades,
    coalesce(k.api_candles_1m, 0) AS api_candles_1m,
    coalesce(k.trade_candles_1m, 0) AS trade_candles_1m,
    greatest(m.markets_fetched_at, t.trades_fetched_at) AS last_fetch,
    coalesce(g.missing_days, 0) AS missing_days,
    coalesce(g.gaps, []) AS gaps,
    coalesce(l.listed_only_days, 0) AS listed_only_days
FROM keys AS c
LEFT JOIN span AS s ON s.city = c.city AND s.family = c.family
LEFT JOIN market_counts AS m ON m.city = c.city AND m.family = c.family
LEFT JOIN listed_only AS l ON l.city = c.city AND l.family = c.family
LEFT JOIN trade_counts AS t ON t.city = c.city AND t.family = c.family
LEFT JOIN candle_counts AS k ON k.city = c.city AND k.family = c.family
LEFT JOIN gaps AS g ON g.city = c.city AND g.family = c.family
ORDER BY c.city, array_position(['high', 'low'], c.family), c.family;
