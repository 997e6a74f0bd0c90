-- view: raw_pages
-- Every raw API page of the lake (README, The lake), all endpoints, cities and dates, with the Hive
-- keys city and date. Raw partitions are daily and numerous: for anything but a small lake
-- prefer raw_pages_in(endpoint, city, start_date, end_date), which lists only those folders.
-- Invariant: the columns are kalshi_lake.lake.raw.RAW_SCHEMA plus city and date.
CREATE OR REPLACE VIEW raw_pages AS
SELECT *
FROM raw_pages_in();
