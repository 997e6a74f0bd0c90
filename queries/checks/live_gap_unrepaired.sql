-- check: live_gap_unrepaired
-- level: error
-- Invariant: every hole the live recorder found in its stream (README, Live: follow) was
-- repaired. A hole is a live_events row: a 'gap' (kind 'gap': seq numbers skipped; 'overflow':
-- the server's error 25 dropped frames) or a 'disconnected'. An order book hole (a 'gap' of
-- kind 'gap' on channel orderbook_delta) is repaired by a later order book snapshot: on the same
-- connection and sid (the resync's get_snapshot), or on a later connection (whose subscription
-- starts with snapshots). Any other hole (trades, lifecycle, an overflow, a disconnect) is
-- repaired by a later REST catch-up pass that finished (a 'catch_up' event with ok, begun at or
-- after the hole). Holes younger than ten minutes before check_as_of (default: now) are left
-- alone: the follower repairs a hole within seconds to a few minutes. A row names the hole;
-- `kalshi-lake backfill` over its days, or a running follower's next catch-up, repairs it.
-- (check_start/check_end bound the holes' UTC receive dates; check_city keeps the holes of runs
-- that followed it.)
WITH ev AS (
    SELECT *
    FROM live_events AS e
    WHERE (getvariable('check_start') IS NULL OR e.date >= getvariable('check_start'))
      AND (getvariable('check_end') IS NULL OR e.date <= getvariable('check_end') + 1)
),
holes AS (
    SELECT e.*
    FROM ev AS e
    WHERE ((e.event = 'gap' AND e.kind IN ('gap', 'overflow')) OR e.event = 'disconnected')
      AND e.recv_at
        < coalesce(getvariable('check_as_of'), now()) - INTERVAL 10 MINUTE
      AND (getvariable('check_end') IS NULL OR e.date <= getvariable('check_end'))
      AND (
          getvariable('check_city') IS NULL
          OR e.cities IS NULL
          OR list_contains(e.cities, getvariable('check_city'))
      )
),
passes AS (
    SELECT e.started_at FROM ev AS e WHERE e.event = 'catch_up' AND e.ok
),
snapshots AS (
    SELECT f.conn_id, f.sid, min(f.recv_at) AS first_at, max(f.recv_at) AS last_at
    FROM ws_frames_in() AS f
    WHERE f.msg_type = 'orderbook_snapshot' AND f.direction = 'in' AND f.city <> '_connection'
      AND (getvariable('check_start') IS NULL OR f.date >= getvariable('check_start') - 1)
    GROUP BY f.conn_id, f.sid
)
SELECT
    h.run_id,
    h.conn_id,
    h.frame_no,
    h.recv_at,
    h.event,
    h.kind,
    h.channel,
    h.sid,
    h.cities,
    h.families
FROM holes AS h
WHERE NOT (
    CASE
        WHEN h.event = 'gap' AND h.kind = 'gap' AND h.channel = 'orderbook_delta' THEN EXISTS (
            SELECT 1
            FROM snapshots AS s
            WHERE (s.conn_id = h.conn_id AND s.sid = h.sid AND s.last_at > h.recv_at)
               OR (s.conn_id <> h.conn_id AND s.first_at > h.recv_at)
        )
        ELSE EXISTS (SELECT 1 FROM passes AS p WHERE p.started_at >= h.recv_at)
    END
)
ORDER BY h.recv_at, h.conn_id, h.frame_no;
