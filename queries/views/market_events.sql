-- view: market_events
-- The lifecycle frames of followed markets recorded by `kalshi-lake follow` (README, Tables),
-- one row per frame, every city and month of the lake, with the Hive keys city and month.
-- Invariant: the columns are exactly kalshi_lake.schemas plus city and month.
CREATE OR REPLACE VIEW market_events AS
SELECT *
FROM market_events_in();
