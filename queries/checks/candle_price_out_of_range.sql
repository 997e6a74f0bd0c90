-- check: candle_price_out_of_range
-- level: error
-- Invariant: every price in candles_1m and candles_5m (trade OHLC and vwap, yes bid and yes
-- ask OHLC) is NULL or strictly between 0 and 1. An empty book side is NULL, never the API's
-- "0.0000" bid or "1.0000" ask (README, The lake; Kalshi's candlesticks:
-- https://docs.kalshi.com/api-reference/market/get-market-candlesticks).
WITH c AS (
    SELECT 'candles_1m' AS tbl, * FROM candles_1m_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end'))
    UNION ALL BY NAME
    SELECT 'candles_5m' AS tbl, * FROM candles_5m_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end'))
),
-- Cost: only rows with a price out of range are unpivoted (13 rows each); least and greatest
-- skip NULLs, so a row whose prices are all NULL or in range never reaches the UNPIVOT.
bad AS (
    SELECT *
    FROM c
    WHERE least(
            price_open, price_high, price_low, price_close, price_vwap,
            yes_bid_open, yes_bid_high, yes_bid_low, yes_bid_close,
            yes_ask_open, yes_ask_high, yes_ask_low, yes_ask_close
        ) <= 0
       OR greatest(
            price_open, price_high, price_low, price_close, price_vwap,
            yes_bid_open, yes_bid_high, yes_bid_low, yes_bid_close,
            yes_ask_open, yes_ask_high, yes_ask_low, yes_ask_close
        ) >= 1
),
prices AS (
    UNPIVOT bad
    ON price_open, price_high, price_low, price_close, price_vwap,
       yes_bid_open, yes_bid_high, yes_bid_low, yes_bid_close,
       yes_ask_open, yes_ask_high, yes_ask_low, yes_ask_close
    INTO NAME field VALUE price
)
SELECT p.tbl, p.market_ticker, p.source, p.bucket_start, p.field, p.price
FROM prices AS p
WHERE p.price <= 0 OR p.price >= 1
ORDER BY p.tbl, p.market_ticker, p.source, p.bucket_start, p.field;
