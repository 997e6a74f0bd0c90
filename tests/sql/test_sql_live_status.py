"""``kalshi-lake status`` for a followed lake: the follower rows (mode, alive, lag, gaps, resyncs
and disconnects in 24 h) and ``--max-lag``, over heartbeats and event records in the lake."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner
from sql_lakefactory import NOW, LakeData
from sql_livefactory import LiveData, clean_live, heartbeat, us

from kalshi_lake.cli import cli
from kalshi_lake.lake.storage import Lake
from kalshi_lake.live.heartbeat import Freshness, beat_body, write_heartbeat
from kalshi_lake.sql.live_status import live_status, stale_markets

QUIET = "KXHIGHCHI-26NOV21-B40.5"  # subscribed on the open connection, no frame for an hour
TRADED = "KXHIGHCHI-26NOV21-B42.5"  # a frame a second ago
DROPPED = "KXHIGHCHI-26NOV21-B44.5"  # followed, but off the subscriptions for ten minutes
NEW = "KXHIGHCHI-26NOV21-B46.5"  # followed, never on a subscription yet


def _beat(now: dt.datetime, *, down_s: float = 0, stopped: bool = False) -> dict[str, object]:
    """chicago/high as ``follow`` writes it at ``now`` (beats every 5 s), its connection down for
    the last ``down_s`` seconds (0: connected)."""
    connected = not down_s
    fresh = Freshness()
    fresh.seen(QUIET, us(now - dt.timedelta(hours=1)))
    fresh.confirm([DROPPED], us(now - dt.timedelta(minutes=10)))
    fresh.seen(TRADED, us(now - dt.timedelta(seconds=1)))
    fresh.confirm([QUIET, TRADED], us(now - dt.timedelta(seconds=down_s)))
    subscribed = [QUIET, TRADED] if connected else []
    return beat_body(
        city="chicago",
        family="high",
        run_id="run-1",
        stream="ws",
        books="ws",
        every_s=5,
        now_us=us(now),
        connected_since_us=us(now - dt.timedelta(hours=2)) if connected else None,
        last_frame_us={"trade": us(now - dt.timedelta(seconds=1))},
        markets=[QUIET, TRADED, DROPPED, NEW],
        subscribed=subscribed,
        freshness=fresh,
        counters={"gaps": 0, "resyncs": 0, "disconnects": 0},
        stopped=stopped,
    )


def test_status_rows_count_the_last_days_holes_per_followed_city(
    tmp_path: Path, clean_data: LakeData
) -> None:
    lake = clean_data.write(tmp_path / "lake")
    live = clean_live(NOW)
    # a day-old gap, outside the 24 hours
    live.event(NOW - dt.timedelta(hours=30), "gap", channel="trade", sid=2, kind="gap")
    live.write(lake)
    rows = {r["city"]: r for r in live_status(lake, now=NOW)}
    chi, nyc = rows["chicago"], rows["nyc"]
    assert (chi["mode"], chi["alive"], chi["stopped"]) == ("ws/ws", True, False)
    # three holes (the order book's, two of trades; a repeated seq is not one), one resync
    assert (chi["gaps_24h"], chi["resyncs_24h"], chi["disconnects_24h"]) == (3, 1, 1)
    assert chi["connects_24h"] == 2
    assert chi["connected_since"] == NOW - dt.timedelta(hours=1, seconds=4)
    assert chi["last_frame"] == {"trade": NOW - dt.timedelta(seconds=34)}
    # the stopped follower of nyc: not alive, and no event of its run is in the window
    assert (nyc["alive"], nyc["stopped"], nyc["gaps_24h"]) == (False, True, 0)
    assert live_status(lake, ["nyc"], now=NOW)[0]["city"] == "nyc"


def test_lag_keeps_a_quiet_subscribed_market_current_and_names_the_rest(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_heartbeat(lake, _beat(NOW))
    (row,) = live_status(lake, now=NOW + dt.timedelta(seconds=3))
    assert row["markets"] == {QUIET: 3.0, TRADED: 3.0, DROPPED: 603.0, NEW: None}
    assert row["lag_s"] is None and row["subscribed"] == 2
    assert stale_markets([row], 60) == [f"{DROPPED} (603 s)", f"{NEW} (never current)"]
    assert stale_markets([row], 900) == [f"{NEW} (never current)"]


def test_a_dead_follower_or_a_long_disconnect_makes_every_market_stale(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_heartbeat(lake, _beat(NOW))
    # the follower died at NOW: two minutes later nothing of it is current
    (row,) = live_status(lake, now=NOW + dt.timedelta(minutes=2))
    assert not row["alive"]
    assert {m.split(" ")[0] for m in stale_markets([row], 60)} == {QUIET, TRADED, DROPPED, NEW}
    # alive but disconnected for two minutes: the quiet market is no longer known current
    write_heartbeat(lake, _beat(NOW, down_s=120))
    (row,) = live_status(lake, now=NOW + dt.timedelta(seconds=2))
    assert row["alive"] and row["connected_since"] is None
    assert row["markets"][QUIET] == 122.0
    assert f"{QUIET} (122 s)" in stale_markets([row], 60)
    assert QUIET not in " ".join(stale_markets([row], 300))


def test_a_named_city_nobody_follows_is_stale(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_heartbeat(lake, _beat(NOW))
    rows = live_status(lake, ["chicago", "phoenix"], now=NOW)
    assert stale_markets(rows, 3600, ["chicago", "phoenix"]) == [
        f"{NEW} (never current)",
        "phoenix (not followed)",
    ]


def test_status_cli_max_lag_exits_1_naming_the_stale_markets(
    tmp_path: Path, clean_data: LakeData
) -> None:
    lake = clean_data.write(tmp_path / "lake")
    now = dt.datetime.now(dt.UTC)
    write_heartbeat(lake, _beat(now))
    LiveData(heartbeats=[heartbeat("nyc", "high", now, stopped=True)]).write(lake)
    runner = CliRunner()
    args = ["--lake", str(tmp_path / "lake"), "status", "--city", "chicago"]
    ok = runner.invoke(cli, [*args, "--json"])
    assert ok.exit_code == 0, ok.output
    report = json.loads(ok.stdout)
    assert [(r["city"], r["mode"], r["alive"]) for r in report["live"]] == [
        ("chicago", "ws/ws", True)
    ]
    assert report["stale"] == []
    stale = runner.invoke(cli, [*args, "--max-lag", "60"])
    assert stale.exit_code == 1
    assert "follow" in stale.stdout  # the follower table
    (line,) = stale.stderr.strip().splitlines()
    assert DROPPED in line and NEW in line and QUIET not in line and TRADED not in line
    fine = runner.invoke(cli, [*args, "--max-lag", "3600", "--json"])
    assert fine.exit_code == 1 and json.loads(fine.stdout)["stale"] == [f"{NEW} (never current)"]
    bad = runner.invoke(cli, [*args, "--max-lag", "0"])
    assert bad.exit_code == 2
