-- macro: fill_cost_decisions_for(city := NULL, start_date := NULL, end_date := NULL, instants := NULL, quantity := 100)
-- The order book side of decision_quotes and event_ladder: per market of one city (or all) and
-- range of event climate dates (or all) and per decision instant (decision_instants: the
-- defaults D-1 10:00 and D 10:00, or `instants`, city-local, DST-correct), the book as of the
-- instant as book_at_for defines it (the latest book_snapshots entry at or before the instant,
-- none if it is 'unknown', plus the same connection's later deltas received by then; see
-- decision_books_computed_for) and its walk (book_walk): book_yes_bid / yes_bid_size and
-- book_yes_ask / yes_ask_size (the best levels; NULL on an empty side), book_as_of (the receive
-- time of the last frame applied; of a cadence entry replayed from an empty snapshot and nothing
-- since, the entry's instant), book_source, and the cost of taking `quantity` contracts (default
-- 100) each way: buy_yes_* walks the asks up, buy_no_* the bids down paying 1 - bid (filled,
-- total cost, exact average price; see fill_cost_for). No row at an instant where the market's
-- book is not known (no book data, a hole, before the first snapshot).
-- At the default instants the books come from the decision_points table where it is current
-- (decision_books_for): the levels are stored, so any quantity is a walk of a few rows.
-- Invariant (no look-ahead): nothing received after the instant changes a row.
CREATE OR REPLACE MACRO fill_cost_decisions_for(
    city := NULL, start_date := NULL, end_date := NULL, instants := NULL, quantity := 100
) AS TABLE
SELECT
    b.market_ticker,
    b.city,
    b.date,
    b.decision_label,
    b.decision_at,
    -- the book's columns (book_walk at fill_quantity, in its order), NULL where no book is known
    unnest(b.w)
FROM (
    SELECT x.*, book_walk(x.f, x.qty, x.book_as_of, x.book_source) AS w
    FROM (
        SELECT d.*, a.qty, book_fill(d.book_asks, d.book_bids, a.qty) AS f
        FROM decision_books_for(city, start_date, end_date, instants := instants) AS d
        CROSS JOIN fill_args(quantity) AS a
    ) AS x
) AS b;
