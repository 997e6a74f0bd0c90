-- macro: lake_raw_files_in(folder, city := NULL, start_date := NULL, end_date := NULL)
-- The raw layer's files under raw/<folder> (a folder, or a glob of folders) of one city (or
-- all) and an inclusive range of partition dates (or all), from a listing alone (no file is
-- read, so it is cheap on any lake and on S3): per file its folder, city, date and name (the
-- file name without '.parquet'), parsed from the Hive path
-- raw/<folder>/city=<city>/date=<YYYY-MM-DD>/<name>.parquet. The macros that read meaning
-- into a raw file's name (report_names_in, fetched_days_in) parse only its name.
-- Invariant: one row per listed file of that path shape with its date in the range; city and
-- date come from the path.
CREATE OR REPLACE MACRO lake_raw_files_in(
    folder, city := NULL, start_date := NULL, end_date := NULL
)
AS TABLE
WITH parsed AS (
    SELECT
        regexp_extract(
            g.file,
            'raw/([^/]+)/city=([^/]+)/date=([0-9]{4}-[0-9]{2}-[0-9]{2})/([^/]+)[.]parquet$',
            ['folder', 'city', 'date', 'name']
        ) AS k
    FROM glob(lake_raw_glob(folder, city, start_date, end_date)) AS g
)
SELECT
    p.k.folder AS folder,
    p.k.city AS city,
    CAST(p.k.date AS DATE) AS date,
    p.k.name AS name
FROM parsed AS p
WHERE p.k.date <> ''
  AND (start_date IS NULL OR CAST(p.k.date AS DATE) >= CAST(start_date AS DATE))
  AND (end_date IS NULL OR CAST(p.k.date AS DATE) <= CAST(end_date AS DATE));
