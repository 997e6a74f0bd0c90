-- check: market_volume_mismatch
-- level: warn
-- Invariant: for a settled market whose trades were fetched (at least one raw trades page names
-- it), the market's reported lifetime volume equals the sum of its trades' counts; a shortfall
-- points at trades that were never fetched. Markets that only appeared in a listing (an event
-- just outside the backfilled range) are not counted: nothing was asked for them.
WITH tv AS (
    SELECT t.market_ticker, sum(t.count) AS volume
    FROM trades_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS t
    GROUP BY t.market_ticker
),
walked AS (
    SELECT DISTINCT r.market_ticker
    FROM raw_pages_in('trades', getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS r
    WHERE r.market_ticker IS NOT NULL
)
SELECT m.market_ticker, m.family, m.city, m.date, m.volume AS market_volume,
       coalesce(tv.volume, 0) AS trade_volume
FROM markets_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS m
JOIN walked ON walked.market_ticker = m.market_ticker
LEFT JOIN tv ON tv.market_ticker = m.market_ticker
WHERE m.status IN ('finalized', 'settled', 'determined', 'amended')
  AND m.volume IS DISTINCT FROM coalesce(tv.volume, 0)
ORDER BY m.city, m.date, m.market_ticker;
