"""The WebSocket endpoint's faults (dropped frames, buffer overflow, disconnects, unknown frames
and fields) and its clock moving on its own."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from ws_support import START, Reader, open_ws, run, step_clock, ws_sim

from kalshi_lake.sim import SimConfig, SimServer, World
from kalshi_lake.sim.clock import SimClock
from kalshi_lake.sim.config import FIXTURE_SEED
from kalshi_lake.sim.model import to_us
from kalshi_lake.sim.ws_session import Session

UTC = dt.UTC
DAY = dt.date(2026, 11, 21)
END = START + dt.timedelta(hours=2)
STEP = dt.timedelta(minutes=20)


def ladder() -> list[str]:
    ev = World(FIXTURE_SEED, START).event("chicago", DAY)
    assert ev is not None
    return [m.ticker for m in ev.markets]


def stream(sim: SimServer, params: dict[str, Any]) -> list[dict[str, Any]]:
    async def body() -> list[dict[str, Any]]:
        async with open_ws(sim) as ws:
            r = Reader(ws)
            await r.command("subscribe", params)
            await step_clock(sim, r, END, STEP)
            return r.frames

    return run(body())


def expected_trades(tickers: list[str]) -> int:
    """How many trades the markets print in (START, END]."""
    world = World(FIXTURE_SEED, END)
    total = 0
    for t in tickers:
        m = world.market(t)
        assert m is not None
        lo, hi = world.trade_index_range(m, to_us(START) + 1, to_us(END))
        total += hi - lo
    return total


def test_dropped_frames_leave_seq_gaps_that_count_the_drops() -> None:
    tickers = ladder()
    params = {"channels": ["trade"], "market_tickers": tickers}
    with ws_sim(ws_drop_rate=0.2) as sim:
        frames = stream(sim, params)
        dropped = sim.ws.session_counts()["dropped"]
    seqs = [f["seq"] for f in frames if f["type"] == "trade"]
    assert seqs == sorted(seqs)
    missing = set(range(1, seqs[-1] + 1)) - set(seqs)
    total = expected_trades(tickers)
    assert dropped > 10 and len(seqs) + dropped == total
    # The last trades of the window may be the dropped ones: every gap is a drop, and only those.
    assert len(missing) == dropped - (total - seqs[-1])
    # Seeded: the same run drops the same frames.
    with ws_sim(ws_drop_rate=0.2) as sim:
        again = stream(sim, params)
    assert [f.get("seq") for f in again] == [f.get("seq") for f in frames]


def test_buffer_overflow_is_error_25_on_the_sid_which_then_ends() -> None:
    tickers = ladder()

    async def body(sim: SimServer) -> list[dict[str, Any]]:
        async with open_ws(sim) as ws:
            r = Reader(ws)
            await r.command(
                "subscribe", {"channels": ["orderbook_delta"], "market_tickers": tickers}
            )
            await r.command("subscribe", {"channels": ["trade"], "market_tickers": tickers})
            await step_clock(sim, r, END, STEP)
            await r.command("list_subscriptions")
            return r.frames

    with ws_sim(ws_overflow_rate=0.01) as sim:
        frames = run(body(sim))
    errors = [f for f in frames if f["type"] == "error"]
    assert errors and all(e["msg"]["code"] == 25 for e in errors)
    for err in errors:
        sid = err["sid"]
        on_sid = [f for f in frames if f.get("sid") == sid]
        assert on_sid[-1] is err  # nothing follows on that sid
        assert err["seq"] == on_sid[-2]["seq"] + 1  # it takes the next seq: no gap
    listed = [f for f in frames if f["type"] == "ok" and isinstance(f.get("msg"), list)][-1]
    assert {s["sid"] for s in listed["msg"]} == {1, 2} - {e["sid"] for e in errors}


def test_random_disconnect_cuts_the_connection_without_a_close_frame() -> None:
    async def body(sim: SimServer) -> ConnectionClosed:
        async with open_ws(sim) as ws:
            r = Reader(ws)
            await r.command("subscribe", {"channels": ["trade"], "market_tickers": ladder()})
            try:
                await step_clock(sim, r, END, STEP)
            except ConnectionClosed as exc:
                return exc
        raise AssertionError("the connection was not cut")

    with ws_sim(ws_disconnect_rate=0.05) as sim:
        exc = run(body(sim))
        assert sim.ws.session_counts()["disconnect"] == 1
    assert exc.rcvd is None  # no close frame: a dropped TCP connection


def test_unknown_frame_types_and_fields_are_sent_without_taking_seq() -> None:
    with ws_sim(ws_oddity_rate=0.2) as sim:
        frames = stream(sim, {"channels": ["trade"], "market_tickers": ladder()})
        counts = sim.ws.session_counts()
    odd_types = [f for f in frames if f["type"] == "sim_unknown_type"]
    odd_fields = [f for f in frames if "sim_unknown_field" in f.get("msg", {})]
    assert len(odd_types) == counts["unknown_type"] > 0
    assert len(odd_fields) == counts["unknown_field"] > 0
    assert all("seq" not in f for f in odd_types)
    seqs = [f["seq"] for f in frames if "seq" in f]
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_moving_clock_streams_settlements_while_the_test_watches() -> None:
    # 12:50Z on the 21st: the 20th's ladders settle a few minutes after 13:00Z. At 1800x the
    # clock passes that in well under a second of real time.
    start = dt.datetime(2026, 11, 21, 12, 50, tzinfo=UTC)
    clock = SimClock(start, speed=1800)

    async def body(sim: SimServer) -> list[dict[str, Any]]:
        async with open_ws(sim) as ws:
            r = Reader(ws)
            await r.command("subscribe", {"channels": ["market_lifecycle_v2"]})
            return await r.until(lambda f: f.get("msg", {}).get("event_type") == "settled")

    server = SimServer(SimConfig(seed=FIXTURE_SEED, now=start), clock=clock).start()
    try:
        frames = run(body(server))
    finally:
        server.stop()
    kinds = [f["msg"]["event_type"] for f in frames if f["type"] == "market_lifecycle_v2"]
    assert "determined" in kinds and kinds[-1] == "settled"
    assert clock.now() > start + dt.timedelta(minutes=10)


def test_a_simulator_bug_closes_with_1011_not_like_a_network_drop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: Session, now_us: int) -> None:
        raise RuntimeError("bug")

    async def body(sim: SimServer) -> ConnectionClosed:
        async with open_ws(sim) as ws:
            try:
                await asyncio.wait_for(ws.recv(), 30)
            except ConnectionClosed as exc:
                return exc
        raise AssertionError("the connection stayed open")

    monkeypatch.setattr(Session, "advance", broken)
    with ws_sim() as sim:
        exc = run(body(sim))
    assert exc.rcvd is not None and exc.rcvd.code == 1011
