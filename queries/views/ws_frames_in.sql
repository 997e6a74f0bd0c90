-- macro: ws_frames_in(city := NULL, start_date := NULL, end_date := NULL)
-- WebSocket frames as the live recorder keeps them (README, The lake: raw/ws, one row per frame
-- in either direction and per recorder event, body byte for byte) of one city (or all, including
-- city '_connection': commands, acks and connection events) and an inclusive range of partition
-- dates (the market's climate date; the UTC receive date under '_connection'). A frame may be
-- present twice while an hour is being compacted: conn_id + frame_no is its identity, dedup on it.
-- A range without files is an error of read_parquet (no files found): to read a window that may
-- be empty, pass no dates and filter on the date column, which DuckDB applies to the file list.
-- Invariant: the columns are kalshi_lake.lake.raw.FRAME_SCHEMA plus city and date, from the path.
CREATE OR REPLACE MACRO ws_frames_in(city := NULL, start_date := NULL, end_date := NULL) AS TABLE
SELECT *
FROM read_parquet(
    lake_raw_glob('ws', city, start_date, end_date),
    hive_partitioning = true,
    hive_types = {'city': VARCHAR, 'date': DATE},
    union_by_name = true
)
WHERE (start_date IS NULL OR date >= CAST(start_date AS DATE))
  AND (end_date IS NULL OR date <= CAST(end_date AS DATE));
