-- check: market_trades_without_api_candles
-- level: error
-- Invariant: a market with trades has api candles (Kalshi emits a 1m candle for every minute
-- with a trade), so a market with trades and no api candle at all lost its candle fetch.
SELECT t.market_ticker, t.city, t.date, count(*) AS trades,
       min(t.traded_at) AS first_trade_at, max(t.traded_at) AS last_trade_at
FROM trades_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS t
ANTI JOIN (
    SELECT DISTINCT k.market_ticker
    FROM candles_1m_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS k
    WHERE k.source = 'api'
) AS a ON a.market_ticker = t.market_ticker
GROUP BY ALL
ORDER BY t.city, t.date, t.market_ticker;
