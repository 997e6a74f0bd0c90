-- macro: book_walk(f, qty, as_of, source)
-- The second half of the walk of a book (f: book_fill's struct, qty its quantity; as_of and
-- source: the book's book_as_of and book_source): the book columns decision_quotes,
-- event_ladder and fill_cost_decisions_for show, in their order, as one struct the views expand
-- with unnest(): the best levels (book_yes_bid / yes_bid_size, book_yes_ask / yes_ask_size;
-- NULL on an empty side), book_as_of, book_source, fill_quantity = qty, and the cost of taking qty contracts each way: buy_yes_* walks the asks
-- up, buy_no_* the bids down paying 1 - bid; *_filled contracts (0 on an empty side), *_cost
-- dollars, the exact *_avg_price (fill_cost_avg_price; NULL when nothing filled). NULL when f
-- is (the book is not known). The one walk of those views, whether the book sides are computed
-- (decision_books_computed_for) or read from the decision_points table.
-- Invariant: equals a plain walk of the book's levels, best price first.
CREATE OR REPLACE MACRO book_walk(f, qty, as_of, source) AS
CASE WHEN f IS NOT NULL THEN struct_pack(
    book_yes_bid := f.book_yes_bid,
    yes_bid_size := f.yes_bid_size,
    book_yes_ask := f.book_yes_ask,
    yes_ask_size := f.yes_ask_size,
    book_as_of := as_of,
    book_source := source,
    fill_quantity := CAST(qty AS DECIMAL(18, 2)),
    buy_yes_filled := CAST(coalesce(f.yes_filled, 0) AS DECIMAL(18, 2)),
    buy_yes_cost := CAST(coalesce(f.yes_cost, 0) AS DECIMAL(28, 8)),
    buy_yes_avg_price := fill_cost_avg_price(f.yes_cost, f.yes_filled),
    buy_no_filled := CAST(coalesce(f.no_filled, 0) AS DECIMAL(18, 2)),
    buy_no_cost := CAST(coalesce(f.no_cost, 0) AS DECIMAL(28, 8)),
    buy_no_avg_price := fill_cost_avg_price(f.no_cost, f.no_filled)
) END;
