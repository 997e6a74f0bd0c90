-- macro: book_at_for(city := NULL, start_date := NULL, end_date := NULL, ts := NULL)
-- The order book of every market of one city (or all) and range of event climate dates (or all)
-- whose book is known at instant ts: one row per level (side 'bid' | 'ask' on the YES scale,
-- price, size > 0), with book_as_of (the receive time of the last frame applied) and source.
-- The latest book_snapshots entry of the market with snapshot_at <= ts ('unknown' -> no rows),
-- plus the deltas of the same connection after it received at or before ts, summed per level.
-- Invariant (no look-ahead): nothing received after ts changes the result.
CREATE OR REPLACE MACRO book_at_for(
    city := NULL, start_date := NULL, end_date := NULL, ts := NULL
) AS TABLE
WITH latest AS (
    SELECT s.*
    FROM book_snapshots_in(city, start_date, end_date) AS s
    WHERE s.snapshot_at <= CAST(ts AS TIMESTAMPTZ)
    QUALIFY rank() OVER (
        PARTITION BY s.market_ticker ORDER BY s.snapshot_at DESC, s.conn_id DESC, s.frame_no DESC
    ) = 1
),
entry AS (
    SELECT DISTINCT
        l.market_ticker, l.event_ticker, l.city, l.family, l.date, l.snapshot_at, l.conn_id,
        l.frame_no, l.kind
    FROM latest AS l
    WHERE l.kind <> 'unknown'
),
levels AS (
    SELECT l.market_ticker, l.side, l.price, l.size, l.snapshot_at AS at
    FROM latest AS l
    WHERE l.kind <> 'unknown' AND l.side IS NOT NULL
    UNION ALL
    SELECT d.market_ticker, d.side, d.price, d.delta AS size, d.recv_at AS at
    FROM book_deltas_in(city, start_date, end_date) AS d
    JOIN entry AS e
        ON d.market_ticker = e.market_ticker
        AND d.conn_id = e.conn_id
        AND d.frame_no > e.frame_no
    WHERE d.recv_at <= CAST(ts AS TIMESTAMPTZ)
),
as_of AS (
    SELECT v.market_ticker, max(v.at) AS book_as_of FROM levels AS v GROUP BY v.market_ticker
),
summed AS (
    SELECT v.market_ticker, v.side, v.price, sum(v.size) AS size
    FROM levels AS v
    GROUP BY v.market_ticker, v.side, v.price
    HAVING sum(v.size) > 0
)
SELECT
    e.market_ticker,
    e.event_ticker,
    e.city,
    e.family,
    e.date,
    s.side,
    s.price,
    CAST(s.size AS DECIMAL(18, 2)) AS size,
    greatest(e.snapshot_at, a.book_as_of) AS book_as_of,
    CASE WHEN e.kind = 'rest' THEN 'rest' ELSE 'ws' END AS source
FROM entry AS e
JOIN summed AS s ON s.market_ticker = e.market_ticker
JOIN as_of AS a ON a.market_ticker = e.market_ticker
ORDER BY e.market_ticker, s.side, s.price;
