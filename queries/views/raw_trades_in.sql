-- macro: raw_trades_in(city := NULL, start_date := NULL, end_date := NULL)
-- Every trade object inside the raw trades pages (GET /markets/trades and /historical/trades),
-- parsed from the stored bodies with DuckDB's json functions: trade_id, ticker, created_time
-- and the page it came from. Pages whose body is not valid JSON, or not a 200, are skipped
-- (the transform reports those). Used by the check that nothing fetched was lost.
-- Invariant: one row per trade object per page (duplicates across re-pulled pages are kept).
CREATE OR REPLACE MACRO raw_trades_in(city := NULL, start_date := NULL, end_date := NULL) AS TABLE
SELECT
    p.city,
    p.date,
    p.tier,
    p.fetched_at,
    p.run_id,
    p.page_number,
    t.trade_id,
    t.ticker AS market_ticker,
    t.created_time
FROM (
    SELECT *
    FROM raw_pages_in('trades', city, start_date, end_date) AS r
    WHERE r.http_status = 200 AND json_valid(r.body)
) AS p,
    unnest(
        from_json(
            p.body, '{"trades": [{"trade_id": "VARCHAR", "ticker": "VARCHAR", "created_time": "VARCHAR"}]}'
        ).trades
    ) AS u(t);
