-- check: candle_bucket_misaligned
-- level: error
-- Invariant: a 1m candle starts on a whole minute and a 5m candle on a whole five minutes
-- (UTC), period_minutes matches its table, and source is 'api' or 'trades'.
WITH c AS (
    SELECT 'candles_1m' AS tbl, 1 AS minutes, k.market_ticker, k.source, k.bucket_start,
           k.period_minutes
    FROM candles_1m_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS k
    UNION ALL
    SELECT 'candles_5m', 5, k.market_ticker, k.source, k.bucket_start, k.period_minutes
    FROM candles_5m_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS k
)
SELECT c.tbl, c.market_ticker, c.source, c.bucket_start, c.period_minutes
FROM c
WHERE c.period_minutes IS DISTINCT FROM c.minutes
   OR c.source IS NULL
   OR c.source NOT IN ('api', 'trades')
   OR epoch_us(c.bucket_start) % (c.minutes * 60000000) <> 0
ORDER BY c.tbl, c.market_ticker, c.source, c.bucket_start;
