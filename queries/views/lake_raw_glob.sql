-- macro: lake_raw_glob(folder, city, start_date, end_date)
-- The glob of the raw layer's files that the raw macros read or list:
-- raw/<folder>/city=<city>/date=<day>/*.parquet for a folder (or a glob of folders), a city
-- folder (every city when NULL) and only the days near [start_date, end_date] (every day when
-- a bound is NULL; see lake_range_glob), so DuckDB lists those few partitions, never the whole
-- raw layer. The exact range is the caller's filter on the date.
-- Invariant: every file of a partition city=C/date=D with D in the range matches.
CREATE OR REPLACE MACRO lake_raw_glob(folder, city, start_date, end_date) AS (
    lake_root() || '/raw/' || folder || '/city=' || coalesce(city, '*') || '/date='
        || lake_range_glob(
            strftime(CAST(start_date AS DATE), '%Y-%m-%d'),
            strftime(CAST(end_date AS DATE), '%Y-%m-%d')
        )
        || '/*.parquet'
);
