-- macro: quotes_at(ts, city := NULL)
-- The as-of quotes of decision_quotes at any instant ts (TIMESTAMPTZ, or text such as
-- '2026-11-20 16:00:00+00'): one row per market whose trading window contains ts
-- (open_time <= ts <= close_time), with the last api quote whose 1m period ended at or before
-- ts and the last trade at or before ts, and their ages in seconds (DOUBLE). Only events
-- dated within three days of ts can be open (Kalshi lists an event at 10:00 ET the day before
-- and closes it after the day), so only those partitions are read.
-- Invariant: for a decision instant, equals the decision_quotes row of every market open then.
CREATE OR REPLACE MACRO quotes_at(ts, city := NULL) AS TABLE
SELECT
    q.market_ticker,
    q.event_ticker,
    q.city,
    q.date,
    q.decision_at AS as_of,
    q.yes_bid,
    q.yes_ask,
    q.mid,
    q.quote_at,
    q.last_trade_price,
    q.last_trade_at,
    q.result,
    q.quote_age,
    q.last_trade_age,
    q.settlement_value,
    q.month
FROM market_quotes_for(
    city,
    CAST(timezone('UTC', CAST(ts AS TIMESTAMPTZ)) AS DATE) - 3,
    CAST(timezone('UTC', CAST(ts AS TIMESTAMPTZ)) AS DATE) + 3,
    ts
) AS q;
