-- macro: market_quotes_for(city := NULL, start_date := NULL, end_date := NULL, ts := NULL, instants := NULL)
-- The as-of engine behind decision_quotes, event_ladder and quotes_at: for every market of one
-- city (or all) whose event climate date is in [start_date, end_date] (or all), and for every
-- instant (the decision instants when `ts` is NULL: `instants`, parsed by decision_instants,
-- default D-1 10:00 and D 10:00; otherwise `ts` itself, for the markets whose trading window
-- contains it):
--   * the quote: the close of the latest 1m api candle whose period ENDED at or before the
--     instant. A candle's period is [bucket_start, bucket_start + 1 minute) and Kalshi's
--     end_period_ts is its inclusive end, so quote_at = bucket_start + 1 minute. Candles are
--     emitted on change only, so the latest earlier candle is the forward-filled quote. An
--     empty book side is NULL (never 0 or 1); mid only when both sides are present.
--   * the last trade with traded_at <= the instant (ties on traded_at: the highest trade_id,
--     i.e. the last one in the trades table's sort order).
--   * their ages, quote_age and last_trade_age: seconds (DOUBLE, microsecond-exact) from
--     quote_at or last_trade_at to the instant. Seconds, not INTERVAL, because polars, pandas
--     and Arrow all read a number, and DuckDB exports INTERVAL as an Arrow month-day-nano
--     interval that polars refuses.
-- Decision instants: a local clock time on a day offset from D (D = the event's climate date;
-- default 10:00 on D-1 and on D) in the city's own IANA zone from the cities view, converted
-- with ICU, so DST days are right (a time in the hour skipped when DST starts is read with the
-- offset before the change; one in the repeated hour when DST ends is its second, standard-time
-- occurrence).
-- Invariant (no look-ahead): nothing dated after the instant (a candle ending after it, a trade
-- after it) can change a row. Both lookups are ASOF joins (sort-based, O(n log n)). With a
-- left side of at most asof_loop_join_threshold rows (64; e.g. quotes_at for one city) DuckDB
-- plans a nested loop instead; `make bench` times quotes_at both ways.
CREATE OR REPLACE MACRO market_quotes_for(
    city := NULL, start_date := NULL, end_date := NULL, ts := NULL, instants := NULL
) AS TABLE
WITH scoped_markets AS (
    SELECT m.*
    FROM markets_in(city, start_date, end_date) AS m
),
points AS (
    SELECT
        sm.*,
        i.decision_label,
        timezone(c.tz, (sm.date + i.day_offset) + i.local_time) AS decision_at
    FROM scoped_markets AS sm
    JOIN cities AS c ON c.city = sm.city
    CROSS JOIN decision_instants(instants) AS i
    WHERE ts IS NULL
    UNION ALL BY NAME
    SELECT
        sm.*,
        CAST(NULL AS VARCHAR) AS decision_label,
        CAST(ts AS TIMESTAMPTZ) AS decision_at
    FROM scoped_markets AS sm
    WHERE ts IS NOT NULL
      AND sm.open_time <= CAST(ts AS TIMESTAMPTZ)
      AND CAST(ts AS TIMESTAMPTZ) <= sm.close_time
),
api_quotes AS (
    SELECT
        k.city,
        k.date,
        k.market_ticker,
        k.bucket_start + INTERVAL 1 MINUTE AS quote_at,
        k.yes_bid_close AS yes_bid,
        k.yes_ask_close AS yes_ask
    FROM candles_1m_in(city, start_date, end_date) AS k
    WHERE k.source = 'api'
),
last_trades AS (
    SELECT t.city, t.date, t.market_ticker, t.traded_at, t.trade_id, t.yes_price
    FROM trades_in(city, start_date, end_date) AS t
)
SELECT
    x.market_ticker,
    x.event_ticker,
    x.family,
    x.city,
    x.date,
    x.decision_label,
    x.decision_at,
    q.yes_bid,
    q.yes_ask,
    CASE
        WHEN q.yes_bid IS NOT NULL AND q.yes_ask IS NOT NULL
            THEN CAST((q.yes_bid + q.yes_ask) * 0.5 AS DECIMAL(10, 7))
    END AS mid,
    q.quote_at,
    epoch(x.decision_at - q.quote_at) AS quote_age,
    lt.yes_price AS last_trade_price,
    lt.traded_at AS last_trade_at,
    epoch(x.decision_at - lt.traded_at) AS last_trade_age,
    x.result,
    x.settlement_value,
    x.status,
    x.strike_type,
    x.floor_strike,
    x.cap_strike,
    x.low_f,
    x.high_f,
    x.yes_sub_title,
    x.open_time,
    x.close_time,
    x.month
-- city and date are equal for every row of a market; naming them in the join conditions lets
-- DuckDB push a filter on the result's city or date into the candle and trade scans.
FROM points AS x
ASOF LEFT JOIN api_quotes AS q
    ON q.city = x.city
    AND q.date = x.date
    AND q.market_ticker = x.market_ticker
    AND q.quote_at <= x.decision_at
-- Several trades can share one timestamp (one order filling against several makers): ordering
-- by (traded_at, trade_id) makes "the latest" deterministic, the last in the table's sort order.
-- chr(1114111) sorts after any trade_id, so the condition is exactly traded_at <= decision_at.
ASOF LEFT JOIN last_trades AS lt
    ON lt.city = x.city
    AND lt.date = x.date
    AND lt.market_ticker = x.market_ticker
    AND (lt.traded_at, lt.trade_id) <= (x.decision_at, chr(1114111));
