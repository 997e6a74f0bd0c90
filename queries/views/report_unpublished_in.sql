-- macro: report_unpublished_in(city := NULL, start_date := NULL, end_date := NULL)
-- The daily-report files a `kalshi-lake reconcile` asked for and found not published yet, from
-- the names of their empty markers (a listing, no file is read):
-- raw/daily_reports/city=<city>/date=<report day>/unpublished.<kind>.<family>.parquet. Per city,
-- New York report day, kind ('market_data', 'trade_data') and family. A marker stays once the
-- file is published: the stored file (report_files_in) then decides.
-- Invariant: one row per marker; city and date from the path.
CREATE OR REPLACE MACRO report_unpublished_in(city := NULL, start_date := NULL, end_date := NULL)
AS TABLE
SELECT n.city, n.date, n.kind, n.family
FROM report_names_in(city, start_date, end_date) AS n
WHERE n.unpublished;
