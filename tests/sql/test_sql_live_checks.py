"""The live checks (live_gap_unrepaired, live_heartbeat_stale) and views (live_events,
live_heartbeats): silent on a follower's clean history, each firing on exactly its defect."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest
from sql_lakefactory import NOW, LakeData
from sql_livefactory import RUN, LiveData, clean_live, heartbeat

from kalshi_lake.lake.storage import Lake
from kalshi_lake.sql import connect
from kalshi_lake.sql.checks import CheckResult, run_checks

LIVE_CHECKS = ("live_gap_unrepaired", "live_heartbeat_stale")


def _lake(tmp_path: Path, data: LakeData, live: LiveData) -> Lake:
    lake = data.write(tmp_path / "lake")
    live.write(lake)
    return lake


def _failing(results: list[CheckResult]) -> dict[str, CheckResult]:
    for r in results:
        assert r.error is None, (r.name, r.error)
    return {r.name: r for r in results if not r.passed}


def test_a_clean_follower_history_passes_every_check(tmp_path: Path, clean_data: LakeData) -> None:
    lake = _lake(tmp_path, clean_data, clean_live(NOW))
    assert _failing(run_checks(lake, as_of=NOW)) == {}
    con = connect(lake)
    events = con.sql("SELECT event, count(*) FROM live_events GROUP BY ALL").fetchall()
    assert dict(events) == {
        "follow_started": 1,
        "connected": 2,
        "gap": 4,
        "resync": 1,
        "catch_up": 2,
        "disconnected": 1,
    }
    gaps = con.sql("SELECT DISTINCT run_id, cities FROM live_events WHERE event = 'gap'")
    assert gaps.fetchall() == [(RUN, ["chicago"])]
    beats = con.sql(
        "SELECT city, family, stopped, updated_at FROM live_heartbeats ORDER BY city"
    ).fetchall()
    assert [(c, f, s) for c, f, s, _ in beats] == [
        ("chicago", "high", False),
        ("nyc", "high", True),
    ]
    assert beats[0][3] == NOW - dt.timedelta(seconds=4)


def no_resync_snapshot(live: LiveData) -> None:
    """The order book gap's get_snapshot was never answered."""
    live.frames = [f for f in live.frames if f["msg_type"] != "orderbook_snapshot"]


def no_catch_up_after_disconnect(live: LiveData) -> None:
    """The catch-up pass after the reconnect failed (ok false)."""
    last = [f for f in live.frames if f["msg_type"] == "catch_up"][-1]
    last["body"] = last["body"].replace('"ok": true', '"ok": false')


def follower_died(live: LiveData) -> None:
    """The running follower's last heartbeat is ten minutes old and it never said it stopped."""
    live.heartbeats[0] = heartbeat("chicago", "high", NOW - dt.timedelta(minutes=10))


DEFECTS: dict[str, tuple[Callable[[LiveData], None], str, int]] = {
    "snapshot": (no_resync_snapshot, "live_gap_unrepaired", 1),
    # the disconnect and the trade gap before it: the earlier pass repaired only the gap
    "catch_up": (no_catch_up_after_disconnect, "live_gap_unrepaired", 1),
    "heartbeat": (follower_died, "live_heartbeat_stale", 1),
}


@pytest.mark.parametrize("defect", sorted(DEFECTS))
def test_each_live_check_fires_on_exactly_its_defect(
    tmp_path: Path, clean_data: LakeData, defect: str
) -> None:
    seed, check, rows = DEFECTS[defect]
    live = clean_live(NOW)
    seed(live)
    lake = _lake(tmp_path, clean_data, live)
    failing = _failing(run_checks(lake, as_of=NOW, only=list(LIVE_CHECKS)))
    assert set(failing) == {check}
    assert failing[check].offending == rows


def test_the_unrepaired_rows_name_the_hole(tmp_path: Path, clean_data: LakeData) -> None:
    live = clean_live(NOW)
    no_resync_snapshot(live)
    lake = _lake(tmp_path, clean_data, live)
    (result,) = run_checks(lake, as_of=NOW, only=["live_gap_unrepaired"])
    row = result.sample[0]
    assert (row["event"], row["channel"], row["sid"], row["kind"]) == (
        "gap",
        "orderbook_delta",
        3,
        "gap",
    )
    # a young hole is not reported yet, an old enough one is
    (later,) = run_checks(lake, as_of=NOW + dt.timedelta(minutes=20), only=["live_gap_unrepaired"])
    assert later.offending == 2


def test_city_scope_keeps_the_runs_that_followed_it(tmp_path: Path, clean_data: LakeData) -> None:
    live = clean_live(NOW)
    no_resync_snapshot(live)
    follower_died(live)
    lake = _lake(tmp_path, clean_data, live)
    other = run_checks(lake, cities=["phoenix"], as_of=NOW, only=list(LIVE_CHECKS))
    assert all(r.passed for r in other)
    mine = run_checks(lake, cities=["chicago"], as_of=NOW, only=list(LIVE_CHECKS))
    assert not any(r.passed for r in mine)
