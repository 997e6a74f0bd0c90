"""The simulator with a clock that moves: every REST answer is computed at the current instant."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from kalshi_lake.errors import ConfigError
from kalshi_lake.sim import SimConfig, SimServer, SimTransport, World
from kalshi_lake.sim.book import book_at
from kalshi_lake.sim.clock import SimClock
from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED
from kalshi_lake.sim.model import US, Event, fmt_ts, to_us

SEED = FIXTURE_SEED
#: A climate day whose event is created a day after FIXTURE_NOW: the test watches its whole life.
DAY = dt.date(2026, 11, 23)


def _event() -> Event:
    later = World(SEED, FIXTURE_NOW + dt.timedelta(days=5))
    ev = later.event("chicago", DAY)
    assert ev is not None
    return ev


@pytest.fixture
def manual() -> Iterator[tuple[SimServer, httpx.Client]]:
    clock = SimClock.manual(FIXTURE_NOW)
    with (
        SimServer(SimConfig(seed=SEED, now=FIXTURE_NOW), clock=clock) as sim,
        httpx.Client(base_url=sim.base_url, timeout=60) as client,
    ):
        assert sim.clock is clock
        yield sim, client


def _json(client: httpx.Client, path: str, **params: Any) -> Any:
    r = client.get(path, params=params)
    assert r.status_code == 200, (path, r.text)
    return r.json()


def _book(fp: dict[str, list[list[str]]]) -> tuple[dict[int, int], dict[int, int]]:
    def ladder(levels: list[list[str]]) -> dict[int, int]:
        return {int(Decimal(p) * 100): int(Decimal(s) * 100) for p, s in levels}

    return ladder(fp["yes_dollars"]), ladder(fp["no_dollars"])


def test_clock_endpoint_reports_each_mode(manual: tuple[SimServer, httpx.Client]) -> None:
    sim, client = manual
    start = to_us(FIXTURE_NOW)
    assert _json(client, "/_sim/clock") == {
        "mode": "manual", "now": fmt_ts(start), "now_us": start, "speed": None
    }  # fmt: skip
    sim.clock.advance(90.5)
    got = httpx.get(f"http://{sim.host}:{sim.port}/_sim/clock").json()
    assert got["now_us"] == start + 90_500_000 and got["now"] == "2026-11-21T15:01:30.5Z"
    assert sim.stats()["requests"] == 0, "the clock endpoint is not counted"
    with SimServer(SimConfig(seed=SEED, now=FIXTURE_NOW)) as frozen:
        assert frozen.clock.is_frozen
        assert httpx.get(frozen.base_url + "/_sim/clock").json()["mode"] == "frozen"


def test_a_market_lives_its_whole_life_while_the_clock_moves(
    manual: tuple[SimServer, httpx.Client],
) -> None:
    sim, client = manual
    ev = _event()
    m = ev.markets[2]
    tape = sim.world.tape(m)
    market_path = f"/markets/{m.ticker}"
    book_path = f"{market_path}/orderbook"
    # Not created yet: the same requests will get other answers later (no stale cache).
    assert client.get(market_path).status_code == 404
    assert _json(client, book_path)["orderbook_fp"] == {"no_dollars": [], "yes_dollars": []}
    seen: list[str] = []
    instants = [
        m.created_us + US,
        m.open_us + 10 * 60 * US,
        (m.open_us + m.close_us) // 2,
        tape.t_us[len(tape.t_us) * 3 // 4],
        m.close_us + 1,
        tape.q_us[-1],
        m.settlement_us + 5 * US,
    ]
    for at in instants:
        sim.clock.set(at)
        market = _json(client, market_path)["market"]
        seen.append(market["status"])
        trades = _json(client, "/markets/trades", ticker=m.ticker, limit=1000)["trades"]
        assert len(trades) == tape.n_trades_until(at), fmt_ts(at)
        assert all(t["created_time"] <= fmt_ts(at) for t in trades)
        fp = _json(client, book_path)["orderbook_fp"]
        expected = book_at(SEED, ev, m.ticker, at)
        assert _book(fp) == (expected.yes, expected.no), fmt_ts(at)
        bid = expected.best_bid()
        assert market["yes_bid_dollars"] == f"{(bid[0] if bid else 0) / 100:.4f}"
        assert sim.world_now().now_us == at
        if at >= tape.q_us[-1]:  # the close burst emptied the book
            assert fp == {"no_dollars": [], "yes_dollars": []}
    assert seen == ["initialized", "active", "active", "active", "closed", "closed", "finalized"]
    assert market["result"] == m.result and market["settlement_value_dollars"] in (
        "1.0000",
        "0.0000",
    )


def test_candles_and_cutoff_follow_the_clock(manual: tuple[SimServer, httpx.Client]) -> None:
    sim, client = manual
    ev = _event()
    m = ev.markets[1]
    sim.clock.set(m.open_us + 3 * 3600 * US)
    cut1 = _json(client, "/historical/cutoff")["market_settled_ts"]
    path = f"/series/{ev.series_ticker}/markets/{m.ticker}/candlesticks"
    window = {"start_ts": m.open_us // US, "end_ts": m.close_us // US, "period_interval": 60}
    first = _json(client, path, **window)["candlesticks"]
    sim.clock.advance(6 * 3600)
    later = _json(client, path, **window)["candlesticks"]
    now_s = sim.clock.now_s()
    assert len(later) > len(first) and later[: len(first)] == first
    assert all(c["end_period_ts"] <= now_s for c in later)
    assert later[-1]["end_period_ts"] > sim.clock.start_us // US - 3600
    cut2 = _json(client, "/historical/cutoff")["market_settled_ts"]
    assert cut1 == "2026-09-23T00:00:00Z" and cut2 == "2026-09-24T00:00:00Z"


def test_a_moving_clock_never_serves_an_old_answer() -> None:
    # A million simulated seconds per real second: the cutoff (midnight UTC, 60 days back) moves
    # about once every 0.09 s of real time.
    with SimServer(SimConfig(seed=SEED, now=FIXTURE_NOW, speed=1_000_000)) as sim:
        assert not sim.clock.is_frozen and sim.clock.speed == 1_000_000
        with httpx.Client(base_url=sim.base_url, timeout=60) as client:
            answers = []
            for _ in range(3):
                before = sim.clock.now_us()
                cut = client.get("/historical/cutoff").json()["market_settled_ts"]
                after = sim.clock.now_us()
                answers.append(cut)
                lo = World(SEED, _dt(before)).cutoff["market_settled_ts"]
                hi = World(SEED, _dt(after)).cutoff["market_settled_ts"]
                assert fmt_ts(to_us(lo)) <= cut <= fmt_ts(to_us(hi))
                time.sleep(0.25)
            assert len(set(answers)) == 3, answers
            clock = client.get("/_sim/clock").json()
            assert clock["mode"] == "moving" and clock["speed"] == 1_000_000
            assert clock["now_us"] > to_us(FIXTURE_NOW) + 500_000 * US


def _dt(us: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)


def test_the_transport_shares_the_clock() -> None:
    clock = SimClock.manual(FIXTURE_NOW)
    transport = SimTransport(SimConfig(seed=SEED, now=FIXTURE_NOW), clock=clock)
    assert transport.clock is clock
    m = _event().markets[0]

    async def run() -> None:
        async with httpx.AsyncClient(transport=transport, base_url=transport.base_url) as client:
            assert (await client.get(f"/markets/{m.ticker}")).status_code == 404
            clock.set(m.open_us)
            got = (await client.get(f"/markets/{m.ticker}")).json()["market"]
            assert got["status"] == "active"

    asyncio.run(run())


def test_speed_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="speed"):
        SimConfig(speed=0)
    with pytest.raises(ConfigError, match="speed"):
        SimConfig(speed=-2.0)
