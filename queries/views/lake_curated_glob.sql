-- macro: lake_curated_glob(tbl, city, start_date, end_date)
-- The glob of curated table tbl's files that lake_curated_in and lake_indexed_in read: the city
-- folder (every city when NULL) and only the months near [start_date, end_date] (every month
-- when a bound is NULL; see lake_range_glob), so DuckDB lists that city's few partitions, never
-- the whole lake.
-- Invariant: every file of a partition city=C/month=M with M in the range's months matches.
CREATE OR REPLACE MACRO lake_curated_glob(tbl, city, start_date, end_date) AS (
    lake_root() || '/curated/' || tbl || '/city=' || coalesce(city, '*') || '/month='
        || lake_range_glob(
            strftime(CAST(start_date AS DATE), '%Y-%m'), strftime(CAST(end_date AS DATE), '%Y-%m')
        )
        || '/*.parquet'
);
