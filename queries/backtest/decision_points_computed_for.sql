-- macro: decision_points_computed_for(city := NULL, start_date := NULL, end_date := NULL, instants := NULL)
-- The rows of the decision_points table, computed: per market of one city (or all) and range of
-- event climate dates (or all) and per decision instant (decision_instants: the defaults D-1
-- 10:00 and D 10:00, or `instants`), every column of market_quotes_for (the as-of api quote, the
-- last trade, the market) and the order book as of the instant from decision_books_computed_for
-- (book_as_of, book_source, book_asks, book_bids; all NULL where the book is not known).
-- The transform writes the decision_points table with this macro over each partition's own
-- rows (kalshi_lake.transform.decision_points), so the table equals it by construction; the
-- views read the table where it is current (decision_points_in, decided by connect()).
-- Invariant (no look-ahead): nothing dated or received after the instant changes a row.
CREATE OR REPLACE MACRO decision_points_computed_for(
    city := NULL, start_date := NULL, end_date := NULL, instants := NULL
) AS TABLE
SELECT
    q.market_ticker,
    q.event_ticker,
    q.family,
    q.date,
    q.decision_label,
    q.decision_at,
    q.yes_bid,
    q.yes_ask,
    q.mid,
    q.quote_at,
    q.quote_age,
    q.last_trade_price,
    q.last_trade_at,
    q.last_trade_age,
    q.result,
    q.settlement_value,
    q.status,
    q.strike_type,
    q.floor_strike,
    q.cap_strike,
    q.low_f,
    q.high_f,
    q.yes_sub_title,
    q.open_time,
    q.close_time,
    b.book_as_of,
    b.book_source,
    b.book_asks,
    b.book_bids,
    q.city,
    q.month
FROM market_quotes_for(city, start_date, end_date, instants := instants) AS q
LEFT JOIN decision_books_computed_for(city, start_date, end_date, instants := instants) AS b
    -- city and date in the key too: a plain view's WHERE on them then reaches the book side
    ON b.city = q.city
    AND b.date = q.date
    AND b.market_ticker = q.market_ticker
    AND b.decision_at = q.decision_at;
