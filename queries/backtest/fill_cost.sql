-- macro: fill_cost(ts, taker_side, quantity)
-- fill_cost_for over every city at instant ts: per market whose book is known at ts, taking
-- `quantity` contracts on `taker_side` ('yes': buy YES walking the asks up; 'no': buy NO, selling YES
-- into the bids down, paying 1 - bid): filled, unfilled, total_cost, avg_price (see
-- fill_cost_for). Only events dated within three days of ts are read (book_at).
-- Invariant: equals fill_cost_for(NULL, NULL, NULL, ts, taker_side, quantity); no look-ahead.
CREATE OR REPLACE MACRO fill_cost(ts, taker_side, quantity) AS TABLE
SELECT *
FROM fill_cost_for(
    NULL,
    CAST(timezone('UTC', CAST(ts AS TIMESTAMPTZ)) AS DATE) - 3,
    CAST(timezone('UTC', CAST(ts AS TIMESTAMPTZ)) AS DATE) + 3,
    ts,
    taker_side := taker_side,
    quantity := quantity
);
