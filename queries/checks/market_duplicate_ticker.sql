-- check: market_duplicate_ticker
-- level: error
-- Invariant: the markets table holds one row per market_ticker (its latest known state).
SELECT m.market_ticker, count(*) AS copies,
       string_agg(DISTINCT m.city || '/' || m.month, ', ') AS partitions
FROM markets_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS m
GROUP BY m.market_ticker
HAVING count(*) > 1
ORDER BY m.market_ticker;
