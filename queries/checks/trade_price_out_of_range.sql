-- check: trade_price_out_of_range
-- level: error
-- Invariant: every trade's yes_price and no_price is present and strictly between 0 and 1
-- dollars (Kalshi trades at 1 to 99 cents, or finer ticks, never at 0 or 1).
SELECT t.trade_id, t.market_ticker, t.traded_at, t.yes_price, t.no_price
FROM trades_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS t
WHERE t.yes_price IS NULL OR t.yes_price <= 0 OR t.yes_price >= 1
   OR t.no_price IS NULL OR t.no_price <= 0 OR t.no_price >= 1
ORDER BY t.market_ticker, t.traded_at, t.trade_id;
