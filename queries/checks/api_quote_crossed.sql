-- check: api_quote_crossed
-- level: error
-- Invariant: an api candle never shows a crossed book: yes bid <= yes ask at the period's open
-- and at its close (1m and 5m), whenever both sides are present.
WITH c AS (
    SELECT 'candles_1m' AS tbl, * FROM candles_1m_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end'))
    UNION ALL BY NAME
    SELECT 'candles_5m' AS tbl, * FROM candles_5m_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end'))
)
SELECT c.tbl, c.market_ticker, c.bucket_start,
       c.yes_bid_open, c.yes_ask_open, c.yes_bid_close, c.yes_ask_close
FROM c
WHERE c.source = 'api'
  AND (c.yes_bid_open > c.yes_ask_open OR c.yes_bid_close > c.yes_ask_close)
ORDER BY c.tbl, c.market_ticker, c.bucket_start;
