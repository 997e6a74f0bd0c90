"""``follow`` without a key (REST mode) on the same simulated world as the WebSocket tests: the
trades come from REST pages and are exactly the simulator's; the order books are polled, and
each polled book is the simulator's book at its fetch instant (the polling resolution)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from follow_support import REST_SPEED as SPEED
from follow_support import RestRecording

from kalshi_lake.sim import World
from kalshi_lake.sim.config import FIXTURE_SEED
from tests.live.fidelity import rfc3339_us

#: How stale, in real seconds, a polled book may be at its ``fetched_at`` (stamped when the
#: answer arrived: the simulator computed it up to this long before, on a loaded machine).
LATENCY_S = 1.0


def _pages(lake: Path, endpoint: str) -> list[tuple[int, str, str]]:
    files = sorted(lake.glob(f"raw/{endpoint}/city=*/date=*/*.parquet"))
    assert files, f"no raw/{endpoint} pages"
    con = duckdb.connect()
    rows = con.execute(
        "SELECT epoch_us(fetched_at), request_params, body FROM read_parquet(?)",
        [[str(f) for f in files]],
    ).fetchall()
    return [(int(r[0]), r[1], r[2]) for r in rows]


def _book(fp: dict[str, Any]) -> tuple[dict[int, int], dict[int, int]]:
    def side(levels: list[list[str]]) -> dict[int, int]:
        return {int(Decimal(p) * 100): int(Decimal(s) * 100) for p, s in levels}

    return side(fp.get("yes_dollars", [])), side(fp.get("no_dollars", []))


pytestmark = pytest.mark.slow


def test_rest_mode_records_the_simulators_trades_and_books_at_the_polling_resolution(
    rest_recording: RestRecording,
) -> None:
    lake, summary, end_us = rest_recording.lake, rest_recording.summary, rest_recording.end_us
    sim0, sim_at = rest_recording.sim0_us, rest_recording.sim_at
    assert (summary.mode.stream, summary.mode.books) == ("rest", "rest")
    # no WebSocket: raw/ws holds only the follower's own records (start, catch-up passes)
    assert summary.frames_kept == 0
    ws_files = [str(f) for f in lake.glob("raw/ws/**/*.parquet")]
    if ws_files:
        kinds = (
            duckdb.connect()
            .execute(
                "SELECT DISTINCT direction, city FROM read_parquet(?, hive_partitioning=true)",
                [ws_files],
            )
            .fetchall()
        )
        assert kinds == [("event", "_connection")]

    world = World(FIXTURE_SEED, dt.datetime.fromtimestamp(end_us / 1e6, dt.UTC))
    # order books: every polled book is the simulator's at an instant of its fetch window
    polls = _pages(lake, "orderbooks")
    followed: set[str] = set()
    checked = nonempty = 0
    fetches: dict[str, list[int]] = {}
    for fetched_us, params, body in polls:
        asked = json.loads(params)["tickers"]
        books = json.loads(body)["orderbooks"]
        assert sorted(b["ticker"] for b in books) == sorted(asked)
        hi = sim_at(fetched_us)
        lo = hi - int(LATENCY_S * 1_000_000 * SPEED)
        for b in books:
            ticker = b["ticker"]
            followed.add(ticker)
            fetches.setdefault(ticker, []).append(fetched_us)
            got = _book(b["orderbook_fp"])
            instants = [lo] + [c.ts_us for c in world.book_changes(ticker, lo, hi)]
            states = [world.book_at(ticker, t) for t in instants]
            assert got in [(s.yes, s.no) for s in states], (ticker, fetched_us)
            checked += 1
            nonempty += bool(got[0] or got[1])
    # some followed markets are listed but not open yet (empty books); how many polls a run
    # makes depends on the machine's load (about 200-400 books here)
    assert checked >= 100 and nonempty >= checked // 4 and len(followed) >= 10
    # the polling resolution: each market polled about every book_every_s
    for ticker, times in fetches.items():
        span_s = (max(times) - min(times)) / 1e6
        assert len(times) >= span_s / 4, ticker  # a poll a second

    # trades: the REST pages hold exactly the simulator's trades of the followed markets, each
    # market up to the instant of its last trades request (a pass asks market after market)
    rest: dict[str, int] = {}
    asked_until: dict[str, int] = {}
    for fetched_us, params, body in _pages(lake, "trades"):
        ticker = json.loads(params).get("ticker")
        if ticker in followed:
            at = sim_at(fetched_us) - int(LATENCY_S * 1_000_000 * SPEED)
            asked_until[ticker] = max(asked_until.get(ticker, at), at)
        for t in json.loads(body).get("trades", []):
            if t["ticker"] in followed:
                rest[t["trade_id"]] = rfc3339_us(t["created_time"])
    assert len(rest) > 5 and set(asked_until) == followed
    truth = {
        t["trade_id"]: rfc3339_us(t["created_time"])
        for ticker in followed
        for t in world.trades(ticker)
        if rfc3339_us(t["created_time"]) <= asked_until[ticker]
    }
    world_ids = {t["trade_id"] for ticker in followed for t in world.trades(ticker)}
    assert set(truth) <= set(rest) <= world_ids
    # the catch-up is recent and saw trades made while follow ran (markets that closed during the
    # run are no longer asked: the latest ask, not every market's, is recent)
    assert max(asked_until.values()) > end_us - 20 * 1_000_000 * SPEED
    assert sum(at >= sim0 for at in truth.values()) > 5
