-- check: book_replay_mismatch
-- level: error
-- Invariant: on one connection, an exchange snapshot of a market's book equals the previous
-- exchange snapshot plus the deltas received between them, level by level, when the book stayed
-- known in between (no 'unknown' entry: a seq hole or an unsubscribe makes the next snapshot a
-- resync, expected to differ). A difference means deltas were lost without a seq hole, or
-- applied wrongly. A row names the snapshot and one level where they disagree (size NULL:
-- the level is absent on that side).
WITH entries AS (
    SELECT DISTINCT s.market_ticker, s.conn_id, s.frame_no, s.kind, s.snapshot_at
    FROM book_snapshots_in(
        getvariable('check_city'), getvariable('check_start'), getvariable('check_end')
    ) AS s
    WHERE s.kind IN ('ws', 'unknown') AND s.conn_id IS NOT NULL
),
pairs AS (
    SELECT
        e.*,
        lag(e.kind) OVER w AS prev_kind,
        lag(e.frame_no) OVER w AS prev_frame_no
    FROM entries AS e
    WINDOW w AS (PARTITION BY e.market_ticker, e.conn_id ORDER BY e.frame_no)
),
checked AS (
    SELECT p.* FROM pairs AS p WHERE p.kind = 'ws' AND p.prev_kind = 'ws'
),
replayed AS (
    -- the previous snapshot's levels (its is_snapshot rows) and the deltas after it
    SELECT c.market_ticker, c.conn_id, c.frame_no, d.side, d.price, sum(d.delta) AS size
    FROM checked AS c
    JOIN book_deltas_in(
        getvariable('check_city'), getvariable('check_start'), getvariable('check_end')
    ) AS d
        ON d.market_ticker = c.market_ticker
        AND d.conn_id = c.conn_id
        AND d.frame_no >= c.prev_frame_no
        AND d.frame_no < c.frame_no
    GROUP BY c.market_ticker, c.conn_id, c.frame_no, d.side, d.price
    HAVING sum(d.delta) <> 0
),
snapshot AS (
    SELECT c.market_ticker, c.conn_id, c.frame_no, s.side, s.price, s.size
    FROM checked AS c
    JOIN book_snapshots_in(
        getvariable('check_city'), getvariable('check_start'), getvariable('check_end')
    ) AS s
        ON s.market_ticker = c.market_ticker
        AND s.conn_id = c.conn_id
        AND s.frame_no = c.frame_no
        AND s.kind = 'ws'
    WHERE s.side IS NOT NULL
)
SELECT
    coalesce(r.market_ticker, s.market_ticker) AS market_ticker,
    coalesce(r.conn_id, s.conn_id) AS conn_id,
    coalesce(r.frame_no, s.frame_no) AS snapshot_frame_no,
    coalesce(r.side, s.side) AS side,
    coalesce(r.price, s.price) AS price,
    r.size AS replayed_size,
    s.size AS snapshot_size
FROM replayed AS r
FULL OUTER JOIN snapshot AS s
    ON s.market_ticker = r.market_ticker
    AND s.conn_id = r.conn_id
    AND s.frame_no = r.frame_no
    AND s.side = r.side
    AND s.price = r.price
WHERE r.size IS DISTINCT FROM s.size
ORDER BY market_ticker, conn_id, snapshot_frame_no, side, price;
