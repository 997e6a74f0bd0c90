-- macro: book_at_for(city, start_date, end_date, ts)
-- The order book of every followed market of one city (or all, city NULL) and an inclusive
-- range of event climate dates (or all, NULL) as of the instant ts (TIMESTAMPTZ, or text such
-- as '2026-12-05 16:00:00+00'): one row per level with size > 0, prices on the YES scale
-- (side 'bid' | 'ask'), book_as_of the receive time of the last frame applied and source
-- 'ws' | 'rest'. Built from the market's latest book_snapshots entry with snapshot_at <= ts
-- (an 'unknown' entry: the book is not known, no rows) plus the deltas of the same connection
-- after it (frame_no larger) received at or before ts, summed per side and price.
-- Invariant: no look-ahead; nothing received after ts changes the result.
CREATE OR REPLACE MACRO book_at_for(city, start_date, end_date, ts) AS TABLE
WITH snaps AS MATERIALIZED (
    SELECT *
    FROM book_snapshots_in(city := city, start_date := start_date, end_date := end_date)
    WHERE snapshot_at <= CAST(ts AS TIMESTAMPTZ)
),
latest AS (
    -- qualified: the macro's parameter `city` would shadow the column
    SELECT s.market_ticker, s.event_ticker, s.city, s.family, s.date, s.snapshot_at, s.kind,
           s.conn_id, s.frame_no
    FROM snaps AS s
    QUALIFY row_number() OVER (
        PARTITION BY market_ticker
        ORDER BY snapshot_at DESC, frame_no DESC NULLS LAST, kind, side NULLS FIRST, price
    ) = 1
),
known AS (
    SELECT * FROM latest WHERE kind <> 'unknown'
),
-- the entry's own last frame (frame_no equal: a snapshot's levels, or the delta a cadence
-- row was replayed up to) and the deltas after it, received by ts
frames AS MATERIALIZED (
    SELECT d.market_ticker, d.side, d.price, d.delta, d.recv_at, d.frame_no > k.frame_no AS after
    FROM book_deltas_in(city := city, start_date := start_date, end_date := end_date) AS d
    JOIN known AS k
      ON d.market_ticker = k.market_ticker
     AND d.conn_id = k.conn_id
     AND d.frame_no >= k.frame_no
    WHERE d.recv_at <= CAST(ts AS TIMESTAMPTZ)
      AND (NOT d.is_snapshot OR d.frame_no = k.frame_no)
),
levels AS (
    SELECT s.market_ticker, s.side, s.price, s.size
    FROM snaps AS s
    JOIN known AS k
      ON s.market_ticker = k.market_ticker
     AND s.snapshot_at = k.snapshot_at
     AND s.kind = k.kind
     AND s.conn_id IS NOT DISTINCT FROM k.conn_id
     AND s.frame_no IS NOT DISTINCT FROM k.frame_no
    WHERE s.side IS NOT NULL
    UNION ALL
    SELECT market_ticker, side, price, delta
    FROM frames
    WHERE after
),
as_of AS (
    SELECT k.market_ticker,
           coalesce(max(f.recv_at), k.snapshot_at) AS book_as_of
    FROM known AS k
    LEFT JOIN frames AS f ON f.market_ticker = k.market_ticker
    GROUP BY k.market_ticker, k.snapshot_at
)
SELECT
    k.market_ticker,
    k.event_ticker,
    k.city,
    k.family,
    k.date,
    l.side,
    l.price,
    CAST(sum(l.size) AS DECIMAL(18, 2)) AS size,
    o.book_as_of,
    CASE WHEN k.kind = 'rest' THEN 'rest' ELSE 'ws' END AS source
FROM levels AS l
JOIN known AS k ON k.market_ticker = l.market_ticker
JOIN as_of AS o ON o.market_ticker = l.market_ticker
GROUP BY ALL
HAVING sum(l.size) > 0;
