-- macro: report_files_in(city := NULL, start_date := NULL, end_date := NULL)
-- The daily-report files `kalshi-lake reconcile` stored, from their names alone (a listing, no
-- file is read): per city, New York report day, kind ('market_data', 'trade_data'), family and
-- the first 8 hex digits of the file's ETag. A report file that kept no row of a family is
-- still stored, empty, so a (city, date, kind, family) without a file was not published (or
-- not fetched) yet: that is what makes a day pending (when a reconcile asked for it,
-- report_unpublished_in). A name without a family (none is written so) stands for every
-- family. The unpublished.* markers are not report files and are left out.
-- Invariant: one row per stored file; city and date from the path.
CREATE OR REPLACE MACRO report_files_in(city := NULL, start_date := NULL, end_date := NULL)
AS TABLE
WITH named AS (
    SELECT
        regexp_extract(
            g.file,
            'raw/daily_reports/city=([^/]+)/date=([0-9]{4}-[0-9]{2}-[0-9]{2})/([a-z_]+)[.]([0-9A-Za-z]+)(?:[.]([a-z]+))?[.]parquet$',
            ['city', 'date', 'kind', 'etag8', 'family']
        ) AS k
    FROM glob(
        lake_root() || '/raw/daily_reports/city=' || coalesce(city, '*') || '/date='
            || lake_range_glob(
                strftime(CAST(start_date AS DATE), '%Y-%m-%d'),
                strftime(CAST(end_date AS DATE), '%Y-%m-%d')
            )
            || '/*.parquet'
    ) AS g
)
SELECT
    n.k.city AS city,
    CAST(n.k.date AS DATE) AS date,
    n.k.kind AS kind,
    n.k.etag8 AS etag8,
    nullif(n.k.family, '') AS family
FROM named AS n
WHERE n.k.date <> ''
  AND n.k.kind IN ('market_data', 'trade_data')
  AND (start_date IS NULL OR CAST(n.k.date AS DATE) >= CAST(start_date AS DATE))
  AND (end_date IS NULL OR CAST(n.k.date AS DATE) <= CAST(end_date AS DATE));
