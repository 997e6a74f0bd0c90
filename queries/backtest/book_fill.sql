-- macro: book_fill(asks, bids, qty)
-- The first half of book_walk: taking qty contracts against a book's two sides as
-- decision_books_computed_for and decision_points store them (book_asks: the asks by price up,
-- book_bids: the bids by price down, i.e. cheapest first for a YES and a NO buyer; each level's
-- `before` is the size of the better levels of its side). Each level gives the rest of the
-- quantity after the better levels, up to its size: least(size, greatest(qty - before, 0)). A
-- struct of the best levels (NULL on an empty side), the contracts taken each way (yes_filled,
-- no_filled: NULL on an empty side) and their total price (buying NO at a bid pays 1 - bid).
-- NULL when the book is not known (asks NULL).
-- Invariant: *_filled = least(qty, that side's total size); exact decimals throughout.
-- Why stored sides with `before`, not a list of levels walked here: DuckDB plans every lambda
-- of a query, and sorting and summing the levels in lambdas cost ~65 ms of planning per query;
-- one comprehension per figure costs a few.
CREATE OR REPLACE MACRO book_fill(asks, bids, qty) AS
CASE WHEN asks IS NOT NULL THEN struct_pack(
    book_yes_bid := bids[1].price,
    yes_bid_size := bids[1].size,
    book_yes_ask := asks[1].price,
    yes_ask_size := asks[1].size,
    yes_filled := list_sum([least(l.size, greatest(qty - l.before, 0)) FOR l IN asks]),
    yes_cost := list_sum([least(l.size, greatest(qty - l.before, 0)) * l.price FOR l IN asks]),
    no_filled := list_sum([least(l.size, greatest(qty - l.before, 0)) FOR l IN bids]),
    no_cost := list_sum([
        least(l.size, greatest(qty - l.before, 0)) * CAST(1 - l.price AS DECIMAL(10, 6))
        FOR l IN bids
    ])
) END;
