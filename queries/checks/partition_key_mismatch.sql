-- check: partition_key_mismatch
-- level: error
-- Invariant: every curated row sits in the partition of its own event: month =
-- strftime(date, '%Y-%m') and the city folder is the city whose series of any family (high,
-- low) or legacy prefix starts the event ticker. Pruning by city and month is only correct if
-- this holds.
WITH rows_ AS (
    SELECT 'markets' AS tbl, m.market_ticker, m.event_ticker, m.city, m.month, m.date
    FROM markets_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS m
    UNION ALL
    SELECT 'trades', t.market_ticker, t.event_ticker, t.city, t.month, t.date
    FROM trades_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS t
    UNION ALL
    SELECT 'candles_1m', k.market_ticker, k.event_ticker, k.city, k.month, k.date
    FROM candles_1m_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS k
    UNION ALL
    SELECT 'candles_5m', k.market_ticker, k.event_ticker, k.city, k.month, k.date
    FROM candles_5m_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS k
)
SELECT r.tbl, r.city, r.month, r.date, r.market_ticker, r.event_ticker, count(*) AS rows
FROM rows_ AS r
LEFT JOIN cities AS c ON c.city = r.city
WHERE r.date IS NULL
   OR r.month <> strftime(r.date, '%Y-%m')
   OR c.city IS NULL
   OR split_part(coalesce(r.event_ticker, r.market_ticker), '-', 1)
      NOT IN (c.series_ticker, coalesce(c.legacy_prefix, c.series_ticker),
              coalesce(c.low_series_ticker, c.series_ticker))
GROUP BY ALL
ORDER BY r.tbl, r.city, r.month, r.market_ticker;
