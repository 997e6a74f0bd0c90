-- macro: decision_quotes_for(city := NULL, start_date := NULL, end_date := NULL, instants := NULL, fill_quantity := 100)
-- decision_quotes (README, Queries) for one city and an inclusive range of event climate
-- dates: one row per market and decision instant (D-1 10:00 and D 10:00, city-local,
-- DST-correct) with the last api quote and the last trade at or before it, their ages
-- (quote_age, last_trade_age: seconds as DOUBLE, NULL without a quote or trade), the result.
-- The fast path for backtests: only that city's partitions near the range are listed and read.
-- instants := ['D-1 10:05', 'D 09:00'] asks for other city-local instants (decision_instants).
-- Invariant: exactly one row per market and instant (two by default); decision_at is the UTC
-- instant of decision_label; quote_at <= decision_at and last_trade_at <= decision_at (no
-- look-ahead).
-- Which path: decision_points_for: at the default instants the decision_points table where it
-- is current (decision_points_in), else computed; the book columns are book_walk over the
-- stored book sides at fill_quantity (any quantity).
CREATE OR REPLACE MACRO decision_quotes_for(
    city := NULL, start_date := NULL, end_date := NULL, instants := NULL, fill_quantity := 100
) AS TABLE
SELECT
    q.market_ticker,
    q.event_ticker,
    q.family,
    q.city,
    q.date,
    q.decision_label,
    q.decision_at,
    q.yes_bid,
    q.yes_ask,
    q.mid,
    q.quote_at,
    q.last_trade_price,
    q.last_trade_at,
    q.result,
    q.quote_age,
    q.last_trade_age,
    q.settlement_value,
    q.month,
    -- the book's columns (book_walk at fill_quantity, in its order), NULL where no book is known
    unnest(q.w)
FROM (
    SELECT x.*, book_walk(x.f, x.qty, x.book_as_of, x.book_source) AS w
    FROM (
        SELECT p.*, a.qty, book_fill(p.book_asks, p.book_bids, a.qty) AS f
        FROM decision_points_for(city, start_date, end_date, instants := instants) AS p
        CROSS JOIN fill_args(fill_quantity) AS a
    ) AS x
) AS q;
