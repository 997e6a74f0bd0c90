-- view: lake_status
-- What the lake holds, one row per city (kalshi-lake status): the event dates covered (first,
-- last, how many), markets (and how many settled), trades, 1m candles by source, the last
-- fetch time seen in the curated rows, and the gaps: event dates between the first and last
-- with no markets, as 'YYYY-MM-DD' or 'YYYY-MM-DD..YYYY-MM-DD' ranges.
-- Invariant: event_dates + missing_days = last_date - first_date + 1 for every city.
CREATE OR REPLACE VIEW lake_status AS
WITH per_day AS (
    SELECT
        m.city,
        m.date,
        count(*) AS markets,
        count(*) FILTER (WHERE m.status IN ('finalized', 'settled', 'determined', 'amended'))
            AS settled,
        max(m.fetched_at) AS fetched_at
    FROM markets AS m
    GROUP BY ALL
),
span AS (
    SELECT
        p.city,
        min(p.date) AS first_date,
        max(p.date) AS last_date,
        count(*) AS event_dates,
        CAST(sum(p.markets) AS BIGINT) AS markets,
        CAST(sum(p.settled) AS BIGINT) AS settled_markets,
        max(p.fetched_at) AS markets_fetched_at
    FROM per_day AS p
    GROUP BY p.city
),
missing AS (
    SELECT s.city, CAST(g.d AS DATE) AS date
    FROM span AS s,
        generate_series(
            CAST(s.first_date AS TIMESTAMP), CAST(s.last_date AS TIMESTAMP), INTERVAL 1 DAY
        ) AS g(d)
    ANTI JOIN per_day AS p ON p.city = s.city AND p.date = CAST(g.d AS DATE)
),
runs AS (
    SELECT
        x.city,
        min(x.date) AS lo,
        max(x.date) AS hi
    FROM (
        SELECT
            mi.city,
            mi.date,
            mi.date - CAST(row_number() OVER (PARTITION BY mi.city ORDER BY mi.date) AS INTEGER)
                AS grp
        FROM missing AS mi
    ) AS x
    GROUP BY x.city, x.grp
),
gaps AS (
    SELECT
        r.city,
        CAST(sum(r.hi - r.lo + 1) AS BIGINT) AS missing_days,
        list(
            CASE
                WHEN r.lo = r.hi THEN strftime(r.lo, '%Y-%m-%d')
                ELSE strftime(r.lo, '%Y-%m-%d') || '..' || strftime(r.hi, '%Y-%m-%d')
            END
            ORDER BY r.lo
        ) AS gaps
    FROM runs AS r
    GROUP BY r.city
),
trade_counts AS (
    SELECT t.city, count(*) AS trades, max(t.fetched_at) AS trades_fetched_at
    FROM trades AS t
    GROUP BY t.city
),
candle_counts AS (
    SELECT
        k.city,
        count(*) FILTER (WHERE k.source = 'api') AS api_candles_1m,
        count(*) FILTER (WHERE k.source = 'trades') AS trade_candles_1m
    FROM candles_1m AS k
    GROUP BY k.city
)
SELECT
    s.city,
    s.first_date,
    s.last_date,
    s.event_dates,
    s.markets,
    s.settled_markets,
    coalesce(t.trades, 0) AS trades,
    coalesce(k.api_candles_1m, 0) AS api_candles_1m,
    coalesce(k.trade_candles_1m, 0) AS trade_candles_1m,
    greatest(s.markets_fetched_at, t.trades_fetched_at) AS last_fetch,
    coalesce(g.missing_days, 0) AS missing_days,
    coalesce(g.gaps, []) AS gaps
FROM span AS s
LEFT JOIN trade_counts AS t ON t.city = s.city
LEFT JOIN candle_counts AS k ON k.city = s.city
LEFT JOIN gaps AS g ON g.city = s.city
ORDER BY s.city;
