"""``follow`` end to end: the simulator's clock running at speed, the recorder on loopback, the
raw layer checked against the simulator's world."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from follow_support import SimFollow, busy_now, follow_two_cities

from kalshi_lake.cities import get_city
from kalshi_lake.config import Settings
from kalshi_lake.errors import ConfigError
from kalshi_lake.live.follow import FollowOptions, choose_mode, run_follow
from kalshi_lake.sim import SimConfig, World
from kalshi_lake.sim.config import FIXTURE_SEED


def _frames(lake: Path) -> list[tuple[str, str, str | None]]:
    files = sorted(lake.glob("raw/ws/city=*/date=*/*.parquet"))
    assert files, "no raw/ws files"
    con = duckdb.connect()
    rows = con.execute(
        "SELECT msg_type, body, market_ticker FROM read_parquet(?, hive_partitioning=true)",
        [[str(f) for f in files]],
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows]


@pytest.mark.slow
def test_follow_two_cities_records_every_trade_of_the_followed_markets(
    tmp_path: Path,
    key_files: tuple[Path, str],
    sim_follow: SimFollow,
    fast_follow: FollowOptions,
) -> None:
    key, pub = key_files
    # the simulated clock starts at a busy hour of today and runs 6 simulated minutes a second
    cfg = SimConfig(seed=FIXTURE_SEED, now=busy_now(), speed=360, ws_public_key=pub)
    lake = tmp_path / "lake"
    with sim_follow(cfg, lake, key) as (sim, settings):
        t_start = sim.clock.now_us()
        summary = follow_two_cities(sim, settings, fast_follow)
        t_end = sim.clock.now_us()
    assert summary.mode.stream == "ws" and summary.mode.books == "ws"
    assert summary.connects == 1 and summary.frames_kept > 0
    frames = _frames(lake)
    trades = [json.loads(b)["msg"] for t, b, _ in frames if t == "trade"]
    ids = [t["trade_id"] for t in trades]
    assert len(ids) == len(set(ids)) > 50
    # both cities' markets, highs and lows, were followed: each has a book snapshot
    snapped = {
        json.loads(b)["msg"]["market_ticker"] for t, b, _ in frames if t == "orderbook_snapshot"
    }
    assert {m.split("-")[0] for m in snapped} >= {"KXHIGHCHI", "KXHIGHNY", "KXLOWTCHI", "KXLOWTNYC"}
    followed = {t["market_ticker"] for t in trades}
    # every trade the world made in the span the stream covered, for the markets it streamed
    lo = min(int(t["ts_ms"]) for t in trades)
    hi = max(int(t["ts_ms"]) for t in trades)
    assert t_start // 1000 <= lo <= hi <= t_end // 1000
    world = World(FIXTURE_SEED, dt.datetime.fromtimestamp(t_end / 1e6, dt.UTC))
    expected = set()
    for ticker in followed:
        for tr in world.trades(ticker):
            at = dt.datetime.fromisoformat(tr["created_time"].replace("Z", "+00:00"))
            ms = int(at.timestamp() * 1_000_000) // 1000
            if lo <= ms <= hi:
                expected.add(tr["trade_id"])
    assert set(ids) == expected
    # books, lifecycle and our own commands and events were kept too
    kinds = {t for t, _, _ in frames}
    assert {"orderbook_snapshot", "orderbook_delta", "subscribe", "connected"} <= kinds
    # the REST side: discovery listings and a catch-up pass of trades, kept raw
    assert list(lake.glob("raw/markets/city=chicago/date=*/*.parquet"))
    assert list(lake.glob("raw/trades/city=nyc/date=*/*.parquet"))
    # a heartbeat per city and family
    beat = json.loads((lake / "_state/live/chicago.high.json").read_text())
    assert beat["stream"] == "ws" and beat["stopped"] is True
    assert beat["last_frame_us"]["trade"] > 0
    # the journal is empty: everything was rolled
    assert not list((lake / "_state/journal").glob("*.seg"))


def test_without_a_key_follow_polls_rest_and_says_why(
    tmp_path: Path, sim_follow: SimFollow
) -> None:
    cfg = SimConfig(seed=FIXTURE_SEED, speed=360)
    lake = tmp_path / "lake"
    with sim_follow(cfg, lake) as (_, settings):
        mode = choose_mode(settings, "auto")
        assert (mode.stream, mode.books) == ("rest", "rest")
        assert "no API key" in mode.why
        opts = FollowOptions(
            duration_s=10, discover_every_s=2, catch_up_every_s=2, book_every_s=1, roll_every_s=2
        )
        summary = run_follow(settings, [get_city("chicago")], options=opts)
    assert summary.book_polls >= 2 and summary.catch_up_passes >= 1
    books = sorted(lake.glob("raw/orderbooks/city=chicago/date=*/*.parquet"))
    assert books
    con = duckdb.connect()
    bodies = [
        r[0]
        for r in con.execute(
            "SELECT body FROM read_parquet(?)", [[str(b) for b in books]]
        ).fetchall()
    ]
    assert any(json.loads(b)["orderbooks"] for b in bodies)
    assert list(lake.glob("raw/trades/city=chicago/date=*/*.parquet"))


def test_orderbook_ws_without_a_key_is_a_one_line_config_error(tmp_path: Path) -> None:
    settings = Settings.load(env={}, lake=str(tmp_path / "lake"))
    with pytest.raises(ConfigError, match="needs an API key") as info:
        choose_mode(settings, "ws")
    assert "\n" not in str(info.value)


def test_the_last_transform_waits_for_a_lease_held_by_the_runs_own_threads(
    tmp_path: Path,
) -> None:
    # A stop cannot interrupt a transform (or a catch-up pass) already running in a thread:
    # it keeps the city's lease a while. The cadence skips a held city (it comes back soon);
    # the last transform of a clean stop waits for the lease instead of skipping it.
    import asyncio
    import threading

    from kalshi_lake.lake.lock import Lease
    from kalshi_lake.lake.storage import Lake
    from kalshi_lake.live.curate import transform_current
    from kalshi_lake.live.markets import FollowedMarket

    settings = Settings.load(env={}, lake=str(tmp_path / "lake"), progress=False)
    market = FollowedMarket("KXHIGHCHI-26DEC06-B40.5", "chicago", "high", "active", None)
    city = [get_city("chicago")]
    lease = Lease(Lake.of(settings), "transform/chicago", purpose="another transform")
    lease.__enter__()
    try:
        skipped = asyncio.run(transform_current(settings, city, [market]))
        assert skipped.transforms == 0 and skipped.notes == []
        gave_up = asyncio.run(transform_current(settings, city, [market], wait_s=1.5))
        assert gave_up.transforms == 0 and "transform chicago" in gave_up.notes[0]
        threading.Timer(1.0, lambda: lease.__exit__(None, None, None)).start()
        waited = asyncio.run(transform_current(settings, city, [market], wait_s=60))
    finally:
        lease.__exit__(None, None, None)
    assert waited.transforms == 1 and waited.notes == []
