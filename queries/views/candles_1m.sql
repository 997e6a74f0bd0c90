-- view: candles_1m
-- The curated one-minute candles (source 'api' from Kalshi, 'trades' built from our trades), every city and month of the lake (README, The lake), with the Hive keys
-- city and month. Filters on city and month prune partitions; for the fastest one-city reads
-- use candles_1m_in(city, start_date, end_date), which also avoids listing other cities' folders.
-- Invariant: the columns are exactly kalshi_lake.schemas plus city and month.
CREATE OR REPLACE VIEW candles_1m AS
SELECT *
FROM candles_1m_in();
