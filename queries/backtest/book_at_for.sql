-- macro: book_at_for(city, start_date, end_date, ts)
-- The order book of every followed market of one city (or all, city NULL) and an inclusive
-- range of event climate dates (or all, NULL) as of the instant ts (TIMESTAMPTZ, or text such
-- as '2026-12-05 16:00:00+00'): one row per level with size > 0, prices on the YES scale
-- (side 'bid' | 'ask'), book_as_of the receive time of the last frame applied (of a cadence
-- entry replayed from an empty snapshot and nothing since: the entry's instant) and source
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
-- the latest entry of each market (qualified: the parameter `city` would shadow the column)
known AS MATERIALIZED (
    SELECT l.* FROM (
        SELECT arg_max(
            struct_pack(s.market_ticker, s.event_ticker, s.city, s.family, s.date, s.snapshot_at, s.kind, s.conn_id, s.frame_no),
            struct_pack(s.snapshot_at, f := coalesce(s.frame_no, -1), k := s.kind)) AS l
        FROM snaps AS s GROUP BY s.market_ticker
    ) WHERE l.kind <> 'unknown'
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
    SEMI JOIN known AS k
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
summed AS (
    SELECT market_ticker, side, price, CAST(sum(size) AS DECIMAL(18, 2)) AS size
    FROM levels GROUP BY ALL HAVING sum(size) > 0
),
as_of AS (
    SELECT market_ticker, max(recv_at) AS recv_at FROM frames GROUP BY ALL
)
SELECT
    k.market_ticker, k.event_ticker, k.city, k.family, k.date, l.side, l.price, l.size,
    coalesce(o.recv_at, k.snapshot_at) AS book_as_of,
    CASE WHEN k.kind = 'rest' THEN 'rest' ELSE 'ws' END AS source
FROM summed AS l
JOIN known AS k ON k.market_ticker = l.market_ticker
LEFT JOIN as_of AS o ON o.market_ticker = l.market_ticker;
