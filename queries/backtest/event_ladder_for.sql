-- macro: event_ladder_for(city := NULL, start_date := NULL, end_date := NULL, instants := NULL, fill_quantity := 100)
-- event_ladder (README, Queries) for one city and an inclusive range of event climate dates: per
-- event and decision instant, every bracket in strike order (bracket 1 = the low tail) with its
-- as-of bid, ask and mid, the sum of mids over the ladder (sum_mid; n_quoted of n_brackets
-- brackets had a mid), the winning bracket's ticker once settled, and is_winner. instants :=
-- ['D-1 10:05', 'D 09:00'] asks for other city-local instants (decision_instants).
-- Invariant: quotes are those of decision_quotes (no look-ahead); at most one is_winner per
-- event and instant; bracket numbers run 1..n_brackets.
-- Which path: decision_points_for, as decision_quotes_for.
CREATE OR REPLACE MACRO event_ladder_for(
    city := NULL, start_date := NULL, end_date := NULL, instants := NULL, fill_quantity := 100
) AS TABLE
SELECT
    q.event_ticker,
    q.family,
    q.city,
    q.date,
    q.decision_label,
    q.decision_at,
    row_number() OVER ladder AS bracket,
    q.market_ticker,
    q.strike_type,
    q.low_f,
    q.high_f,
    q.yes_sub_title,
    q.yes_bid,
    q.yes_ask,
    q.mid,
    q.quote_at,
    q.last_trade_price,
    q.last_trade_at,
    sum(q.mid) OVER event AS sum_mid,
    count(q.mid) OVER event AS n_quoted,
    count(*) OVER event AS n_brackets,
    max(CASE WHEN q.result = 'yes' THEN q.market_ticker END) OVER event AS winner,
    q.result = 'yes' AS is_winner,
    q.result,
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
) AS q
-- city and date are the same for every market of an event, so partitioning by them too changes
-- no row; it lets DuckDB push a plain view's WHERE on city or date below the window functions
-- (a filter on a column outside the PARTITION BY stays above them, and the whole lake is read).
WINDOW
    event AS (PARTITION BY q.city, q.date, q.event_ticker, q.decision_label),
    ladder AS (
        PARTITION BY q.city, q.date, q.event_ticker, q.decision_label
        ORDER BY
            q.low_f NULLS FIRST, q.high_f NULLS LAST,
            q.floor_strike NULLS FIRST, q.cap_strike NULLS LAST, q.market_ticker
    )
ORDER BY q.city, q.date, q.decision_at, bracket;
