-- check: trade_outside_market_window
-- level: error
-- Invariant: every trade happened while its market was open:
-- open_time <= traded_at <= close_time of the market (from the markets table).
SELECT t.trade_id, t.market_ticker, t.traded_at, m.open_time, m.close_time
FROM trades_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS t
JOIN markets_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS m ON m.market_ticker = t.market_ticker
WHERE t.traded_at < m.open_time OR t.traded_at > m.close_time
ORDER BY t.market_ticker, t.traded_at, t.trade_id;
