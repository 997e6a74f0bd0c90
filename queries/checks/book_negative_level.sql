-- check: book_negative_level
-- level: error
-- Invariant: replaying a connection's deltas from the exchange snapshot before them never takes
-- a level below zero size. Each WebSocket delta of book_deltas is replayed from the latest
-- exchange snapshot ('ws' entry of book_snapshots) of its market on the same connection, unless
-- the book stopped being known after it (an 'unknown' entry: a seq hole, an unsubscribe), when
-- the deltas until the next snapshot have no base and are not replayed. A row names the delta
-- that took the level negative and the size it left.
WITH scoped AS (
    SELECT *
    FROM book_deltas_in(
        getvariable('check_city'), getvariable('check_start'), getvariable('check_end')
    ) AS d
    WHERE d.source = 'ws' AND d.conn_id IS NOT NULL
),
entries AS (
    SELECT DISTINCT s.market_ticker, s.conn_id, s.frame_no, s.kind
    FROM book_snapshots_in(
        getvariable('check_city'), getvariable('check_start'), getvariable('check_end')
    ) AS s
    WHERE s.kind IN ('ws', 'unknown') AND s.conn_id IS NOT NULL
),
replayed AS (
    SELECT
        d.*,
        e.frame_no AS from_frame,
        sum(d.delta) OVER (
            PARTITION BY d.market_ticker, d.conn_id, e.frame_no, d.side, d.price
            ORDER BY d.frame_no
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS size_after
    FROM scoped AS d
    ASOF JOIN entries AS e
        ON e.market_ticker = d.market_ticker
        AND e.conn_id = d.conn_id
        AND e.frame_no <= d.frame_no
    WHERE e.kind = 'ws'
)
SELECT
    r.market_ticker,
    r.recv_at,
    r.conn_id,
    r.frame_no,
    r.sid,
    r.seq,
    r.side,
    r.price,
    r.delta,
    r.size_after,
    r.from_frame AS snapshot_frame_no
FROM replayed AS r
WHERE r.size_after < 0 AND NOT r.is_snapshot
ORDER BY r.market_ticker, r.recv_at, r.conn_id, r.frame_no, r.side, r.price;
