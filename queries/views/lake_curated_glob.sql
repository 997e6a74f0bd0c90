-- macro: lake_curated_glob(tbl, city, start_date, end_date)
-- The glob of curated table tbl's files that lake_curated_in and lake_indexed_in read: the city
-- folder (every city when NULL) and only the months near [start_date, end_date] (every month
-- when a bound is NULL; see lake_range_glob), so DuckDB lists that city's few partitions, never
-- the whole lake. Except for the tables only `follow` fills (market_events, book_deltas,
-- book_snapshots, quotes): their glob is every file of the table, and the callers filter city,
-- month and date. Those tables cover only the cities and months that were followed, and DuckDB
-- fails a read whose glob matches no file ("No files found"), so a narrow glob would make
-- decision_quotes_for at other instants, book_at_for or fill_cost_for fail for a city or a
-- range that was never followed instead of giving it no book. connect() registers them only
-- on a lake that has some of their files, so this glob always matches; their files are few
-- (followed cities x months), and with the partition index DuckDB prunes them by path alone.
-- Invariant: every file of a partition city=C/month=M with M in the range's months matches.
CREATE OR REPLACE MACRO lake_curated_glob(tbl, city, start_date, end_date) AS (
    lake_root() || '/curated/' || tbl || '/city='
        || CASE
            WHEN tbl IN ('market_events', 'book_deltas', 'book_snapshots', 'quotes') THEN '*/month=*'
            ELSE coalesce(city, '*') || '/month=' || lake_range_glob(
                strftime(CAST(start_date AS DATE), '%Y-%m'),
                strftime(CAST(end_date AS DATE), '%Y-%m')
            )
        END
        || '/*.parquet'
);
