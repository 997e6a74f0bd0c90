"""Order books from REST polls (``follow`` without a key): ``book_at`` at any instant is the
market's latest poll received by then (the polling resolution), and each poll is the
simulator's book at an instant of its fetch window."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from follow_support import REST_SPEED as SPEED
from follow_support import RestRecording

import kalshi_lake
from kalshi_lake.config import Settings
from kalshi_lake.sim import World
from kalshi_lake.sim.config import FIXTURE_SEED
from kalshi_lake.transform import run_transform
from tests.live.test_book_fidelity import book_at

pytestmark = pytest.mark.slow

#: How stale, in real seconds, a polled book may be at its ``fetched_at``.
LATENCY_S = 1.0

Book = tuple[dict[int, int], dict[int, int]]


@dataclass
class Polls:
    lake: Path
    #: ticker -> [(fetched_us, book)] in fetch order
    polls: dict[str, list[tuple[int, Book]]]
    world: World
    sim_at: Any


def _book(fp: dict[str, Any]) -> Book:
    def side(levels: list[list[str]]) -> dict[int, int]:
        return {int(Decimal(p) * 100): int(Decimal(s) * 100) for p, s in levels}

    return side(fp.get("yes_dollars", [])), side(fp.get("no_dollars", []))


@pytest.fixture(scope="module")
def polled(
    rest_recording: RestRecording, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Polls]:
    # transformed in a copy: the recording is shared with other modules and xdist workers
    lake, end_us = tmp_path_factory.mktemp("book-fidelity-rest") / "lake", rest_recording.end_us
    shutil.copytree(rest_recording.lake, lake)
    run_transform(Settings.load(env={}, lake=str(lake), progress=False))
    files = sorted(lake.glob("raw/orderbooks/city=*/date=*/*.parquet"))
    polls: dict[str, list[tuple[int, Book]]] = {}
    for fetched_us, body in duckdb.execute(
        "SELECT epoch_us(fetched_at), body FROM read_parquet(?) ORDER BY 1",
        [[str(f) for f in files]],
    ).fetchall():
        for b in json.loads(body)["orderbooks"]:
            polls.setdefault(b["ticker"], []).append((int(fetched_us), _book(b["orderbook_fp"])))

    world = World(FIXTURE_SEED, dt.datetime.fromtimestamp(end_us / 1e6, dt.UTC))
    yield Polls(lake, polls, world, rest_recording.sim_at)


def test_book_at_is_the_latest_poll_and_the_poll_is_the_simulators_book(polled: Polls) -> None:
    con = kalshi_lake.connect(polled.lake)
    rng = random.Random(16)
    tickers = sorted(t for t, p in polled.polls.items() if len(p) >= 3)
    assert len(tickers) >= 10
    checked = nonempty = 0
    while checked < 100:
        ticker = rng.choice(tickers)
        polls = polled.polls[ticker]
        at = rng.randint(polls[0][0], polls[-1][0] + 2_000_000)
        before = [p for p in polls if p[0] <= at]
        fetched_us, want = before[-1]
        if len(before) > 1 and before[-2][0] == fetched_us:
            continue  # two polls received in one microsecond: either may be the book
        if not (want[0] or want[1]) and checked - nonempty >= 30:
            continue  # enough empty books (many markets have none before their first quote)
        got = book_at(con, at).get(ticker, ({}, {}))
        assert got == want, (ticker, at, fetched_us)
        # the poll itself: the simulator's book at an instant of its fetch window
        hi = polled.sim_at(fetched_us)
        lo = hi - int(LATENCY_S * 1_000_000 * SPEED)
        instants = [lo] + [c.ts_us for c in polled.world.book_changes(ticker, lo, hi)]
        states = [polled.world.book_at(ticker, t) for t in instants]
        assert want in [(s.yes, s.no) for s in states], (ticker, fetched_us)
        checked += 1
        nonempty += bool(want[0] or want[1])
    assert nonempty >= 70
    # every poll is a 'rest' entry of book_snapshots; no replayed (cadence) books from polls
    kinds = dict(con.execute("SELECT kind, count(*) FROM book_snapshots GROUP BY 1").fetchall())
    assert set(kinds) == {"rest"}
    sources = con.execute("SELECT DISTINCT source, is_snapshot FROM book_deltas").fetchall()
    assert sources == [("rest", True)]
    # before a market's first poll it has no book
    first = min(p[0][0] for p in polled.polls.values())
    assert book_at(con, first - 1) == {}
