"""What ``follow`` says about itself for ``kalshi-lake status`` and the live checks.

Two kinds of record, both in the lake:

- **A heartbeat** per city and family, ``_state/live/<city>.<family>.json``, rewritten every few
  seconds (:func:`write_heartbeat`): the mode, the connection, the last frame per channel and,
  per followed market, when it was last known *current* (:class:`Freshness`). ``status`` reads
  it (:func:`read_heartbeats`, :func:`market_lags`); its age tells a live follower from a dead
  one.
- **Events** in ``raw/ws`` (direction ``event``, partition ``city=_connection``): the session's
  own (connected, disconnected, gap, resync, closed) and the follower's (``follow_started``,
  ``catch_up``: a REST catch-up pass, with when it started and whether it finished). Every event
  body carries the cities and families its run followed (:func:`tag_event`), since a gap on the
  one connection concerns every followed market, and the run that made it may be weeks old.

**Lag.** A market's lag is how long ago the lake was last known to hold everything of it: the
later of its last frame and the last heartbeat at which it was on an acknowledged subscription
of an open connection (WebSocket), or was in a finished order book poll or catch-up pass (REST).
So a quiet market on a live connection stays current (it has nothing to say), while a dead
follower, a long disconnect or a followed market missing from the subscriptions falls behind
from that moment on.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from kalshi_lake.lake.state import STATE_DIR
from kalshi_lake.lake.storage import Lake
from kalshi_lake.live.records import FrameRecord
from kalshi_lake.log import get_logger

log = get_logger(__name__)

#: Where the heartbeats are, relative to the lake root.
HEARTBEAT_DIR = f"{STATE_DIR}/live"

#: A heartbeat older than this (or six beats, when beats are rarer) is a dead follower's.
STALE_AFTER_S = 60.0

#: The ``conn_id`` suffix of the follower's own events (connections are numbered from 1).
FOLLOWER_CONN = "follow"


def heartbeat_path(city: str, family: str) -> str:
    """``_state/live/<city>.<family>.json``."""
    return f"{HEARTBEAT_DIR}/{city}.{family}.json"


def stale_after_s(every_s: float | None) -> float:
    """How old a heartbeat written every ``every_s`` seconds may get before it is stale."""
    return max(STALE_AFTER_S, 6 * (every_s or 0.0))


class Freshness:
    """Per market: its last frame, and the last instant it was known current (see the module
    doc)."""

    def __init__(self) -> None:
        self.last_frame_us: dict[str, int] = {}
        self.current_us: dict[str, int] = {}

    def seen(self, ticker: str, at_us: int) -> None:
        """A frame of ``ticker`` arrived at ``at_us``."""
        self.last_frame_us[ticker] = at_us
        if at_us > self.current_us.get(ticker, 0):
            self.current_us[ticker] = at_us

    def confirm(self, tickers: Iterable[str], at_us: int) -> None:
        """Everything of ``tickers`` up to ``at_us`` is recorded (subscribed and connected, or
        polled)."""
        for t in tickers:
            if at_us > self.current_us.get(t, 0):
                self.current_us[t] = at_us


def beat_body(
    *,
    city: str,
    family: str,
    run_id: str,
    stream: str,
    books: str,
    every_s: float,
    now_us: int,
    connected_since_us: int | None,
    last_frame_us: Mapping[str, int],
    markets: Sequence[str],
    subscribed: Iterable[str],
    freshness: Freshness,
    counters: Mapping[str, int],
    stopped: bool,
) -> dict[str, Any]:
    """The heartbeat of one city and family (JSON-able)."""
    on = set(subscribed)
    return {
        "city": city,
        "family": family,
        "run_id": run_id,
        "pid": os.getpid(),
        "host": os.uname().nodename,
        "stream": stream,
        "books": books,
        "every_s": every_s,
        "updated_us": now_us,
        "connected_since_us": connected_since_us,
        "last_frame_us": dict(last_frame_us),
        "markets": {
            t: {
                "last_frame_us": freshness.last_frame_us.get(t),
                "current_us": freshness.current_us.get(t),
                "subscribed": t in on,
            }
            for t in sorted(markets)
        },
        **{k: int(v) for k, v in counters.items()},
        "stopped": stopped,
    }


def write_heartbeat(lake: Lake, body: Mapping[str, Any]) -> None:
    """Replace the heartbeat of ``body``'s city and family (one atomic write)."""
    data = json.dumps(body, sort_keys=True).encode()
    lake.write_bytes(data, heartbeat_path(str(body["city"]), str(body["family"])))


def read_heartbeats(lake: Lake) -> list[dict[str, Any]]:
    """Every heartbeat of the lake, sorted by city and family; an unreadable one is skipped with
    a warning (a follower rewrites it within seconds)."""
    out = []
    for path in lake.ls_files(HEARTBEAT_DIR):
        name = path.rsplit("/", 1)[-1]
        if not name.endswith(".json"):
            continue
        try:
            body = json.loads(lake.read_bytes(f"{HEARTBEAT_DIR}/{name}"))
        except (OSError, ValueError) as exc:
            log.warning("heartbeat %s unreadable: %s", name, exc)
            continue
        if isinstance(body, dict) and isinstance(body.get("city"), str):
            out.append(body)
    out.sort(key=lambda b: (b["city"], str(b.get("family"))))
    return out


def beat_age_s(beat: Mapping[str, Any], now_us: int) -> float:
    """Seconds since the heartbeat was written."""
    return max(0.0, (now_us - int(beat.get("updated_us") or 0)) / 1e6)


def alive(beat: Mapping[str, Any], now_us: int) -> bool:
    """The follower runs: not stopped, and its heartbeat is recent."""
    return not beat.get("stopped") and beat_age_s(beat, now_us) <= stale_after_s(
        beat.get("every_s")
    )


def market_lags(beat: Mapping[str, Any], now_us: int) -> dict[str, float | None]:
    """Per followed market, its lag in seconds at ``now_us`` (None: never current)."""
    lags: dict[str, float | None] = {}
    for ticker, m in (beat.get("markets") or {}).items():
        current = m.get("current_us") if isinstance(m, dict) else None
        lags[ticker] = None if not current else max(0.0, (now_us - int(current)) / 1e6)
    return lags


def tag_event(rec: FrameRecord, cities: Sequence[str], families: Sequence[str]) -> FrameRecord:
    """An event record whose body also names the cities and families its run follows."""
    try:
        body = json.loads(rec.body)
    except ValueError:
        return rec
    if not isinstance(body, dict):
        return rec
    body["follows"] = {"cities": list(cities), "families": list(families)}
    return dataclasses.replace(rec, body=json.dumps(body, separators=(",", ":")))
