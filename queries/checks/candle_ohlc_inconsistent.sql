-- check: candle_ohlc_inconsistent
-- level: error
-- Invariant: in every candle (1m and 5m, both sources) and for each series (trade price, yes
-- bid, yes ask): low <= open, low <= close, high >= open, high >= close and low <= high,
-- comparing only values that are present.
WITH c AS (
    SELECT 'candles_1m' AS tbl, * FROM candles_1m_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end'))
    UNION ALL BY NAME
    SELECT 'candles_5m' AS tbl, * FROM candles_5m_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end'))
),
series AS (
    SELECT tbl, market_ticker, source, bucket_start, 'price' AS series,
           price_open AS o, price_high AS h, price_low AS l, price_close AS cl
    FROM c
    UNION ALL
    SELECT tbl, market_ticker, source, bucket_start, 'yes_bid',
           yes_bid_open, yes_bid_high, yes_bid_low, yes_bid_close
    FROM c
    UNION ALL
    SELECT tbl, market_ticker, source, bucket_start, 'yes_ask',
           yes_ask_open, yes_ask_high, yes_ask_low, yes_ask_close
    FROM c
)
SELECT s.tbl, s.market_ticker, s.source, s.bucket_start, s.series,
       s.o AS open, s.h AS high, s.l AS low, s.cl AS close
FROM series AS s
WHERE s.l > s.o OR s.l > s.cl OR s.h < s.o OR s.h < s.cl OR s.l > s.h
ORDER BY s.tbl, s.market_ticker, s.source, s.bucket_start, s.series;
