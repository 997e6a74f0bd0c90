-- macro: report_latest_in(city := NULL, start_date := NULL, end_date := NULL, kind := NULL)
-- The rows of the daily-report files in force: per city, report day, kind ('market_data',
-- 'trade_data') and family, only the rows of the newest ETag fetched (a file Kalshi rewrote later replaces
-- the earlier copy for every comparison; both stay in the raw layer), each row once (the same
-- ETag stored twice counts once, by row_no).
-- Invariant: per (city, date, kind, family) one etag; per (city, date, kind, row_no) one row.
CREATE OR REPLACE MACRO report_latest_in(
    city := NULL, start_date := NULL, end_date := NULL, kind := NULL
) AS TABLE
WITH kept AS (
    SELECT r.*
    FROM report_rows_in(city, start_date, end_date) AS r
    WHERE kind IS NULL OR r.kind = kind
),
files AS (
    SELECT f.city, f.date, f.kind, f.family, f.etag
    FROM (
        SELECT r.city, r.date, r.kind, r.family, r.etag, max(r.fetched_at) AS fetched_at
        FROM kept AS r
        GROUP BY ALL
    ) AS f
    QUALIFY row_number() OVER (
        PARTITION BY f.city, f.date, f.kind, f.family ORDER BY f.fetched_at DESC, f.etag DESC
    ) = 1
)
SELECT r.*
FROM kept AS r
SEMI JOIN files AS f
    ON f.city = r.city AND f.date = r.date AND f.kind = r.kind AND f.etag = r.etag
   AND f.family IS NOT DISTINCT FROM r.family
QUALIFY row_number() OVER (
    PARTITION BY r.city, r.date, r.kind, r.row_no ORDER BY r.fetched_at
) = 1;
