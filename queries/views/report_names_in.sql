-- macro: report_names_in(city := NULL, start_date := NULL, end_date := NULL)
-- Every file `kalshi-lake reconcile` left under raw/daily_reports, from its name alone (a
-- listing, no file is read): the stored report files <kind>.<etag8>[.<family>].parquet and the
-- empty markers unpublished.<kind>.<family>.parquet of files asked for and not published yet.
-- Per city, New York report day, kind, whether it is a marker, the ETag's first 8 hex digits
-- (NULL for a marker) and the family (NULL: a stored name without one stands for every family).
-- report_files_in and report_unpublished_in are its two halves.
-- Invariant: one row per file of a known kind; city and date from the path.
CREATE OR REPLACE MACRO report_names_in(city := NULL, start_date := NULL, end_date := NULL)
AS TABLE
WITH named AS (
    SELECT
        regexp_extract(
            g.file,
            'raw/daily_reports/city=([^/]+)/date=([0-9]{4}-[0-9]{2}-[0-9]{2})/(unpublished[.])?([a-z_]+)[.]([0-9A-Za-z]+)(?:[.]([a-z]+))?[.]parquet$',
            ['city', 'date', 'marker', 'kind', 'tag', 'family']
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
    n.k.marker <> '' AS unpublished,
    -- a marker's second part is its family; a stored file's is its ETag
    CASE WHEN n.k.marker = '' THEN n.k.tag END AS etag8,
    CASE WHEN n.k.marker = '' THEN nullif(n.k.family, '') ELSE n.k.tag END AS family
FROM named AS n
WHERE n.k.date <> ''
  AND n.k.kind IN ('market_data', 'trade_data')
  AND (n.k.marker = '' OR n.k.family = '')
  AND (start_date IS NULL OR CAST(n.k.date AS DATE) >= CAST(start_date AS DATE))
  AND (end_date IS NULL OR CAST(n.k.date AS DATE) <= CAST(end_date AS DATE));
