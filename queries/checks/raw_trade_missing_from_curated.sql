-- check: raw_trade_missing_from_curated
-- level: error
-- Invariant: nothing fetched is lost: every trade_id inside a raw trades page (parsed from the
-- stored JSON bodies with DuckDB's json functions) is in curated trades.
-- Cost: the raw side streams. Each page's trades are unnested in the select list (a lateral
-- join over the page rows would carry every page's body along with each of its trades: 15 GB
-- of spill for 1M trades), only trade_id and ticker are parsed, and the anti join on trade_id
-- comes before any grouping, so only the missing trades (none, on a healthy lake) are grouped.
WITH raw AS (
    SELECT
        p.city,
        p.date,
        unnest(
            from_json(p.body, '{"trades": [{"trade_id": "VARCHAR", "ticker": "VARCHAR"}]}').trades,
            recursive := true
        )
    FROM raw_pages_in('trades', getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS p
    WHERE p.http_status = 200 AND json_valid(p.body)
),
missing AS (
    SELECT raw.trade_id, raw.ticker, raw.city, raw.date
    FROM raw
    ANTI JOIN trades_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS t ON t.trade_id = raw.trade_id
)
SELECT trade_id, min(ticker) AS market_ticker, min(city) AS city, min(date) AS date,
       count(*) AS pages
FROM missing
GROUP BY trade_id
ORDER BY city, date, market_ticker, trade_id;
