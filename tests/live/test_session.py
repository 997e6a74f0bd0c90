"""The live WebSocket session against the simulator's endpoint on loopback (a manual clock):
every frame journaled, trades complete, holes found and repaired, reconnects, a refused key."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from kalshi_lake.api.auth import Signer
from kalshi_lake.errors import AuthRefusedError
from kalshi_lake.live.records import FrameRecord
from kalshi_lake.live.session import Gap, WsSession
from kalshi_lake.sim import SimServer, World
from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED
from tests.sim.ws_support import ws_sim, ws_url

START = FIXTURE_NOW
DAY = dt.date(2026, 11, 21)
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_PEM = (
    KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


def live_sim(**config: Any) -> AbstractContextManager[SimServer]:
    """A simulator on a manual clock at ``START`` that verifies our key's signatures."""
    return ws_sim(START, ws_public_key=PUBLIC_PEM, **config)


def ladder(city: str = "chicago", day: dt.date = DAY) -> list[str]:
    ev = World(FIXTURE_SEED, START).event(city, day)
    assert ev is not None
    return [m.ticker for m in ev.markets]


def world_trades(tickers: list[str], until: dt.datetime) -> dict[str, dict[str, Any]]:
    """The simulator's trades of ``tickers`` in (START, until], by id."""
    world = World(FIXTURE_SEED, until)
    out = {}
    for t in tickers:
        for tr in world.trades(t):
            at = dt.datetime.fromisoformat(tr["created_time"].replace("Z", "+00:00"))
            if at > START:
                out[tr["trade_id"]] = tr
    return out


class Recorder:
    """A session over a list journal, driven while the test moves the clock."""

    def __init__(self, sim: SimServer, tickers: list[str], signer: Signer | None = None) -> None:
        self.sim = sim
        self.records: list[FrameRecord] = []
        self.gaps: list[Gap] = []
        self.session = WsSession(
            ws_url(sim),
            signer if signer is not None else Signer("key-1", KEY),
            run_id="run1",
            journal=self.records.append,
            follows=lambda t: t.startswith(("KXHIGHCHI", "KXLOWTCHI")),
            on_gap=self._gap,
            seed=1,
        )
        self.session.want(tickers)

    async def _gap(self, gap: Gap) -> None:
        self.gaps.append(gap)

    def frames(self, msg_type: str) -> list[dict[str, Any]]:
        return [
            json.loads(r.body)
            for r in self.records
            if r.msg_type == msg_type and r.direction == "in"
        ]

    async def until(self, done: Callable[[], bool], timeout: float = 60) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done():
            assert loop.time() < deadline, "timed out waiting for the session"
            await asyncio.sleep(0.05)

    async def drive(
        self, until: dt.datetime, step: dt.timedelta, settle: Callable[[], bool]
    ) -> None:
        """Run the session while the clock moves to ``until``; stop once ``settle()`` holds."""
        stop = asyncio.Event()
        task = asyncio.create_task(self.session.run(stop))
        await self.until(lambda: len(self.frames("subscribed")) >= 4 or task.done())
        t = START
        while t < until:
            t = min(until, t + step)
            self.sim.clock.set(t)
            await asyncio.sleep(0.02)
        await self.until(lambda: settle() or task.done())
        stop.set()
        await asyncio.wait_for(task, 30)


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 180))


def test_every_trade_of_the_followed_markets_is_journaled_once_with_its_provenance() -> None:
    tickers = ladder()
    end = START + dt.timedelta(hours=3)
    expected = world_trades(tickers, end)
    assert len(expected) > 50
    with live_sim() as sim:
        rec = Recorder(sim, tickers)
        run(
            rec.drive(
                end, dt.timedelta(minutes=10), lambda: len(rec.frames("trade")) >= len(expected)
            )
        )
    trades = rec.frames("trade")
    ids = [f["msg"]["trade_id"] for f in trades]
    assert sorted(ids) == sorted(expected)
    # the commands went out first, each journaled, and use_yes_price was explicit
    outs = [json.loads(r.body) for r in rec.records if r.direction == "out"]
    assert outs[0] == {"id": 1, "cmd": "subscribe", "params": {"channels": ["market_lifecycle_v2"]}}
    assert outs[1]["params"]["use_yes_price"] is False
    assert sorted(outs[1]["params"]["market_tickers"]) == sorted(tickers)
    # provenance: one connection, frame numbers 1.. without holes, partitions of the market's day
    assert {r.conn_id for r in rec.records} == {"run1.1"}
    assert [r.frame_no for r in rec.records] == list(range(1, len(rec.records) + 1))
    for r in rec.records:
        if r.msg_type == "trade":
            assert (r.city, r.date, r.channel) == ("chicago", DAY, "trade")
            assert r.market_ticker in tickers and r.seq is not None
        if r.direction == "out":
            assert r.city is None
    # order books: a snapshot per market, then deltas; lifecycle only of followed series
    snaps = rec.frames("orderbook_snapshot")
    assert sorted(f["msg"]["market_ticker"] for f in snaps) == sorted(tickers)
    assert rec.frames("orderbook_delta")
    for f in rec.frames("market_lifecycle_v2"):
        assert f["msg"]["market_ticker"].startswith(("KXHIGHCHI", "KXLOWTCHI"))
    assert rec.session.stats.gaps == 0 and rec.gaps == []


def test_a_refused_key_ends_the_session_with_one_line() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with live_sim() as sim:
        rec = Recorder(sim, ladder(), signer=Signer("key-1", other))

        async def body() -> None:
            await rec.session.run(asyncio.Event())

        with pytest.raises(AuthRefusedError, match="refused \\(401") as info:
            run(body())
    assert "\n" not in str(info.value)
    assert [r.msg_type for r in rec.records] == ["refused"]


def test_dropped_frames_are_found_resynced_and_trades_handed_to_the_catch_up() -> None:
    tickers = ladder()
    end = START + dt.timedelta(hours=3)
    with live_sim(ws_drop_rate=0.05) as sim:
        rec = Recorder(sim, tickers)
        run(
            rec.drive(
                end,
                dt.timedelta(minutes=10),
                lambda: (
                    rec.session.stats.resyncs > 0 and any(g.channel == "trade" for g in rec.gaps)
                ),
            )
        )
    events = [json.loads(r.body) for r in rec.records if r.direction == "event"]
    gaps = [e for e in events if e["event"] == "gap"]
    assert gaps and all(e["got"] > e["expected"] for e in gaps)
    resyncs = [e for e in events if e["event"] == "resync"]
    assert resyncs and sorted(resyncs[0]["markets"]) == sorted(tickers)
    outs = [json.loads(r.body) for r in rec.records if r.direction == "out"]
    assert any(
        o["cmd"] == "update_subscription" and o["params"]["action"] == "get_snapshot" for o in outs
    )
    trade_gaps = [g for g in rec.gaps if g.channel == "trade"]
    assert trade_gaps and sorted(trade_gaps[0].tickers) == sorted(tickers)
    assert all(g.reason == "seq" and g.since_us <= g.until_us for g in trade_gaps)


def test_a_cut_connection_reconnects_resubscribes_and_reports_the_outage() -> None:
    tickers = ladder()
    end = START + dt.timedelta(hours=4)
    with live_sim(ws_disconnect_rate=0.01) as sim:
        rec = Recorder(sim, tickers)
        run(rec.drive(end, dt.timedelta(minutes=5), lambda: rec.session.stats.connects >= 2))
    stats = rec.session.stats
    assert stats.connects >= 2 and stats.disconnects >= 1
    conns = sorted({r.conn_id for r in rec.records})
    assert conns[:2] == ["run1.1", "run1.2"]
    # each connection numbers its frames from 1 and subscribes afresh
    for conn in conns:
        nos = [r.frame_no for r in rec.records if r.conn_id == conn]
        assert nos == list(range(1, len(nos) + 1))
    subs = [
        json.loads(r.body) for r in rec.records if r.direction == "out" and r.conn_id == "run1.2"
    ]
    assert subs[0]["params"] == {"channels": ["market_lifecycle_v2"]}
    outage = [g for g in rec.gaps if g.reason == "disconnect"]
    assert outage and sorted(outage[0].tickers) == sorted(tickers)
    assert outage[0].since_us < outage[0].until_us


def test_markets_added_and_removed_while_connected() -> None:
    first, second = ladder(day=DAY), ladder(day=DAY + dt.timedelta(days=1))
    with live_sim() as sim:
        rec = Recorder(sim, first)

        async def body() -> None:
            stop = asyncio.Event()
            task = asyncio.create_task(rec.session.run(stop))
            await rec.until(lambda: len(rec.frames("orderbook_snapshot")) >= len(first))
            rec.session.want(second)
            await rec.until(
                lambda: len(rec.frames("orderbook_snapshot")) >= len(first) + len(second)
            )
            stop.set()
            await task

        run(body())
    outs = [json.loads(r.body) for r in rec.records if r.direction == "out"]
    updates = [o["params"] for o in outs if o["cmd"] == "update_subscription"]
    assert {u["action"] for u in updates} == {"add_markets", "delete_markets"}
    assert len(updates) == 6  # three market subscriptions, one add and one delete each
    assert all(
        sorted(u["market_tickers"]) == sorted(second)
        for u in updates
        if u["action"] == "add_markets"
    )
    assert all(
        sorted(u["market_tickers"]) == sorted(first)
        for u in updates
        if u["action"] == "delete_markets"
    )
