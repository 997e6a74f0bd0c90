"""The report's live section: a follower's heartbeat shows as its mode, state and lag; a lake
with nothing else in it still gives a page."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from kalshi_lake.lake.storage import Lake
from kalshi_lake.live.heartbeat import heartbeat_path
from kalshi_lake.report import build_report, render_report

NOW = dt.datetime(2026, 11, 21, 15, 0, tzinfo=dt.UTC)


def _us(at: dt.datetime) -> int:
    return int(at.timestamp()) * 1_000_000


def test_live_section_from_a_heartbeat(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    beat = {
        "city": "chicago",
        "family": "high",
        "run_id": "run-1",
        "pid": 4242,
        "host": "box",
        "stream": "ws",
        "books": "ws",
        "every_s": 5.0,
        "updated_us": _us(NOW - dt.timedelta(seconds=4)),
        "connected_since_us": _us(NOW - dt.timedelta(hours=1)),
        "last_frame_us": {"trade": _us(NOW - dt.timedelta(seconds=30))},
        "markets": {},
        "gaps": 0,
        "resyncs": 0,
        "disconnects": 0,
        "stopped": False,
    }
    lake.write_bytes(json.dumps(beat).encode(), heartbeat_path("chicago", "high"))
    data = build_report(lake, checks=False, now=NOW)
    assert data.cells == [] and data.status == []
    (row,) = data.live
    assert (row["city"], row["mode"], row["alive"], row["lag_s"]) == ("chicago", "ws/ws", True, 4.0)
    page = render_report(data)
    assert "<td>chicago</td><td>high</td><td>ws/ws</td><td>alive</td>" in page
    assert "holds no events yet" in page
