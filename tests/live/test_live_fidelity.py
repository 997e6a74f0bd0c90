"""What ``follow`` records is what happened: two cities followed through hours of a simulated
day at speed, on loopback, with dropped frames and two disconnects, then read back from raw/ws.

One recording (a module fixture: the run takes about a minute) and three checks: the order
books replayed from raw/ws equal the simulator's at 100 random instants, across a resync and a
reconnect; every gap is recorded and repaired; the trades of the WebSocket and of the REST
catch-up together are exactly the simulator's.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest
from follow_support import FaultyRecording

from kalshi_lake.live.follow import FollowSummary
from kalshi_lake.sim import World
from kalshi_lake.sim.config import FIXTURE_SEED
from tests.live.fidelity import Row, read_ws, replay_books, rfc3339_us

pytestmark = pytest.mark.slow

MIN_US = 60_000_000


@dataclass
class Recording:
    lake: Path
    summary: FollowSummary
    rows: list[Row]
    start_us: int
    end_us: int
    sim_counts: dict[str, int]


@pytest.fixture(scope="module")
def recording(ws_recording: FaultyRecording) -> Iterator[Recording]:
    r = ws_recording
    yield Recording(r.lake, r.summary, read_ws(r.lake), r.start_us, r.end_us, r.sim_counts)


def _msg(r: Row) -> dict[str, Any]:
    return dict(json.loads(r.body))


def _followed(rows: list[Row]) -> set[str]:
    """The markets the recorder put on its market subscriptions."""
    out: set[str] = set()
    for r in rows:
        if r.direction == "out":
            params = _msg(r).get("params", {})
            if params.get("action", "add_markets") == "add_markets":
                out.update(params.get("market_tickers", ()))
    return out


def test_the_recorded_books_replayed_equal_the_simulators_at_100_instants(
    recording: Recording,
) -> None:
    rows = recording.rows
    events = [r for r in rows if r.direction == "event"]
    assert sum(e.msg_type == "resync" for e in events) >= 1
    assert len({r.conn_no for r in rows if r.conn_no}) == 3  # two disconnects: three connections
    deltas = [r for r in rows if r.msg_type == "orderbook_delta" and r.direction == "in"]
    times = [rfc3339_us(_msg(r)["msg"]["ts"]) for r in deltas]
    tickers = sorted({r.market_ticker for r in deltas if r.market_ticker})
    assert len(tickers) >= 10
    rng = random.Random(14)
    samples = [(rng.randint(min(times), max(times)), rng.choice(tickers)) for _ in range(3000)]
    known = replay_books(rows, samples)
    # the replay knows most instants, and some of them come from a resync and a reconnect
    assert len(known) > len(samples) // 2
    resynced = [k for k in known if k.kind == "resync"]
    reconnected = [k for k in known if k.conn_no >= 2]
    assert resynced and reconnected
    chosen = rng.sample(resynced, min(10, len(resynced)))
    chosen += rng.sample(reconnected, min(10, len(reconnected)))
    rest = [k for k in known if k not in chosen]
    chosen += rng.sample(rest, 100 - len(chosen))
    world = World(FIXTURE_SEED, dt.datetime.fromtimestamp(recording.end_us / 1e6, dt.UTC))
    for k in chosen:
        truth = world.book_at(k.ticker, k.ts_us)
        assert (k.book.yes, k.book.no) == (truth.yes, truth.no), (k.ticker, k.ts_us, k.kind)
    assert sum(bool(k.book.yes or k.book.no) for k in chosen) > 50  # real books, not empty ones


def test_every_gap_is_recorded_and_repaired(recording: Recording) -> None:
    rows = recording.rows
    s = recording.summary
    assert s.connects == 3 and s.disconnects == 2
    assert recording.sim_counts.get("dropped", 0) > 0
    events = [(r, _msg(r)) for r in rows if r.direction == "event"]
    gaps = [(r, e) for r, e in events if e["event"] == "gap"]
    # a hundredth of ~3,000 frames lost: order book holes for sure (trade holes are likely)
    assert "orderbook_delta" in {e["channel"] for _, e in gaps}
    assert all(e["got"] > e["expected"] for _, e in gaps)
    assert sum(e["event"] == "disconnected" for _, e in events) == 2
    last_conn = max(r.conn_no for r in rows)
    # an order book gap: a resync on the same sid with a snapshot of each of its markets after
    # it, unless the connection ended first (a scheduled cut or the end of the run): then the
    # next connection's fresh snapshots, or nothing left to repair
    for r, e in gaps:
        if e["channel"] != "orderbook_delta":
            continue
        later = [x for x in rows if x.conn_no == r.conn_no and x.frame_no > r.frame_no]
        resync = next(
            (_msg(x) for x in later if x.msg_type == "resync" and x.sid == e["sid"]), None
        )
        snapped = {
            x.market_ticker
            for x in later
            if x.msg_type == "orderbook_snapshot" and x.sid == e["sid"]
        }
        if resync is not None and set(resync["markets"]) <= snapped:
            continue
        ended = {x.msg_type for x in later if x.direction == "event"} & {"disconnected", "closed"}
        assert ended and resync is not None, f"order book gap never resynced: {e}"
        # the connection ended before the answer: the later frames of the sid are few
        tail = [x for x in later if x.sid == e["sid"] and x.direction == "in"]
        assert len(tail) < 100 and (r.conn_no < last_conn or "closed" in ended), e
    # a trade gap or a disconnect: a REST catch-up pass of trades fetched after it
    fetched = _rest_trade_fetches(recording.lake)
    for r, e in events:
        if (e["event"] == "gap" and e["channel"] == "trade") or e["event"] == "disconnected":
            assert any(f > r.recv_us for f in fetched), f"no catch-up after {e}"


def _rest_trade_fetches(lake: Path) -> list[int]:
    files = sorted(lake.glob("raw/trades/city=*/date=*/*.parquet"))
    con = duckdb.connect()
    return [
        int(r[0])
        for r in con.execute(
            "SELECT epoch_us(fetched_at) FROM read_parquet(?)", [[str(f) for f in files]]
        ).fetchall()
    ]


def _rest_trades(lake: Path) -> dict[str, dict[str, Any]]:
    files = sorted(lake.glob("raw/trades/city=*/date=*/*.parquet"))
    con = duckdb.connect()
    out: dict[str, dict[str, Any]] = {}
    for (body,) in con.execute(
        "SELECT body FROM read_parquet(?)", [[str(f) for f in files]]
    ).fetchall():
        for t in json.loads(body).get("trades", []):
            out[t["trade_id"]] = t
    return out


def test_websocket_and_rest_trades_together_are_exactly_the_simulators(
    recording: Recording,
) -> None:
    rows = recording.rows
    followed = _followed(rows)
    ws = [_msg(r)["msg"] for r in rows if r.msg_type == "trade" and r.direction == "in"]
    ws_ids = [t["trade_id"] for t in ws]
    assert len(ws_ids) == len(set(ws_ids)), "a trade streamed twice"
    assert {t["market_ticker"] for t in ws} <= followed
    rest = {i: t for i, t in _rest_trades(recording.lake).items() if t["ticker"] in followed}
    # the span: everything up to the last trade the stream delivered
    hi_us = max(int(t["ts_ms"]) for t in ws) * 1000 + 999
    world = World(FIXTURE_SEED, dt.datetime.fromtimestamp(recording.end_us / 1e6, dt.UTC))
    truth: dict[str, int] = {}
    for ticker in followed:
        for t in world.trades(ticker):
            at = rfc3339_us(t["created_time"])
            if at <= hi_us:
                truth[t["trade_id"]] = at
    union = {i for i in ws_ids if i in truth} | {i for i in rest if i in truth}
    assert union == set(truth)
    world_ids = {t["trade_id"] for m in followed for t in world.trades(m)}
    assert set(ws_ids) <= world_ids and set(rest) <= world_ids
    # the stream carried most of the trades made while it ran (from its first trade on: all but
    # those of its holes and outages); REST filled what it lost. Whether a dropped frame or an
    # outage held a trade at all is chance (test_every_gap_is_recorded_and_repaired proves the
    # faults bit), so the test does not insist on a lost trade.
    lo_us = min(int(t["ts_ms"]) for t in ws) * 1000
    during = {i for i, at in truth.items() if at >= lo_us}
    assert len(during & set(ws_ids)) >= 0.6 * len(during)
