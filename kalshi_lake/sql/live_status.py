"""The live part of ``kalshi-lake status``: what ``follow`` is doing, per city and family.

Read from the lake only: the follower's heartbeats (``_state/live/``, see
:mod:`kalshi_lake.live.heartbeat`) and its event records in ``raw/ws`` (the ``live_events``
view). One row per heartbeat: mode, alive or not, connected since, last frame per channel, the
followed markets and the largest lag among them, and the gaps, resyncs and disconnects of the last
24 hours. :func:`stale_markets` is ``status --max-lag``: what a cron alert names.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import duckdb

from kalshi_lake.lake.storage import Lake
from kalshi_lake.live.heartbeat import alive, beat_age_s, market_lags, read_heartbeats
from kalshi_lake.sql.access import query_error
from kalshi_lake.sql.connection import attach_filesystem, new_connection, register_views

#: How far back the event counts of a status row reach.
EVENTS_WINDOW = dt.timedelta(hours=24)

_EVENT_COUNTS = """
WITH per_city AS (
    SELECT e.event, e.kind, unnest(e.cities) AS city, e.families
    FROM live_events AS e
    WHERE e.date >= CAST($since AS DATE) AND e.recv_at >= $since
)
SELECT
    p.city,
    p.family,
    count(*) FILTER (WHERE p.event = 'gap' AND p.kind IN ('gap', 'overflow')) AS gaps,
    count(*) FILTER (WHERE p.event = 'resync') AS resyncs,
    count(*) FILTER (WHERE p.event = 'disconnected') AS disconnects,
    count(*) FILTER (WHERE p.event = 'connected') AS connects
FROM (SELECT c.event, c.kind, c.city, unnest(c.families) AS family FROM per_city AS c) AS p
GROUP BY p.city, p.family
"""


def _us_time(us: Any) -> dt.datetime | None:
    if not isinstance(us, int) or us <= 0:
        return None
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC)


def event_counts(lake: Lake, since: dt.datetime) -> dict[tuple[str, str], dict[str, int]]:
    """Per (city, family) followed: gaps, resyncs, disconnects and connects recorded since
    ``since`` (holes of a connection count for every city and family its run followed)."""
    if not lake.has_files("raw", "ws"):
        return {}
    # not connect(): its note about tables without files is the status table's business
    con = new_connection()
    try:
        attach_filesystem(con, lake)
        register_views(con, lake)
        rows = con.execute(_EVENT_COUNTS, {"since": since}).fetchall()
    except duckdb.Error as exc:
        raise query_error(exc, "status") from None
    finally:
        con.close()
    return {
        (str(c), str(f)): {"gaps": g, "resyncs": r, "disconnects": d, "connects": n}
        for c, f, g, r, d, n in rows
    }


def live_status(
    lake: str | Lake, cities: Sequence[str] | None = None, *, now: dt.datetime | None = None
) -> list[dict[str, Any]]:
    """One row per follower heartbeat (of ``cities``, or all), as of ``now`` (default: now).

    ``lag_s`` is the largest lag of the followed markets (see
    :mod:`~kalshi_lake.live.heartbeat`; None when one was never current), or the heartbeat's age
    when no market is followed; ``markets`` maps each followed market to its lag.
    """
    lk = Lake.of(lake)
    now = now or dt.datetime.now(dt.UTC)
    now_us = int(now.timestamp()) * 1_000_000 + now.microsecond
    beats = [b for b in read_heartbeats(lk) if cities is None or b["city"] in cities]
    counts = event_counts(lk, now - EVENTS_WINDOW) if beats else {}
    rows = []
    for b in beats:
        lags = market_lags(b, now_us)
        known = [v for v in lags.values() if v is not None]
        if not lags:
            lag: float | None = beat_age_s(b, now_us)
        elif len(known) < len(lags):
            lag = None
        else:
            lag = max(known)
        per = counts.get((b["city"], str(b.get("family"))), {})
        markets = b.get("markets") or {}
        rows.append(
            {
                "city": b["city"],
                "family": b.get("family"),
                "mode": f"{b.get('stream')}/{b.get('books')}",
                "alive": alive(b, now_us),
                "stopped": bool(b.get("stopped")),
                "run_id": b.get("run_id"),
                "host": b.get("host"),
                "pid": b.get("pid"),
                "heartbeat_at": _us_time(b.get("updated_us")),
                "heartbeat_age_s": round(beat_age_s(b, now_us), 1),
                "connected_since": _us_time(b.get("connected_since_us")),
                "last_frame": {
                    ch: _us_time(us) for ch, us in sorted((b.get("last_frame_us") or {}).items())
                },
                "markets": {t: None if v is None else round(v, 1) for t, v in lags.items()},
                "subscribed": sum(
                    1 for m in markets.values() if isinstance(m, dict) and m.get("subscribed")
                ),
                "lag_s": None if lag is None else round(lag, 1),
                "gaps_24h": per.get("gaps", 0),
                "resyncs_24h": per.get("resyncs", 0),
                "disconnects_24h": per.get("disconnects", 0),
                "connects_24h": per.get("connects", 0),
            }
        )
    return rows


def stale_markets(
    rows: Sequence[dict[str, Any]], max_lag_s: float, cities: Sequence[str] | None = None
) -> list[str]:
    """What ``status --max-lag`` names: each followed market lagging more than ``max_lag_s``
    (or never current); a follower without markets whose heartbeat is that old; and, for
    ``cities`` named, each one no follower follows (a city followed for some families only is
    not stale for the others: which families to follow is a choice)."""
    out = []
    for r in rows:
        where = f"{r['city']}/{r['family']}"
        if not r["markets"]:
            if not r["alive"] and r["heartbeat_age_s"] > max_lag_s:
                out.append(f"{where} (no follower: heartbeat {r['heartbeat_age_s']:.0f} s old)")
            continue
        for ticker, lag in r["markets"].items():
            if lag is None:
                out.append(f"{ticker} (never current)")
            elif lag > max_lag_s:
                out.append(f"{ticker} ({lag:.0f} s)")
    followed = {r["city"] for r in rows}
    out += [f"{city} (not followed)" for city in cities or () if city not in followed]
    return out


def _span(seconds: float) -> str:
    """``42 s``, ``17 min``, ``26 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.0f} h"


def _ago(at: dt.datetime | None, now: dt.datetime) -> str:
    if at is None:
        return "-"
    return f"{_span(max(0.0, (now - at).total_seconds()))} ago"


def live_table(rows: Sequence[dict[str, Any]], *, now: dt.datetime, width: int = 80) -> Any:
    """The live rows as a rich Table at most ``width`` wide."""
    from kalshi_lake.console import Column, fit_table

    columns = [
        Column("city", wrap=False),
        Column("family", wrap=False, priority=9),
        Column("mode", wrap=False, priority=6),
        Column("state", wrap=False, priority=10),
        Column("lag", "right", wrap=False, priority=10),
        Column("markets\n(subscr.)", "right", wrap=False, priority=8),
        Column("24 h: gaps/\nresyncs/disc.", "right", wrap=False, priority=7),
        Column("connected", wrap=False, priority=4),
        Column("last frame", priority=3),
    ]
    table_rows = []
    for r in rows:
        state = "alive" if r["alive"] else "stopped" if r["stopped"] else "DEAD"
        last = r["last_frame"]
        table_rows.append(
            [
                r["city"],
                r["family"] or "-",
                r["mode"],
                f"{state} ({_span(r['heartbeat_age_s'])})",
                "never" if r["lag_s"] is None else _span(r["lag_s"]),
                f"{len(r['markets'])} ({r['subscribed']})",
                f"{r['gaps_24h']}/{r['resyncs_24h']}/{r['disconnects_24h']}",
                _ago(r["connected_since"], now),
                ", ".join(f"{ch} {_ago(at, now)}" for ch, at in last.items()) or "-",
            ]
        )
    return fit_table(columns, table_rows, width=width, title="follow", more="see them with --json")
