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
SELECT n.city, n.date, n.kind, n.etag8, n.family
FROM report_names_in(city, start_date, end_date) AS n
WHERE NOT n.unpublished;
