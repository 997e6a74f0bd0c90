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
-- after it) can change a row.
-- How: both lookups are hash joins on the market (its city and date too) keeping the rows at or
-- before the instant, then the latest per (market, instant) by aggregation. Not ASOF joins: the
-- left side is a few rows per market (one per instant) against hundreds of candles and trades,
-- and an ASOF join sorts the whole right side (on the 10M-trade benchmark lake, one city's 60
-- days: ~200 ms of CPU for the two ASOF joins, ~60 ms this way). The trades' tie rule is the
-- struct order (traded_at, trade_id), the same as the table's sort order.
CREATE OR REPLACE MACRO market_quotes_for(
    city := NULL, start_date := NULL, end_date := NULL, ts := NULL, instants := NULL
) AS TABLE
WITH instants_of AS (
    -- the decision instants, or one row standing for `ts` itself
    SELECT i.decision_label, i.day_offset, i.local_time
    FROM decision_instants(instants) AS i
    WHERE ts IS NULL
    UNION ALL
    SELECT CAST(NULL AS VARCHAR), CAST(NULL AS INTEGER), CAST(NULL AS TIME)
    WHERE ts IS NOT NULL
),
-- markets_in is named once: each table function bound is a glob expanded while planning
points AS (
    SELECT
        m.*,
        i.decision_label,
        CASE
            WHEN ts IS NULL THEN timezone(c.tz, (m.date + i.day_offset) + i.local_time)
            ELSE CAST(ts AS TIMESTAMPTZ)
        END AS decision_at
    FROM markets_in(city, start_date, end_date) AS m
    LEFT JOIN cities AS c ON c.city = m.city
    CROSS JOIN instants_of AS i
    WHERE (ts IS NULL AND c.city IS NOT NULL)
       OR (
           ts IS NOT NULL
           AND m.open_time <= CAST(ts AS TIMESTAMPTZ)
           AND CAST(ts AS TIMESTAMPTZ) <= m.close_time
       )
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
),
-- The latest api quote at or before each point. The group key is the point (markets_in has one
-- row per market, so a market, an instant's label and its time name one point; the label too,
-- because two labels can be one instant: 'D 02:30' and 'D 03:30' on the day DST starts);
-- A point without a quote keeps one row, q NULL.
-- city and date are equal for every row of a market; naming them in the join conditions and the
-- group key lets DuckDB push a filter on the result's city or date into the candle and trade scans.
-- p is the point's row (any_value: equal on every row of its group), carried to the end.
with_quote AS (
    SELECT
        x.city,
        x.date,
        x.market_ticker,
        x.decision_label,
        x.decision_at,
        any_value(x) AS p,
        max_by(struct_pack(q.quote_at, q.yes_bid, q.yes_ask), q.quote_at) AS q
    FROM points AS x
    LEFT JOIN api_quotes AS q
        ON q.city = x.city
        AND q.date = x.date
        AND q.market_ticker = x.market_ticker
        AND q.quote_at <= x.decision_at
    GROUP BY x.city, x.date, x.market_ticker, x.decision_label, x.decision_at
),
-- The last trade at or before each point: max of (traded_at, trade_id, yes_price) is the latest
-- trade, the highest trade_id among those sharing its timestamp (one order filling against
-- several makers), i.e. the last in the trades table's sort order. No trade: t's fields NULL.
with_trade AS (
    SELECT
        x.city,
        x.date,
        x.market_ticker,
        x.decision_label,
        x.decision_at,
        any_value(x.p) AS p,
        any_value(x.q) AS q,
        max(struct_pack(lt.traded_at, lt.trade_id, lt.yes_price)) AS t
    FROM with_quote AS x
    LEFT JOIN last_trades AS lt
        ON lt.city = x.city
        AND lt.date = x.date
        AND lt.market_ticker = x.market_ticker
        AND lt.traded_at <= x.decision_at
    GROUP BY x.city, x.date, x.market_ticker, x.decision_label, x.decision_at
)
SELECT
    x.market_ticker,
    x.p.event_ticker,
    x.p.family,
    x.city,
    x.date,
    x.decision_label,
    x.decision_at,
    x.q.yes_bid,
    x.q.yes_ask,
    CASE
        WHEN x.q.yes_bid IS NOT NULL AND x.q.yes_ask IS NOT NULL
            THEN CAST((x.q.yes_bid + x.q.yes_ask) * 0.5 AS DECIMAL(10, 7))
    END AS mid,
    x.q.quote_at,
    epoch(x.decision_at - x.q.quote_at) AS quote_age,
    x.t.yes_price AS last_trade_price,
    x.t.traded_at AS last_trade_at,
    epoch(x.decision_at - x.t.traded_at) AS last_trade_age,
    x.p.result,
    x.p.settlement_value,
    x.p.status,
    x.p.strike_type,
    x.p.floor_strike,
    x.p.cap_strike,
    x.p.low_f,
    x.p.high_f,
    x.p.yes_sub_title,
    x.p.open_time,
    x.p.close_time,
    x.p.month
FROM with_trade AS x;
