-- macro: report_names_in(city := NULL, start_date := NULL, end_date := NULL)
-- Every file `kalshi-lake reconcile` left under raw/daily_reports, from its name alone (a
-- listing, no file is read: lake_raw_files_in): the stored report files
-- <kind>.<etag8>[.<family>].parquet and the empty markers unpublished.<kind>.<family>.parquet
-- of files asked for and not published yet. Per city, New York report day, kind, whether it is
-- a marker, the ETag's first 8 hex digits (NULL for a marker) and the family (NULL: a stored
-- name without one stands for every family).
-- report_files_in and report_unpublished_in are its two halves.
-- Invariant: one row per file of a known kind; city and date from the path.
CREATE OR REPLACE MACRO report_names_in(city := NULL, start_date := NULL, end_date := NULL)
AS TABLE
WITH named AS (
    SELECT
        f.city,
        f.date,
        regexp_extract(
            f.name,
            '^(unpublished[.])?([a-z_]+)[.]([0-9A-Za-z]+)(?:[.]([a-z]+))?$',
            ['marker', 'kind', 'tag', 'family']
        ) AS k
    FROM lake_raw_files_in('daily_reports', city, start_date, end_date) AS f
)
SELECT
    n.city,
    n.date,
    n.k.kind AS kind,
    n.k.marker <> '' AS unpublished,
    -- a marker's second part is its family; a stored file's is its ETag
    CASE WHEN n.k.marker = '' THEN n.k.tag END AS etag8,
    CASE WHEN n.k.marker = '' THEN nullif(n.k.family, '') ELSE n.k.tag END AS family
FROM named AS n
WHERE n.k.kind IN ('market_data', 'trade_data')
  AND (n.k.marker = '' OR n.k.family = '');
