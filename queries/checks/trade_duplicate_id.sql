-- check: trade_duplicate_id
-- level: error
-- Invariant: curated trades hold one row per trade_id, never two (README, The lake); the transform
-- dedups re-pulled pages. Offending rows: each trade_id stored more than once, how many
-- copies, and the partitions holding them.
-- Cost: the ids stored twice are found first with a plain count per trade_id; the details
-- (a DISTINCT aggregate, DuckDB's slow path) are computed for those few ids only.
WITH dup AS (
    SELECT t.trade_id
    FROM trades_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS t
    GROUP BY t.trade_id
    HAVING count(*) > 1
)
SELECT
    t.trade_id,
    count(*) AS copies,
    min(t.market_ticker) AS market_ticker,
    string_agg(DISTINCT t.city || '/' || t.month, ', ') AS partitions
FROM trades_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS t
SEMI JOIN dup ON dup.trade_id = t.trade_id
GROUP BY t.trade_id
ORDER BY copies DESC, t.trade_id;
