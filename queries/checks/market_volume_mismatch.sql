-- check: market_volume_mismatch
-- level: warn
-- Invariant: for a settled market, the market's reported lifetime volume equals the sum of its
-- trades' counts; a shortfall points at trades that were never fetched.
WITH tv AS (
    SELECT t.market_ticker, sum(t.count) AS volume
    FROM trades_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS t
    GROUP BY t.market_ticker
)
SELECT m.market_ticker, m.city, m.date, m.volume AS market_volume,
       coalesce(tv.volume, 0) AS trade_volume
FROM markets_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS m
LEFT JOIN tv ON tv.market_ticker = m.market_ticker
WHERE m.status IN ('finalized', 'settled', 'determined', 'amended')
  AND m.volume IS DISTINCT FROM coalesce(tv.volume, 0)
ORDER BY m.city, m.date, m.market_ticker;
