-- view: book_snapshots
-- The full order books of followed markets (README, Tables): exchange snapshots ('ws'), REST polls
-- ('rest'), the replayed book every 5 minutes of receive time ('cadence') and 'unknown' markers,
-- every city and month of the lake, with the Hive keys city and month.
-- Invariant: the columns are exactly kalshi_lake.schemas plus city and month.
CREATE OR REPLACE VIEW book_snapshots AS
SELECT *
FROM book_snapshots_in();
