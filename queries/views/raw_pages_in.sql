-- macro: raw_pages_in(endpoint := NULL, city := NULL, start_date := NULL, end_date := NULL)
-- Raw API pages (README, The lake: one row per HTTP response, body byte for byte) of one endpoint
-- folder (or all), one city (or all) and an inclusive range of partition dates (or all). The
-- partition date is the event's climate date for event- and market-scoped requests and the UTC
-- fetch date for listings. Raw partitions are daily, so naming the endpoint, city and date
-- range in the glob is what keeps DuckDB from listing the whole raw layer.
-- All endpoints means every folder but raw/ws (WebSocket frames) and raw/daily_reports (Kalshi's
-- daily reports), each its own schema: the glob '[!dw]*' skips them, so no REST endpoint folder
-- may start with a 'd' or a 'w' (tests pin it).
-- Invariant: city and date come from the path (Hive keys typed VARCHAR and DATE), never from
-- the file; endpoint equals the folder the page was written under.
CREATE OR REPLACE MACRO raw_pages_in(
    endpoint := NULL, city := NULL, start_date := NULL, end_date := NULL
) AS TABLE
SELECT *
FROM read_parquet(
    lake_raw_glob(coalesce(endpoint, '[!dw]*'), city, start_date, end_date),
    hive_partitioning = true,
    hive_types = {'city': VARCHAR, 'date': DATE},
    union_by_name = true
)
WHERE (start_date IS NULL OR date >= CAST(start_date AS DATE))
  AND (end_date IS NULL OR date <= CAST(end_date AS DATE));
