-- check: trade_duplicate_id
-- level: error
-- Invariant: curated trades hold one row per trade_id, never two (README, The lake); the transform
-- dedups re-pulled pages. Offending rows: each trade_id stored more than once, how many
-- copies, and the partitions holding them.
SELECT
    t.trade_id,
    count(*) AS copies,
    min(t.market_ticker) AS market_ticker,
    string_agg(DISTINCT t.city || '/' || t.month, ', ') AS partitions
FROM trades_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS t
GROUP BY t.trade_id
HAVING count(*) > 1
ORDER BY copies DESC, t.trade_id;
