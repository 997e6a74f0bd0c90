-- view: decision_quotes
-- decision_quotes (README, Queries) over the whole lake: one row per market and decision
-- instant (D-1 10:00 and D 10:00 in the city's own time zone), the as-of api quote (bid, ask,
-- mid, quote_at, quote_age), the last trade (price, time, last_trade_age), the market's result,
-- and the book columns at fill_quantity 100 (see decision_quotes_for); ages are seconds (DOUBLE)
-- before decision_at. Filter on city and date: `WHERE city = 'chicago' AND date BETWEEN ...`
-- opens only that city's decision rows.
-- Which path: it reads decision_points_in() (the decision_points table where it is current,
-- else the computed rows; connect() decides) and walks the stored books (book_fill, book_walk).
-- It never names the computed form itself: binding that lists and prunes every file of
-- markets, candles_1m, trades and the book tables (~70 ms of planning on the 10M-trade
-- benchmark lake), whatever the WHERE clause. The same body as decision_quotes_for at its
-- defaults, whose rows it equals.
-- Invariant: no look-ahead (see market_quotes_for); two rows per market.
CREATE OR REPLACE VIEW decision_quotes AS
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
        FROM decision_points_in() AS p
        CROSS JOIN fill_args(100) AS a
    ) AS x
) AS q;
