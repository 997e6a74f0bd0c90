-- macro: decision_points_in(city := NULL, start_date := NULL, end_date := NULL)
-- The decision rows at the default instants (D-1 10:00 and D 10:00, city-local) of one city (or
-- all) and an inclusive range of event climate dates (or all), in the columns of
-- decision_points_computed_for: read from the curated decision_points table, which the
-- transform writes with that very macro. connect() reads the table only when the partition
-- index vouches for it and for every table it is computed from, and every (city, month) with
-- markets has it; otherwise (an older lake, a lake written by hand or by a generator without
-- the table, a file that is not what the index recorded) this macro IS
-- decision_points_computed_for(city, start_date, end_date). Why: planning the computed form
-- lists and prunes every file of markets, candles_1m, trades and the book tables (~10-15 ms per
-- table on the 10M-trade benchmark lake) and executing it reads a city's candles and trades;
-- the table is one small file per partition.
-- Invariant: the same rows and columns as decision_points_computed_for(city, start_date,
-- end_date).
CREATE OR REPLACE MACRO decision_points_in(city := NULL, start_date := NULL, end_date := NULL)
AS TABLE
SELECT
    d.market_ticker,
    d.event_ticker,
    d.family,
    d.date,
    d.decision_label,
    d.decision_at,
    d.yes_bid,
    d.yes_ask,
    d.mid,
    d.quote_at,
    d.quote_age,
    d.last_trade_price,
    d.last_trade_at,
    d.last_trade_age,
    d.result,
    d.settlement_value,
    d.status,
    d.strike_type,
    d.floor_strike,
    d.cap_strike,
    d.low_f,
    d.high_f,
    d.yes_sub_title,
    d.open_time,
    d.close_time,
    d.book_as_of,
    d.book_source,
    d.book_asks,
    d.book_bids,
    d.city,
    d.month
FROM lake_curated_in('decision_points', city := city, start_date := start_date, end_date := end_date) AS d;
