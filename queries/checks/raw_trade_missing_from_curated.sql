-- check: raw_trade_missing_from_curated
-- level: error
-- Invariant: nothing fetched is lost: every trade_id inside a raw trades page (parsed from the
-- stored JSON bodies with DuckDB's json functions) is in curated trades.
WITH raw AS (
    SELECT r.trade_id, min(r.market_ticker) AS market_ticker, min(r.city) AS city,
           min(r.date) AS date, count(*) AS pages
    FROM raw_trades_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS r
    GROUP BY r.trade_id
)
SELECT raw.trade_id, raw.market_ticker, raw.city, raw.date, raw.pages
FROM raw
ANTI JOIN trades_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS t ON t.trade_id = raw.trade_id
ORDER BY raw.city, raw.date, raw.market_ticker, raw.trade_id;
