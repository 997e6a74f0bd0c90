-- macro: report_market_days_in(city := NULL, start_date := NULL, end_date := NULL)
-- Kalshi's daily market_data report, parsed: one row per market and report day (the New York
-- calendar day) of the file in force (report_latest_in). Prices in cents become PRICE dollars
-- (DECIMAL(10,6)), counts COUNT (DECIMAL(18,2)), whether the file wrote numbers as strings
-- (2026) or integers (before).
-- Invariant: one row per (city, report_date, market_ticker) unless the report itself repeats a
-- market (then every row is kept, and the reconciliation compares their sums).
CREATE OR REPLACE MACRO report_market_days_in(city := NULL, start_date := NULL, end_date := NULL)
AS TABLE
SELECT
    r.city,
    r.date AS report_date,
    r.ticker_name AS market_ticker,
    r.report_ticker AS series_ticker,
    CAST(report_number(r.body, 'open_interest') AS DECIMAL(18, 2)) AS open_interest,
    CAST(report_number(r.body, 'daily_volume') AS DECIMAL(18, 2)) AS daily_volume,
    CAST(report_number(r.body, 'block_volume') AS DECIMAL(18, 2)) AS block_volume,
    report_cents(r.body, 'high') AS high,
    report_cents(r.body, 'low') AS low,
    json_extract_string(r.body, '$.status') AS status,
    r.source_key,
    r.etag,
    r.fetched_at,
    r.row_no
FROM report_latest_in(city, start_date, end_date, 'market_data') AS r;
