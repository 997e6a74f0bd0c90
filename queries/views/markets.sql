-- view: markets
-- The curated markets, one row per market ticker with its latest known state, every city and month of the lake (README, The lake), with the Hive keys
-- city and month. Filters on city and month prune partitions; for the fastest one-city reads
-- use markets_in(city, start_date, end_date), which also avoids listing other cities' folders.
-- Invariant: the columns are exactly kalshi_lake.schemas plus city and month.
CREATE OR REPLACE VIEW markets AS
SELECT *
FROM markets_in();
