-- check: trade_yes_no_sum
-- level: error
-- Invariant: on every trade yes_price + no_price = 1 exactly (the two legs of one contract,
-- https://docs.kalshi.com/api-reference/market/get-trades); anything else is a parsing or
-- scaling error.
SELECT t.trade_id, t.market_ticker, t.traded_at, t.yes_price, t.no_price,
       t.yes_price + t.no_price AS total
FROM trades_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS t
WHERE t.yes_price + t.no_price <> 1
ORDER BY t.market_ticker, t.traded_at, t.trade_id;
