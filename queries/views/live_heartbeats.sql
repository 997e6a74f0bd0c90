-- view: live_heartbeats
-- Every follower heartbeat of the lake (live_heartbeats_in), for the status command and the
-- live_heartbeat_stale check.
-- Invariant: the columns of live_heartbeats_in().
CREATE OR REPLACE VIEW live_heartbeats AS
SELECT *
FROM live_heartbeats_in();
