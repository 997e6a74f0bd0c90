"""``run_follow(..., clock=)``: the follower judges which markets are open and which days are
current by the clock it is handed, not by the real one."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from follow_support import SimFollow

from kalshi_lake.cities import get_city
from kalshi_lake.live.follow import FollowOptions, run_follow
from kalshi_lake.sim import SimConfig, World
from kalshi_lake.sim.config import FIXTURE_SEED


def test_follow_judges_open_markets_by_the_clock_it_is_handed(
    tmp_path: Path, sim_follow: SimFollow
) -> None:
    # The simulator's clock stands still at 12:00 UTC (07:00 in New York) of a day three weeks
    # before the real one: that day's ladders trade, the next day's are listed but open only at
    # 10:00 New York time. Handed a clock one day ahead, the follower takes the next day's
    # ladders as open (unopened, opening before its "now"), and lists markets closing after
    # its own "now" less the look-back: with the real clock (the parameter ignored) the
    # simulator would list nothing that far ahead of its day, and with the simulator's own
    # clock the next day's ladders would still be an hour and more from opening.
    sim_now = dt.datetime.combine(
        dt.datetime.now(dt.UTC).date() - dt.timedelta(days=21), dt.time(12), dt.UTC
    )
    day = sim_now.date()
    chicago = get_city("chicago")
    world = World(FIXTURE_SEED, sim_now)
    tomorrow = world.event(chicago, day + dt.timedelta(days=1))
    assert tomorrow is not None
    tomorrows = {m.ticker for m in tomorrow.markets}
    assert {m.status(world.now_us) for m in tomorrow.markets} <= {"initialized", "unopened"}

    lake = tmp_path / "lake"
    # one discovery and one catch-up pass (both at the start), no order books, no transform
    options = FollowOptions(orderbook="off", duration_s=3, catch_up_every_s=60, transform_every_s=0)
    with sim_follow(SimConfig(seed=FIXTURE_SEED, now=sim_now), lake) as (sim, settings):
        summary = run_follow(
            settings,
            [chicago],
            families=["high"],
            options=options,
            clock=lambda: sim.clock.now() + dt.timedelta(days=1),
        )
    assert summary.mode.stream == "rest"
    beat = json.loads((lake / "_state/live/chicago.high.json").read_text())
    followed = set(beat["markets"])
    assert tomorrows <= followed
    # The catch-up pass took the clock's day as today too: from two days before it (the
    # simulator's yesterday) to the day after it; the simulator's day before yesterday is not
    # fetched. (The first pass starts at once; a pass still running at the stop is not counted
    # in the summary, but its thread finishes before run_follow returns, so its pages are here.)
    fetched = {p.name for p in lake.glob("raw/trades/city=chicago/date=*")}
    assert f"date={day - dt.timedelta(days=1)}" in fetched
    assert f"date={day - dt.timedelta(days=2)}" not in fetched
