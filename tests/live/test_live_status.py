"""``follow`` then ``status`` on the simulator: every gap, resync and disconnect the recorder
met is a record that ``status`` counts and the live checks read; a running follower's markets
are current, a stopped one's are stale."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest
from follow_support import SimFollow, busy_now

from kalshi_lake.cities import get_city
from kalshi_lake.lake.storage import Lake
from kalshi_lake.live.follow import FollowOptions, run_follow
from kalshi_lake.sim import SimConfig
from kalshi_lake.sim.config import FIXTURE_SEED
from kalshi_lake.sql import connect
from kalshi_lake.sql.checks import run_checks
from kalshi_lake.sql.live_status import live_status, stale_markets


@pytest.mark.slow
def test_gaps_resyncs_and_disconnects_are_records_that_status_and_checks_read(
    tmp_path: Path,
    key_files: tuple[Path, str],
    sim_follow: SimFollow,
    fast_follow: FollowOptions,
) -> None:
    key, pub = key_files
    # the simulated day starts at a busy hour, so the frames dropped and the gaps they make do
    # not depend on when the tests run; 6 simulated minutes a second: cuts 20 and 70 simulated
    # minutes in (3 s and 12 s real)
    start = busy_now()
    cuts = (start + dt.timedelta(minutes=20), start + dt.timedelta(minutes=70))
    cfg = SimConfig(
        seed=FIXTURE_SEED,
        now=start,
        speed=360,
        ws_public_key=pub,
        ws_drop_rate=0.03,
        ws_disconnect_at=cuts,
    )
    lake = tmp_path / "lake"
    opts = dataclasses.replace(fast_follow, catch_up_every_s=6)
    with sim_follow(cfg, lake, key) as (sim, settings):
        summary = run_follow(
            settings, [get_city("chicago")], families=["high"], options=opts, clock=sim.clock.now
        )
    assert summary.disconnects == 2 and summary.gaps >= 1 and summary.resyncs >= 1
    now = dt.datetime.now(dt.UTC)
    (row,) = live_status(Lake(str(lake)), now=now)
    assert (row["city"], row["family"], row["mode"]) == ("chicago", "high", "ws/ws")
    assert row["stopped"] and not row["alive"] and row["connected_since"] is None
    # every hole the session counted is a record in the lake, counted for the city it follows
    assert row["gaps_24h"] == summary.gaps
    assert row["resyncs_24h"] == summary.resyncs
    assert row["disconnects_24h"] == 2 and row["connects_24h"] == 3
    assert row["markets"] and row["last_frame"]["trade"] is not None
    # the run stopped: an hour on, its markets are stale
    later = live_status(Lake(str(lake)), now=now + dt.timedelta(hours=1))
    assert len(stale_markets(later, 60)) == len(row["markets"])
    # the holes were repaired: order book gaps by their resync snapshots, the rest by a catch-up
    # pass begun after them (one the run had no time left for, in its last seconds, is the one
    # kind the check may still name)
    con = connect(Lake(str(lake)))
    (last_pass,) = con.sql(
        "SELECT max(started_at) FROM live_events WHERE event = 'catch_up' AND ok"
    ).fetchall()[0]
    assert last_pass is not None
    (result,) = run_checks(con, as_of=now + dt.timedelta(hours=1), only=["live_gap_unrepaired"])
    assert result.error is None
    assert result.offending == len(result.sample)
    assert all(r["recv_at"] > last_pass for r in result.sample), result.sample
    assert all(r["channel"] != "orderbook_delta" for r in result.sample), result.sample


@pytest.mark.slow
def test_rest_mode_markets_polled_are_current_and_a_stop_makes_them_stale(
    tmp_path: Path, sim_follow: SimFollow
) -> None:
    # the simulated clock at real speed: the followed markets do not change during the run
    lake = tmp_path / "lake"
    opts = FollowOptions(
        duration_s=8, discover_every_s=60, catch_up_every_s=60, book_every_s=1, roll_every_s=60
    )
    with sim_follow(SimConfig(seed=FIXTURE_SEED, speed=1), lake) as (_, settings):
        summary = run_follow(settings, [get_city("nyc")], families=["high"], options=opts)
    assert summary.book_polls >= 3
    now = dt.datetime.now(dt.UTC)
    (row,) = live_status(Lake(str(lake)), now=now)
    assert row["mode"] == "rest/rest" and row["stopped"] and row["subscribed"] == 0
    # every followed market was in an order book poll a moment ago: none is stale at a minute
    assert row["markets"] and all(lag is not None and lag < 30 for lag in row["markets"].values())
    assert stale_markets([row], 60) == []
    # the stopped follower's markets fall behind from the moment it stopped
    later = live_status(Lake(str(lake)), now=now + dt.timedelta(minutes=5))
    assert len(stale_markets(later, 60)) == len(row["markets"])
