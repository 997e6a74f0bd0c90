-- check: candle_duplicate_key
-- level: error
-- Invariant: candles_1m and candles_5m hold one row per (market_ticker, source, bucket_start).
WITH c AS (
    SELECT 'candles_1m' AS tbl, k.market_ticker, k.source, k.bucket_start
    FROM candles_1m_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS k
    UNION ALL
    SELECT 'candles_5m', k.market_ticker, k.source, k.bucket_start
    FROM candles_5m_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS k
)
SELECT c.tbl, c.market_ticker, c.source, c.bucket_start, count(*) AS copies
FROM c
GROUP BY ALL
HAVING count(*) > 1
ORDER BY c.tbl, c.market_ticker, c.source, c.bucket_start;
