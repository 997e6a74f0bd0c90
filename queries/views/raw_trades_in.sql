-- macro: raw_trades_in(city := NULL, start_date := NULL, end_date := NULL)
-- Every trade object inside the raw trades pages (GET /markets/trades and /historical/trades),
-- parsed from the stored bodies with DuckDB's json functions: trade_id, ticker, created_time
-- and the page it came from. Pages whose body is not valid JSON, or not a 200, are skipped
-- (the transform reports those). Used by the check that nothing fetched was lost.
-- Invariant: one row per trade object per page (duplicates across re-pulled pages are kept).
-- Cost: each page's trades are unnested in the select list, so the page body is dropped as soon
-- as it is parsed (a lateral join would carry every body along with each of its trades and
-- spill gigabytes on a big lake).
CREATE OR REPLACE MACRO raw_trades_in(city := NULL, start_date := NULL, end_date := NULL) AS TABLE
SELECT
    p.city,
    p.date,
    p.tier,
    p.fetched_at,
    p.run_id,
    p.page_number,
    p.t.trade_id,
    p.t.ticker AS market_ticker,
    p.t.created_time
FROM (
    SELECT
        r.city,
        r.date,
        r.tier,
        r.fetched_at,
        r.run_id,
        r.page_number,
        unnest(
            from_json(
                r.body, '{"trades": [{"trade_id": "VARCHAR", "ticker": "VARCHAR", "created_time": "VARCHAR"}]}'
            ).trades
        ) AS t
    FROM raw_pages_in('trades', city, start_date, end_date) AS r
    WHERE r.http_status = 200 AND json_valid(r.body)
) AS p;
