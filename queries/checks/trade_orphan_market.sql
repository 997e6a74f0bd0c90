-- check: trade_orphan_market
-- level: error
-- Invariant: every market that has trades is in the markets table (same city and event date
-- scope), so trades can be joined to their bracket, window and result.
SELECT t.market_ticker, t.event_ticker, t.city, t.date, count(*) AS trades
FROM trades_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS t
ANTI JOIN markets_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS m ON m.market_ticker = t.market_ticker
GROUP BY ALL
ORDER BY t.market_ticker;
