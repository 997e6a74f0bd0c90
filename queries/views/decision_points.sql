-- view: decision_points
-- The decision rows at the default instants (D-1 10:00 and D 10:00 city-local), one per market
-- and instant, every city and month of the lake (README, The lake): the as-of api quote, the last
-- trade, the market, and the order book as of the instant (book_as_of, book_source, book_asks,
-- book_bids; NULL where not known), with the Hive keys city and month. Read from the curated
-- decision_points table where it is current, else computed (see decision_points_in).
-- Invariant: the columns are exactly kalshi_lake.schemas plus city and month.
CREATE OR REPLACE VIEW decision_points AS
SELECT *
FROM decision_points_in();
