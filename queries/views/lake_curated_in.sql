-- macro: lake_curated_in(tbl, city := NULL, start_date := NULL, end_date := NULL)
-- The rows of curated table tbl ('markets', 'trades', 'candles_1m', 'candles_5m', 'market_events',
-- 'book_deltas', 'book_snapshots', 'quotes') for one city
-- (or all) and an inclusive range of event climate dates (or all): the body of the *_in source
-- macros. The glob (lake_curated_glob) names the city folder and only the months near the range,
-- so DuckDB lists and reads that city's few partitions, never the whole lake; the city, the exact
-- month and date bounds are then applied as filters (city and month are Hive keys, date a column;
-- the tables only `follow` fills are globbed whole, see lake_curated_glob). Read with
-- explicit Hive types and union_by_name so a column added later never silently disappears.
-- union_by_name reads the footer of every file the glob lists when a query is bound, before a
-- filter can prune one: cheap for a scoped call, not for the plain views over a big lake, so a
-- table whose files the partition index vouches for reads through lake_indexed_in instead.
-- Invariant: rows of partition city=C/month=M have strftime(date, '%Y-%m') = M.
CREATE OR REPLACE MACRO lake_curated_in(tbl, city := NULL, start_date := NULL, end_date := NULL)
AS TABLE
SELECT *
FROM read_parquet(
    lake_curated_glob(tbl, city, start_date, end_date),
    hive_partitioning = true,
    hive_types = {'city': VARCHAR, 'month': VARCHAR},
    union_by_name = true
) AS t
WHERE (city IS NULL OR t.city = city)
  AND (start_date IS NULL OR month >= strftime(CAST(start_date AS DATE), '%Y-%m'))
  AND (end_date IS NULL OR month <= strftime(CAST(end_date AS DATE), '%Y-%m'))
  AND (start_date IS NULL OR date >= CAST(start_date AS DATE))
  AND (end_date IS NULL OR date <= CAST(end_date AS DATE));
