-- view: quotes
-- Every change of the top of the order book of followed markets (README, Tables): best YES bid and
-- ask with their sizes, and is_known = false where the replayed book stops being known,
-- every city and month of the lake, with the Hive keys city and month.
-- Invariant: the columns are exactly kalshi_lake.schemas plus city and month.
CREATE OR REPLACE VIEW quotes AS
SELECT *
FROM quotes_in();
