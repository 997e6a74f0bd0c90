-- macro: report_rows_in(city := NULL, start_date := NULL, end_date := NULL)
-- The rows kept from Kalshi's public daily reports (the market_data and trade_data files of
-- the kalshi-public-docs bucket, https://docs.kalshi.com), as `kalshi-lake reconcile` stores
-- them under raw/daily_reports/city=<city>/date=<report day>/<kind>.<etag8>.<family>.parquet:
-- one row per report row of the city's series of that family, verbatim (body), with its
-- provenance (source_key, etag, fetched_at, row_no: the row's place in the file's array).
-- Every ETag of a file that was fetched is kept; report_market_days_in and report_trades_in
-- read the newest one. The report day is the New York calendar day. A range without files is
-- an error of read_parquet: pass no dates and filter on date when a window may be empty.
-- Invariant: city and date come from the path; columns are cast to fixed types here, so the
-- readers above never depend on how a file typed them.
CREATE OR REPLACE MACRO report_rows_in(city := NULL, start_date := NULL, end_date := NULL)
AS TABLE
SELECT
    CAST(r.kind AS VARCHAR) AS kind,
    CAST(r.report_date AS DATE) AS report_date,
    CAST(r.source_key AS VARCHAR) AS source_key,
    CAST(r.etag AS VARCHAR) AS etag,
    CAST(r.fetched_at AS TIMESTAMPTZ) AS fetched_at,
    CAST(r.row_no AS BIGINT) AS row_no,
    CAST(r.ticker_name AS VARCHAR) AS ticker_name,
    CAST(r.report_ticker AS VARCHAR) AS report_ticker,
    CAST(r.family AS VARCHAR) AS family,
    CAST(r.body AS VARCHAR) AS body,
    r.city,
    r.date
FROM read_parquet(
    lake_raw_glob('daily_reports', city, start_date, end_date),
    hive_partitioning = true,
    hive_types = {'city': VARCHAR, 'date': DATE},
    union_by_name = true
) AS r
WHERE (start_date IS NULL OR r.date >= CAST(start_date AS DATE))
  AND (end_date IS NULL OR r.date <= CAST(end_date AS DATE));
