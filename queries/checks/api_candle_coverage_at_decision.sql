-- check: api_candle_coverage_at_decision
-- level: error
-- Invariant: at every decision instant (D-1 10:00 and D 10:00 city-local) that has passed, at
-- which the market had been open for at least a minute, the lake holds an api 1m candle that
-- ended at or before the instant, so decision_quotes has a quote. Kalshi emits a candle as soon
-- as a market lists with quotes, so a miss means candles were not fetched for that stretch (a
-- window started late, a lost page), not a quiet book.
-- An instant counts only when the market opened before it, by at least the first candle's
-- minute: an instant at or before the open has no book yet, so it is not missing data. That is
-- every Eastern-time city's D-1 10:00, which is its markets' listing instant (10:00 ET).
-- "Passed" is judged against the data itself, not only the clock: an instant counts when it is
-- at or before the check's as-of time (default now) and at or before what the lake has seen of
-- the market (its close once closed or settled, else the end of its last api candle). So a
-- lake fetched by a simulator or a while ago never fails for instants it could not have seen.
-- The quotes are decision_points_in's (the decision_points table where it is current, else the
-- same rows computed): the default instants are this check's instants, and computing them over
-- the whole lake on every report cost ~5 s on the 20-city, 365-day benchmark lake (0.4 s read).
-- Markets with no api candle at all are left to market_trades_without_api_candles (they had
-- trades) and market_volume_mismatch (their market-scoped data was never fetched, e.g. an
-- event just outside a backfill's date range that came with a market listing).
WITH horizon AS (
    SELECT k.market_ticker, max(k.bucket_start) + INTERVAL 1 MINUTE AS last_candle_end
    FROM candles_1m_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS k
    WHERE k.source = 'api'
    GROUP BY k.market_ticker
)
SELECT q.market_ticker, q.family, q.city, q.date, q.decision_label, q.decision_at, q.open_time,
       q.status, h.last_candle_end
FROM decision_points_in(getvariable('check_city'), getvariable('check_start'), getvariable('check_end')) AS q
JOIN horizon AS h ON h.market_ticker = q.market_ticker
WHERE q.decision_at <= coalesce(CAST(getvariable('check_as_of') AS TIMESTAMPTZ), now())
  AND q.decision_at >= q.open_time + INTERVAL 1 MINUTE  -- open before it, by a minute
  AND q.decision_at <= q.close_time
  AND q.decision_at <= CASE
        WHEN q.status IN ('closed', 'finalized', 'settled', 'determined', 'amended')
            THEN q.close_time
        ELSE h.last_candle_end
      END
  AND q.quote_at IS NULL
ORDER BY q.city, q.date, q.market_ticker, q.decision_at;
