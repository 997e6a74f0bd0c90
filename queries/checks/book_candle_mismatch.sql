-- check: book_candle_mismatch
-- level: warn
-- Invariant: where both exist, the WebSocket book's best yes bid and ask at the end of a minute
-- (the last quotes row of the market received before the minute ended, while the book was
-- known) equal that minute's api 1m candle close (yes_bid_close, yes_ask_close; an empty side
-- is NULL in both). Receive times trail the exchange by the network's latency, so a change in a
-- minute's last milliseconds can show here without a defect: a warning, not an error.
WITH q AS (
    SELECT *
    FROM quotes_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end'))
        AS q
    WHERE q.source = 'ws'
),
k AS (
    SELECT
        c.market_ticker,
        c.bucket_start,
        c.bucket_start + INTERVAL 1 MINUTE AS minute_end,
        c.yes_bid_close,
        c.yes_ask_close
    FROM candles_1m_in(
        getvariable('check_city'), getvariable('check_start'), getvariable('check_end')
    ) AS c
    WHERE c.source = 'api' AND c.market_ticker IN (SELECT DISTINCT q.market_ticker FROM q)
)
SELECT
    k.market_ticker,
    k.bucket_start,
    k.yes_bid_close,
    k.yes_ask_close,
    q.yes_bid AS book_yes_bid,
    q.yes_ask AS book_yes_ask,
    q.quote_at AS book_quote_at,
    q.conn_id,
    q.frame_no
FROM k
-- the latest quote received strictly before the minute's end; ties by (conn_id, frame_no)
ASOF JOIN q
    ON q.market_ticker = k.market_ticker
    AND (q.quote_at, q.conn_id, q.frame_no) < (k.minute_end, '', CAST(-1 AS BIGINT))
WHERE q.is_known
  AND (q.yes_bid IS DISTINCT FROM k.yes_bid_close OR q.yes_ask IS DISTINCT FROM k.yes_ask_close)
ORDER BY k.market_ticker, k.bucket_start;
