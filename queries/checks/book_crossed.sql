-- check: book_crossed
-- level: error
-- Invariant: a known order book is never crossed: in quotes (every change of the top of the
-- book, after each snapshot and delta is applied), the best yes bid is below the best yes ask
-- whenever both sides hold a level. A crossed book means deltas were applied to the wrong book
-- (a missed seq hole, a NO level not turned to the YES scale, or complemented twice).
SELECT
    q.market_ticker,
    q.quote_at,
    q.source,
    q.conn_id,
    q.frame_no,
    q.yes_bid,
    q.yes_bid_size,
    q.yes_ask,
    q.yes_ask_size
FROM quotes_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS q
WHERE q.is_known AND q.yes_bid >= q.yes_ask
ORDER BY q.market_ticker, q.quote_at, q.conn_id, q.frame_no;
