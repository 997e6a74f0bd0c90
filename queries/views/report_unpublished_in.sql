-- macro: report_unpublished_in(city := NULL, start_date := NULL, end_date := NULL)
-- The daily-report files a `kalshi-lake reconcile` asked for and found not published yet, from
-- the names of their empty markers (a listing, no file is read):
-- raw/daily_reports/city=<city>/date=<report day>/unpublished.<kind>.<family>.parquet. Per city,
-- New York report day, kind ('market_data', 'trade_data') and family. A marker stays once the
-- file is published: the stored file (report_files_in) then decides.
-- Invariant: one row per marker; city and date from the path.
CREATE OR REPLACE MACRO report_unpublished_in(city := NULL, start_date := NULL, end_date := NULL)
AS TABLE
WITH named AS (
    SELECT
        regexp_extract(
            g.file,
            'raw/daily_reports/city=([^/]+)/date=([0-9]{4}-[0-9]{2}-[0-9]{2})/unpublished[.]([a-z_]+)[.]([a-z]+)[.]parquet$',
            ['city', 'date', 'kind', 'family']
        ) AS k
    FROM glob(
        lake_root() || '/raw/daily_reports/city=' || coalesce(city, '*') || '/date='
            || lake_range_glob(
                strftime(CAST(start_date AS DATE), '%Y-%m-%d'),
                strftime(CAST(end_date AS DATE), '%Y-%m-%d')
            )
            || '/unpublished.*.parquet'
    ) AS g
)
SELECT
    n.k.city AS city,
    CAST(n.k.date AS DATE) AS date,
    n.k.kind AS kind,
    n.k.family AS family
FROM named AS n
WHERE n.k.date <> ''
  AND (start_date IS NULL OR CAST(n.k.date AS DATE) >= CAST(start_date AS DATE))
  AND (end_date IS NULL OR CAST(n.k.date AS DATE) <= CAST(end_date AS DATE));
