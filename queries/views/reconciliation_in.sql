-- macro: reconciliation_in(city := NULL, start_date := NULL, end_date := NULL)
-- The lake against Kalshi's public daily reports (raw/daily_reports, `kalshi-lake reconcile`):
-- one row per market and report day (the New York calendar day) from start_date to end_date,
-- for the cities with a stored report, from each one's first report day on.
-- Per row: the report's trade count and contracts (trade_data rows), daily volume, high, low
-- and open interest (market_data), against the lake's trades grouped by the New York day of
-- traded_at (count, contracts, highest and lowest yes_price) and the open interest of the
-- market's last api candle ending by the day's end (none: not compared); missing and extra are
-- the trades one side has and the other lacks (reconciliation_trades_in).
-- Only the days a reconcile asked for are judged: days with a stored report file, or with a
-- marker that a file was asked for and not published yet (report_unpublished_in); the lake's
-- trades of other days are not read into rows (they were never compared, so not pending).
-- status: 'pending' when the day has no stored market_data file of the family yet (Kalshi
-- publishes a day's files the next morning), else 'match' or 'differ'. differences names what differs:
-- trades_missing (the report has trades the lake lacks), trades_extra, trade_count, contracts,
-- daily_volume, high, low (compared when the lake has trades that day), open_interest,
-- market_row (the lake traded the market but the report has no row for it). flag is 'error'
-- when trades are missing from the lake, 'warn' for any other difference, NULL otherwise.
-- Only markets of events in reconciliation_scope_in are judged. A lake with no stored report
-- gets an empty typed stub instead (Python registers it), so validate never reads its trades.
-- Invariant: one row per (city, report_date, market_ticker); status 'match' iff differences is
-- empty and the day is not pending.
CREATE OR REPLACE MACRO reconciliation_in(city := NULL, start_date := NULL, end_date := NULL)
AS TABLE
WITH scope AS (
    SELECT * FROM reconciliation_scope_in(city, start_date, end_date)
),
market_days AS (
    -- (city, day, family) with a stored market_data file (family NULL: every family)
    SELECT DISTINCT r.city, r.date, r.family
    FROM report_files_in(city, start_date, end_date) AS r
    WHERE r.kind = 'market_data'
),
asked_days AS (
    -- the (city, day)s a reconcile asked for: a report file stored, or found not published
    SELECT r.city, r.date FROM report_files_in(city, start_date, end_date) AS r
    UNION
    SELECT u.city, u.date FROM report_unpublished_in(city, start_date, end_date) AS u
),
asked_bounds AS (
    -- each day asked as the instants its New York day spans, so trades are matched to a day by
    -- a range and the time zone is converted once per day, not once per trade
    SELECT
        a.city,
        a.date,
        timezone('America/New_York', CAST(a.date AS TIMESTAMP)) AS day_start,
        timezone('America/New_York', CAST(a.date + 1 AS TIMESTAMP)) AS day_end
    FROM asked_days AS a
),
lake_in_range AS (
    -- the lake's trades of the days asked, by their New York day
    SELECT
        t.city,
        a.date AS day,
        t.market_ticker,
        count(*) AS trades,
        sum(t.count) AS contracts,
        max(t.yes_price) AS high,
        min(t.yes_price) AS low
    FROM trades_in(city, CAST(start_date AS DATE) - 2, CAST(end_date AS DATE) + 2) AS t
    JOIN asked_bounds AS a
        ON a.city = t.city AND t.traded_at >= a.day_start AND t.traded_at < a.day_end
    GROUP BY ALL
),
rep_days AS (
    SELECT r.city, r.report_date AS day, r.market_ticker,
           count(*) AS market_rows,
           sum(r.daily_volume) AS daily_volume,
           max(r.high) AS high,
           min(r.low) AS low,
           sum(r.open_interest) AS open_interest
    FROM report_market_days_in(city, start_date, end_date) AS r
    GROUP BY ALL
),
rep_trades AS (
    SELECT r.city, r.report_date AS day, r.market_ticker,
           count(*) AS trades, sum(r.contracts) AS contracts
    FROM report_trades_in(city, start_date, end_date) AS r
    GROUP BY ALL
),
diffs AS (
    SELECT d.city, d.report_date AS day, d.market_ticker,
           sum(d.missing) AS missing, sum(d.extra) AS extra
    FROM reconciliation_trades_in(city, start_date, end_date) AS d
    GROUP BY ALL
),
keys AS (
    SELECT k.city, k.day, k.market_ticker
    FROM (
        SELECT l.city, l.day, l.market_ticker FROM lake_in_range AS l
        UNION
        SELECT r.city, r.day, r.market_ticker FROM rep_days AS r
        UNION
        SELECT r.city, r.day, r.market_ticker FROM rep_trades AS r
    ) AS k
),
joined AS (
    SELECT
        k.city,
        s.family,
        k.day,
        k.market_ticker,
        s.event_ticker,
        NOT EXISTS (
            SELECT 1
            FROM market_days AS md
            WHERE md.city = k.city AND md.date = k.day
              AND (md.family IS NULL OR md.family = s.family)
        ) AS pending,
        rd.market_rows IS NOT NULL AS has_market_row,
        coalesce(rt.trades, 0) AS report_trades,
        coalesce(l.trades, 0) AS lake_trades,
        coalesce(rt.contracts, 0) AS report_contracts,
        coalesce(l.contracts, 0) AS lake_contracts,
        rd.daily_volume AS report_daily_volume,
        rd.high AS report_high,
        l.high AS lake_high,
        rd.low AS report_low,
        l.low AS lake_low,
        rd.open_interest AS report_open_interest,
        coalesce(df.missing, 0) AS trades_missing,
        coalesce(df.extra, 0) AS trades_extra,
        -- the end of the New York day, as an instant
        timezone('America/New_York', CAST(k.day + 1 AS TIMESTAMP)) AS day_end
    FROM keys AS k
    JOIN scope AS s
        ON s.city = k.city
       AND s.event_ticker = regexp_extract(k.market_ticker, '^(.*)-[^-]*$', 1)
    LEFT JOIN lake_in_range AS l
        ON l.city = k.city AND l.day = k.day AND l.market_ticker = k.market_ticker
    LEFT JOIN rep_days AS rd
        ON rd.city = k.city AND rd.day = k.day AND rd.market_ticker = k.market_ticker
    LEFT JOIN rep_trades AS rt
        ON rt.city = k.city AND rt.day = k.day AND rt.market_ticker = k.market_ticker
    LEFT JOIN diffs AS df
        ON df.city = k.city AND df.day = k.day AND df.market_ticker = k.market_ticker
),
api_oi AS (
    SELECT c.city, c.market_ticker, c.bucket_start, c.open_interest
    FROM candles_1m_in(city, CAST(start_date AS DATE) - 2, CAST(end_date AS DATE) + 2) AS c
    -- only the markets judged: the as-of join below then sorts their candles, not the city's
    SEMI JOIN (SELECT DISTINCT j.city, j.market_ticker FROM joined AS j) AS f
        ON f.city = c.city AND f.market_ticker = c.market_ticker
    WHERE c.source = 'api' AND c.open_interest IS NOT NULL
),
with_oi AS (
    -- the last api candle whose minute ended by the day's end: the open interest then
    SELECT j.*, o.open_interest AS lake_open_interest
    FROM joined AS j
    ASOF LEFT JOIN api_oi AS o
        ON o.city = j.city AND o.market_ticker = j.market_ticker
       AND o.bucket_start + INTERVAL 1 MINUTE <= j.day_end
),
judged AS (
    SELECT
        w.*,
        list_filter(
            [
                CASE WHEN w.trades_missing > 0 THEN 'trades_missing' END,
                CASE WHEN w.trades_extra > 0 THEN 'trades_extra' END,
                CASE WHEN w.report_trades <> w.lake_trades THEN 'trade_count' END,
                CASE WHEN w.report_contracts <> w.lake_contracts THEN 'contracts' END,
                CASE
                    WHEN w.has_market_row
                        AND w.report_daily_volume IS DISTINCT FROM w.lake_contracts
                        THEN 'daily_volume'
                END,
                CASE
                    WHEN w.has_market_row AND w.lake_trades > 0
                        AND w.report_high IS DISTINCT FROM w.lake_high
                        THEN 'high'
                END,
                CASE
                    WHEN w.has_market_row AND w.lake_trades > 0
                        AND w.report_low IS DISTINCT FROM w.lake_low
                        THEN 'low'
                END,
                CASE
                    WHEN w.has_market_row AND w.lake_open_interest IS NOT NULL
                        AND w.report_open_interest IS DISTINCT FROM w.lake_open_interest
                        THEN 'open_interest'
                END,
                CASE
                    WHEN NOT w.has_market_row AND (w.lake_trades > 0 OR w.report_trades > 0)
                        THEN 'market_row'
                END
            ],
            lambda x: x IS NOT NULL
        ) AS differences
    FROM with_oi AS w
)
SELECT
    j.city,
    j.family,
    j.day AS report_date,
    strftime(j.day, '%Y-%m') AS month,
    j.market_ticker,
    j.event_ticker,
    CASE
        WHEN j.pending THEN 'pending'
        WHEN len(j.differences) = 0 THEN 'match'
        ELSE 'differ'
    END AS status,
    CASE
        WHEN j.pending THEN NULL
        WHEN j.trades_missing > 0 THEN 'error'
        WHEN len(j.differences) > 0 THEN 'warn'
    END AS flag,
    CASE WHEN j.pending THEN [] ELSE j.differences END AS differences,
    CASE WHEN j.pending THEN NULL ELSE j.report_trades END AS report_trades,
    j.lake_trades,
    CAST(CASE WHEN j.pending THEN NULL ELSE j.report_contracts END AS DECIMAL(18, 2))
        AS report_contracts,
    CAST(j.lake_contracts AS DECIMAL(18, 2)) AS lake_contracts,
    CAST(j.report_daily_volume AS DECIMAL(18, 2)) AS report_daily_volume,
    j.report_high,
    j.lake_high,
    j.report_low,
    j.lake_low,
    CAST(j.report_open_interest AS DECIMAL(18, 2)) AS report_open_interest,
    j.lake_open_interest,
    CAST(CASE WHEN j.pending THEN NULL ELSE j.trades_missing END AS BIGINT) AS trades_missing,
    CAST(CASE WHEN j.pending THEN NULL ELSE j.trades_extra END AS BIGINT) AS trades_extra
FROM judged AS j;
