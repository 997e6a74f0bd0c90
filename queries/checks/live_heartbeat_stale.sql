-- check: live_heartbeat_stale
-- level: warn
-- Invariant: a follower that has not stopped writes its heartbeat (live_heartbeats) at least
-- every minute: a row is a heartbeat of a run that did not stop cleanly (stopped = false) and was
-- last written more than max(60 s, six beats) before check_as_of (default: now). Its process
-- died (kill -9, a crash, the machine went down) or hangs; its markets are not being recorded.
-- Restart `kalshi-lake follow` (a systemd unit restarts it by itself: README, Live: follow). A
-- follower stopped on purpose (Ctrl-C, SIGTERM, --for) says so and is not stale. Only warns:
-- the lake itself is intact, only its freshness is at stake. (check_city keeps that city.)
SELECT
    h.city,
    h.family,
    h.run_id,
    h.host,
    h.pid,
    h.updated_at,
    coalesce(getvariable('check_as_of'), now()) - h.updated_at AS age
FROM live_heartbeats AS h
WHERE NOT h.stopped
  AND h.updated_at < coalesce(getvariable('check_as_of'), now())
    - to_seconds(greatest(60.0, 6 * coalesce(h.every_s, 0)))
  AND (getvariable('check_city') IS NULL OR h.city = getvariable('check_city'))
ORDER BY h.city, h.family;
