-- check: trade_candle_volume_mismatch
-- level: error
-- Invariant: per market, the candles built from our trades (source 'trades', 1m and 5m) carry
-- exactly the trades' volume (sum of count) and trade count; both come from the same curated
-- trades, so any difference is a transform bug or a stale partition.
WITH tv AS (
    SELECT t.market_ticker, sum(t.count) AS volume, count(*) AS n
    FROM trades_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS t
    GROUP BY t.market_ticker
),
c1 AS (
    SELECT k.market_ticker, sum(k.volume) AS volume, sum(k.trade_count) AS n
    FROM candles_1m_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS k
    WHERE k.source = 'trades'
    GROUP BY k.market_ticker
),
c5 AS (
    SELECT k.market_ticker, sum(k.volume) AS volume, sum(k.trade_count) AS n
    FROM candles_5m_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS k
    WHERE k.source = 'trades'
    GROUP BY k.market_ticker
)
SELECT
    coalesce(tv.market_ticker, c1.market_ticker, c5.market_ticker) AS market_ticker,
    tv.volume AS trade_volume,
    c1.volume AS candles_1m_volume,
    c5.volume AS candles_5m_volume,
    tv.n AS trades,
    c1.n AS candles_1m_trades,
    c5.n AS candles_5m_trades
FROM tv
FULL JOIN c1 ON c1.market_ticker = tv.market_ticker
FULL JOIN c5 ON c5.market_ticker = coalesce(tv.market_ticker, c1.market_ticker)
WHERE tv.volume IS DISTINCT FROM c1.volume
   OR tv.volume IS DISTINCT FROM c5.volume
   OR tv.n IS DISTINCT FROM c1.n
   OR tv.n IS DISTINCT FROM c5.n
ORDER BY market_ticker;
