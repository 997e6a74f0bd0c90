-- macro: reconciliation_trades_in(city := NULL, start_date := NULL, end_date := NULL)
-- The trades the daily trade_data report and the lake disagree on, per report day (New York)
-- and market, in the reconciliation's scope (reconciliation_scope_in). Neither side has a
-- common trade id, so a trade is the key (market, second, YES price, contracts): the lake's
-- traded_at cut to the second, its yes_price and count; the lake's trades are grouped by the New
-- York day of traded_at. Identical trades exist, so each side's rows are counted per key:
-- report_trades > lake_trades means trades the report has and the lake lacks (missing), the
-- reverse trades the lake holds and the report does not list (extra). Days without a stored
-- market_data or trade_data file are left out (nothing to compare yet).
-- A lake with no stored report gets an empty typed stub instead (Python registers it).
-- Invariant: report_trades <> lake_trades on every row.
CREATE OR REPLACE MACRO reconciliation_trades_in(
    city := NULL, start_date := NULL, end_date := NULL
) AS TABLE
WITH scope AS (
    SELECT * FROM reconciliation_scope_in(city, start_date, end_date)
),
reported_days AS (
    -- each day with a stored report as the instants its New York day spans (the time zone
    -- converted once per day, not once per trade)
    SELECT
        d.city,
        d.date,
        timezone('America/New_York', CAST(d.date AS TIMESTAMP)) AS day_start,
        timezone('America/New_York', CAST(d.date + 1 AS TIMESTAMP)) AS day_end
    FROM (SELECT DISTINCT r.city, r.date FROM report_files_in(city, start_date, end_date) AS r) AS d
),
rep AS (
    SELECT r.city, r.report_date AS day, r.market_ticker, r.traded_second, r.price, r.contracts,
           count(*) AS n
    FROM report_trades_in(city, start_date, end_date) AS r
    GROUP BY ALL
),
lake_in_range AS (
    -- only the days a report is stored for are read and grouped (a lake never reconciled
    -- reads no trades here)
    SELECT t.city, d.date AS day,
           t.market_ticker, date_trunc('second', t.traded_at) AS traded_second,
           t.yes_price AS price, t.count AS contracts, count(*) AS n
    FROM trades_in(city, CAST(start_date AS DATE) - 2, CAST(end_date AS DATE) + 2) AS t
    JOIN reported_days AS d
        ON d.city = t.city AND t.traded_at >= d.day_start AND t.traded_at < d.day_end
    GROUP BY ALL
),
keyed AS (
    SELECT
        coalesce(r.city, l.city) AS city,
        coalesce(r.day, l.day) AS day,
        coalesce(r.market_ticker, l.market_ticker) AS market_ticker,
        coalesce(r.traded_second, l.traded_second) AS traded_second,
        coalesce(r.price, l.price) AS price,
        coalesce(r.contracts, l.contracts) AS contracts,
        coalesce(r.n, 0) AS report_trades,
        coalesce(l.n, 0) AS lake_trades
    FROM rep AS r
    FULL JOIN lake_in_range AS l
        ON l.city = r.city AND l.day = r.day AND l.market_ticker = r.market_ticker
       AND l.traded_second = r.traded_second AND l.price = r.price
       AND l.contracts = r.contracts
)
SELECT
    k.city,
    s.family,
    k.day AS report_date,
    k.market_ticker,
    s.event_ticker,
    k.traded_second,
    k.price,
    k.contracts,
    k.report_trades,
    k.lake_trades,
    CAST(greatest(k.report_trades - k.lake_trades, 0) AS BIGINT) AS missing,
    CAST(greatest(k.lake_trades - k.report_trades, 0) AS BIGINT) AS extra
FROM keyed AS k
JOIN scope AS s
    ON s.city = k.city
   AND s.event_ticker = regexp_extract(k.market_ticker, '^(.*)-[^-]*$', 1)
WHERE k.report_trades <> k.lake_trades;
