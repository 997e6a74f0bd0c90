-- macro: live_heartbeats_in()
-- The heartbeats of `kalshi-lake follow`, one row per city and family it follows or followed
-- (README, Live: follow): <lake>/_state/live/<city>.<family>.json, rewritten every few seconds
-- while it runs and once more when it stops (stopped = true). updated_at is when it was written,
-- connected_since the open WebSocket connection's start (NULL: disconnected, or REST mode), and
-- gaps, resyncs and disconnects the run's counters so far. The per-market and per-channel parts
-- are read by `kalshi-lake status` (kalshi_lake.live.heartbeat).
-- Invariant: one row per heartbeat file; times UTC.
CREATE OR REPLACE MACRO live_heartbeats_in() AS TABLE
SELECT
    h.city,
    h.family,
    h.run_id,
    h.host,
    h.pid,
    h.stream,
    h.books,
    h.every_s,
    make_timestamptz(h.updated_us) AS updated_at,
    make_timestamptz(h.connected_since_us) AS connected_since,
    coalesce(h.stopped, false) AS stopped,
    h.gaps,
    h.resyncs,
    h.disconnects
FROM read_json(
    lake_root() || '/_state/live/*.json',
    format = 'auto',
    columns = {
        'city': 'VARCHAR',
        'family': 'VARCHAR',
        'run_id': 'VARCHAR',
        'host': 'VARCHAR',
        'pid': 'BIGINT',
        'stream': 'VARCHAR',
        'books': 'VARCHAR',
        'every_s': 'DOUBLE',
        'updated_us': 'BIGINT',
        'connected_since_us': 'BIGINT',
        'stopped': 'BOOLEAN',
        'gaps': 'BIGINT',
        'resyncs': 'BIGINT',
        'disconnects': 'BIGINT'
    }
) AS h;
