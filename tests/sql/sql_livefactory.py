"""A follower's records for the SQL tests: raw/ws event and snapshot frames and heartbeats,
written straight into a lake (the shapes the live recorder writes; see kalshi_lake.live).

:func:`clean_live` is a history with every kind of hole, each repaired: an order book gap
answered by a resync snapshot, a trade gap and a disconnect each followed by a finished REST
catch-up pass, a repeated seq (not a hole) and a fresh gap the follower has not had time for.
Its live heartbeat is current at ``NOW``; a second follower stopped cleanly a day before.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from kalshi_lake.lake.raw import FRAME_SCHEMA, frame_partition_dir
from kalshi_lake.lake.storage import Lake
from kalshi_lake.live.heartbeat import heartbeat_path

RUN = "20261121T120000Z-aaaaaa"
FOLLOWS = {"cities": ["chicago"], "families": ["high"]}
BOOK_MARKET = "KXHIGHCHI-26NOV21-B40.5"


def us(at: dt.datetime) -> int:
    """UTC microseconds since the epoch."""
    return int(at.timestamp()) * 1_000_000 + at.microsecond


@dataclass
class LiveData:
    """Frames (dicts of FRAME_SCHEMA plus ``city``) and heartbeat bodies; mutate, then write."""

    frames: list[dict[str, Any]] = field(default_factory=list)
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    _numbers: dict[str, int] = field(default_factory=dict)

    def event(
        self,
        at: dt.datetime,
        what: str,
        conn: str = "1",
        channel: str | None = None,
        sid: int | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        """A recorder event of connection ``<RUN>.<conn>`` (``follow``: the follower's own)."""
        conn_id = f"{RUN}.{conn}"
        self._numbers[conn_id] = self._numbers.get(conn_id, 0) + 1
        body = {"event": what, "at_us": us(at), **fields, "follows": FOLLOWS}
        if channel:
            body["channel"] = channel
        if sid is not None:
            body["sid"] = sid
        row = {
            "recv_at": at,
            "conn_id": conn_id,
            "frame_no": self._numbers[conn_id],
            "direction": "event",
            "channel": channel,
            "msg_type": what,
            "sid": sid,
            "seq": None,
            "market_ticker": None,
            "body": json.dumps(body),
            "city": "_connection",
        }
        self.frames.append(row)
        return row

    def snapshot(self, at: dt.datetime, sid: int, conn: str = "1") -> dict[str, Any]:
        """An order book snapshot frame of :data:`BOOK_MARKET` on ``sid``."""
        conn_id = f"{RUN}.{conn}"
        self._numbers[conn_id] = self._numbers.get(conn_id, 0) + 1
        msg = {"market_ticker": BOOK_MARKET, "yes_dollars_fp": [], "no_dollars_fp": []}
        row = {
            "recv_at": at,
            "conn_id": conn_id,
            "frame_no": self._numbers[conn_id],
            "direction": "in",
            "channel": "orderbook_delta",
            "msg_type": "orderbook_snapshot",
            "sid": sid,
            "seq": 7,
            "market_ticker": BOOK_MARKET,
            "body": json.dumps({"type": "orderbook_snapshot", "sid": sid, "seq": 7, "msg": msg}),
            "city": "chicago",
        }
        self.frames.append(row)
        return row

    def write(self, lake: Lake) -> None:
        """One raw/ws file per (city, date) partition, one file per heartbeat."""
        parts: dict[str, list[dict[str, Any]]] = {}
        for f in self.frames:
            date = f["recv_at"].date() if f["city"] == "_connection" else dt.date(2026, 11, 21)
            parts.setdefault(frame_partition_dir(f["city"], date), []).append(f)
        for folder, rows in parts.items():
            cols = {n: [r[n] for r in rows] for n in FRAME_SCHEMA.names}
            table = pa.table(cols, schema=FRAME_SCHEMA)
            path = lake.path(folder, "seg-000001.parquet")
            lake.fs.makedirs(lake.path(folder), exist_ok=True)
            with lake.fs.open(path, "wb") as fh:
                pq.write_table(table, fh)
        for beat in self.heartbeats:
            lake.write_bytes(
                json.dumps(beat).encode(), heartbeat_path(beat["city"], beat["family"])
            )


def heartbeat(
    city: str, family: str, updated: dt.datetime, *, stopped: bool = False, run: str = RUN
) -> dict[str, Any]:
    """A heartbeat body as ``follow`` writes it (every 5 s, connected an hour before)."""
    return {
        "city": city,
        "family": family,
        "run_id": run,
        "pid": 4242,
        "host": "box",
        "stream": "ws",
        "books": "ws",
        "every_s": 5.0,
        "updated_us": us(updated),
        "connected_since_us": None if stopped else us(updated - dt.timedelta(hours=1)),
        "last_frame_us": {"trade": us(updated - dt.timedelta(seconds=30))},
        "markets": {},
        "gaps": 2,
        "resyncs": 1,
        "disconnects": 1,
        "stopped": stopped,
    }


def clean_live(now: dt.datetime) -> LiveData:
    """Every kind of hole, each repaired (see the module doc); heartbeats as of ``now``."""
    d = LiveData()
    h = dt.timedelta(hours=1)
    m = dt.timedelta(minutes=1)
    d.event(now - 3 * h, "follow_started", conn="follow", stream="ws", books="ws")
    d.event(now - 3 * h, "connected")
    d.event(now - 2 * h, "gap", channel="orderbook_delta", sid=3, expected=5, got=9, kind="gap")
    d.event(now - 2 * h, "resync", channel="orderbook_delta", sid=3, markets=[BOOK_MARKET])
    d.snapshot(now - 2 * h + dt.timedelta(seconds=1), sid=3)
    d.event(now - 90 * m, "gap", channel="trade", sid=2, expected=5, got=8, kind="gap")
    d.event(now - 89 * m, "catch_up", conn="follow", started_us=us(now - 89 * m), ok=True)
    d.event(now - 60 * m, "gap", channel="trade", sid=2, expected=9, got=9, kind="repeat")
    d.event(now - 50 * m, "disconnected", reason="connection closed")
    d.event(now - 49 * m, "connected", conn="2")
    d.event(now - 48 * m, "catch_up", conn="follow", started_us=us(now - 48 * m), ok=True)
    d.event(now - 3 * m, "gap", conn="2", channel="trade", sid=2, expected=3, got=4, kind="gap")
    d.heartbeats = [
        heartbeat("chicago", "high", now - dt.timedelta(seconds=4)),
        heartbeat("nyc", "high", now - dt.timedelta(days=1), stopped=True, run="old"),
    ]
    return d
