-- macro: report_trades_in(city := NULL, start_date := NULL, end_date := NULL)
-- Kalshi's daily trade_data report, parsed: one row per report row of the file in force
-- (report_latest_in). The report has no trade id and no taker side; a trade is its market,
-- second (create_ts, whole seconds, as a UTC instant), YES price (cents -> PRICE dollars) and
-- contracts (COUNT). Identical rows occur (two trades in one second at one price and size):
-- they are kept, and compared by count.
-- Invariant: traded_second has no sub-second part; report_date is the row's New York day.
CREATE OR REPLACE MACRO report_trades_in(city := NULL, start_date := NULL, end_date := NULL)
AS TABLE
SELECT
    r.city,
    r.date AS report_date,
    r.ticker_name AS market_ticker,
    r.report_ticker AS series_ticker,
    date_trunc('second', report_ts(json_extract_string(r.body, '$.create_ts'))) AS traded_second,
    report_cents(r.body, 'price') AS price,
    CAST(report_number(r.body, 'contracts_traded') AS DECIMAL(18, 2)) AS contracts,
    r.source_key,
    r.etag,
    r.fetched_at,
    r.row_no
FROM report_latest_in(city, start_date, end_date, 'trade_data') AS r;
