-- check: candles_5m_rollup_mismatch
-- level: error
-- Invariant: 5m candles are rolled up from the 1m candles of the same source, so per market
-- and source the two tables carry the same total volume and trade count, and the same number
-- of distinct 5-minute periods.
WITH c1 AS (
    SELECT k.market_ticker, k.source, sum(k.volume) AS volume, sum(k.trade_count) AS n,
           count(DISTINCT time_bucket(INTERVAL 5 MINUTE, k.bucket_start)) AS periods
    FROM candles_1m_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS k
    GROUP BY ALL
),
c5 AS (
    SELECT k.market_ticker, k.source, sum(k.volume) AS volume, sum(k.trade_count) AS n,
           count(*) AS periods
    FROM candles_5m_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS k
    GROUP BY ALL
)
SELECT
    coalesce(c1.market_ticker, c5.market_ticker) AS market_ticker,
    coalesce(c1.source, c5.source) AS source,
    c1.volume AS volume_1m,
    c5.volume AS volume_5m,
    c1.n AS trades_1m,
    c5.n AS trades_5m,
    c1.periods AS periods_from_1m,
    c5.periods AS periods_5m
FROM c1
FULL JOIN c5 ON c5.market_ticker = c1.market_ticker AND c5.source = c1.source
WHERE c1.volume IS DISTINCT FROM c5.volume
   OR c1.n IS DISTINCT FROM c5.n
   OR c1.periods IS DISTINCT FROM c5.periods
ORDER BY market_ticker, source;
