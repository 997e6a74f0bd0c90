-- view: candles_5m
-- The curated five-minute candles (api ones rolled up from the 1m api candles), every city and month of the lake (README, The lake), with the Hive keys
-- city and month. Filters on city and month prune partitions; for the fastest one-city reads
-- use candles_5m_in(city, start_date, end_date), which also avoids listing other cities' folders.
-- Invariant: the columns are exactly kalshi_lake.schemas plus city and month.
CREATE OR REPLACE VIEW candles_5m AS
SELECT *
FROM candles_5m_in();
