-- view: live_events
-- The live recorder's own records (README, Live: follow), read from raw/ws city=_connection:
-- one row per event, deduplicated on its identity (conn_id, frame_no). event is
-- 'follow_started', 'connected', 'disconnected', 'closed', 'refused', 'gap' (kind 'gap': seq
-- numbers were skipped, 'repeat': one came again, 'overflow': the server's error 25), 'resync'
-- (fresh order book snapshots asked for on sid) or 'catch_up' (a REST catch-up pass that began
-- at started_at; ok when it fetched everything). run_id is the follow run (conn_id without its
-- last '.part'); cities and families are what that run followed, so a gap on its one connection
-- counts for each of them. The date column is the UTC receive date (the partition).
-- Invariant: one row per (conn_id, frame_no); recv_at UTC.
CREATE OR REPLACE VIEW live_events AS
SELECT
    f.recv_at,
    f.date,
    regexp_extract(f.conn_id, '^(.*)[.][^.]*$', 1) AS run_id,
    f.conn_id,
    f.frame_no,
    f.msg_type AS event,
    f.channel,
    f.sid,
    json_extract_string(f.body, '$.kind') AS kind,
    CAST(json_extract(f.body, '$.follows.cities') AS VARCHAR[]) AS cities,
    CAST(json_extract(f.body, '$.follows.families') AS VARCHAR[]) AS families,
    make_timestamptz(CAST(json_extract(f.body, '$.started_us') AS BIGINT)) AS started_at,
    CAST(json_extract(f.body, '$.ok') AS BOOLEAN) AS ok,
    f.body
FROM ws_frames_in() AS f
WHERE f.city = '_connection' AND f.direction = 'event'
QUALIFY row_number() OVER (PARTITION BY f.conn_id, f.frame_no ORDER BY f.recv_at) = 1;
