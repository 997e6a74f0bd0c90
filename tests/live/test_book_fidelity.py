"""The lake's order books are the simulator's: ``follow`` records two cities through hours of a
simulated day at speed (dropped frames, two disconnects), the transform builds book_deltas,
book_snapshots and quotes, and ``book_at`` answers.

The replay of tests/live/fidelity.py says at which simulated instants a recorded book is
*known*. Each such instant is settled just before a frame received at ``recv(i)``; the book
``book_at`` gives as of the frame received just before it (``recv(i-1)``) must be exactly the
simulator's. Where the recorder knew it had lost frames (a seq hole, the end of a connection),
``book_at`` gives no rows until a fresh snapshot. No look-ahead: the tables built from a lake
cut at an instant give the same ``book_at`` there. A re-run transform writes the same tables.
"""

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
import pyarrow.parquet as pq
import pytest
from follow_support import FaultyRecording

import kalshi_lake
from kalshi_lake.config import Settings
from kalshi_lake.sim import World
from kalshi_lake.sim.config import FIXTURE_SEED
from kalshi_lake.transform import run_transform
from tests.live.fidelity import Row, frame_time_us, read_ws, replay_books

pytestmark = pytest.mark.slow


@dataclass
class Recording:
    lake: Path
    rows: list[Row]
    end_us: int


@pytest.fixture(scope="module")
def recording(
    ws_recording: FaultyRecording, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Recording]:
    # transformed in a copy: the recording is shared with other modules and xdist workers
    r = ws_recording
    lake = tmp_path_factory.mktemp("book-fidelity") / "lake"
    shutil.copytree(r.lake, lake)
    run_transform(Settings.load(env={}, lake=str(lake), progress=False))
    yield Recording(lake, read_ws(lake), r.end_us)


def _ts(us: int) -> str:
    at = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=us)
    return at.strftime("%Y-%m-%d %H:%M:%S.%f+00")


def _cents(x: Decimal) -> int:
    c = x * 100
    assert c == c.to_integral_value()
    return int(c)


def book_at(con: duckdb.DuckDBPyConnection, us: int) -> dict[str, tuple[dict[int, int], ...]]:
    """``book_at`` at ``us`` per market, on the simulator's legs: (yes bids, no bids) in cents
    and hundredths of a contract."""
    out: dict[str, tuple[dict[int, int], dict[int, int]]] = {}
    for ticker, side, price, size in con.execute(
        f"SELECT market_ticker, side, price, size FROM book_at('{_ts(us)}')"
    ).fetchall():
        yes, no = out.setdefault(ticker, ({}, {}))
        if side == "bid":
            yes[_cents(price)] = _cents(size)
        else:
            no[100 - _cents(price)] = _cents(size)
    return out  # type: ignore[return-value]


def _any(book: Any) -> bool:
    return bool(book.yes or book.no)


def _msg(r: Row) -> dict[str, Any]:
    return dict(json.loads(r.body))


def test_book_at_equals_the_simulators_book_at_100_known_instants(recording: Recording) -> None:
    rows = recording.rows
    inbound = [r for r in rows if r.direction == "in"]
    timed: list[tuple[int, int]] = []  # (index in inbound, frame time)
    for i, r in enumerate(inbound):
        if r.msg_type in ("orderbook_delta", "ticker"):
            t = frame_time_us(r.msg_type, _msg(r)["msg"])
            if t is not None:
                timed.append((i, t))
    deltas = [t for i, t in timed if inbound[i].msg_type == "orderbook_delta"]
    tickers = sorted({r.market_ticker for r in inbound
                      if r.msg_type == "orderbook_delta" and r.market_ticker})  # fmt: skip
    rng = random.Random(15)
    samples = [(rng.randint(min(deltas), max(deltas)), rng.choice(tickers)) for _ in range(3000)]
    known = replay_books(rows, samples)

    def settled_before(k: Any) -> int | None:
        """The receive time of the last frame the replay applied for sample ``k``."""
        for i, t in timed:
            r = inbound[i]
            if r.conn_no == k.conn_no and t > k.ts_us:
                prev = inbound[i - 1]
                if i == 0 or prev.conn_no != k.conn_no or prev.recv_us >= r.recv_us:
                    return None  # two frames in one microsecond: no instant between them
                return prev.recv_us
        return None

    # one draw per instant and market (two samples may land on the same)
    usable = list(
        {
            (k.ts_us, k.ticker): (k, r) for k in known if (r := settled_before(k)) is not None
        }.values()
    )
    world = World(FIXTURE_SEED, dt.datetime.fromtimestamp(recording.end_us / 1e6, dt.UTC))
    truth = {(k.ts_us, k.ticker): world.book_at(k.ticker, k.ts_us) for k, _ in usable}
    resynced = [x for x in usable if x[0].kind == "resync"]
    reconnected = [x for x in usable if x[0].conn_no >= 2]
    assert resynced and reconnected
    chosen = rng.sample(resynced, min(10, len(resynced)))
    # a resync after a reconnect is both: drawn once
    reconnected = [x for x in reconnected if x not in chosen]
    chosen += rng.sample(reconnected, min(10, len(reconnected)))
    # most of the rest real books (many markets are empty before their first quote)
    full = [x for x in usable if x not in chosen and _any(truth[(x[0].ts_us, x[0].ticker)])]
    chosen += rng.sample(full, 70 - len(chosen))
    chosen += rng.sample([x for x in usable if x not in chosen], 100 - len(chosen))
    assert len({(k.ts_us, k.ticker) for k, _ in chosen}) == 100
    con = kalshi_lake.connect(recording.lake)
    nonempty = 0
    for k, recv_us in chosen:
        want = truth[(k.ts_us, k.ticker)]
        got = book_at(con, recv_us).get(k.ticker, ({}, {}))
        assert got == (want.yes, want.no), (k.ticker, k.ts_us, recv_us, k.kind)
        nonempty += bool(want.yes or want.no)
    assert nonempty >= 70, nonempty


def test_book_at_has_no_rows_where_the_recorder_lost_the_book(recording: Recording) -> None:
    """After a seq hole on an order book sid (the recorder's gap event) and before the resync's
    snapshot of a market, and after a connection ended before the next one's snapshot, the
    market has no rows; and the tables say so (an 'unknown' entry, an is_known = false quote)."""
    rows = recording.rows
    con = kalshi_lake.connect(recording.lake)
    checked = 0
    for r in rows:
        if r.direction != "event":
            continue
        e = _msg(r)
        if e["event"] == "gap" and e.get("channel") == "orderbook_delta":
            on_sid = {x.market_ticker for x in rows if x.conn_no == r.conn_no
                      and x.sid == e["sid"] and x.msg_type == "orderbook_snapshot"
                      and x.frame_no < r.frame_no}  # fmt: skip
        elif e["event"] == "disconnected":
            on_sid = {x.market_ticker for x in rows if x.conn_no == r.conn_no
                      and x.msg_type == "orderbook_snapshot"}  # fmt: skip
        else:
            continue
        for ticker in sorted(t for t in on_sid if t):
            fresh = [x.recv_us for x in rows if x.market_ticker == ticker
                     and x.msg_type == "orderbook_snapshot" and x.recv_us > r.recv_us]  # fmt: skip
            until = min(fresh) if fresh else r.recv_us + 1_000_000
            if until - r.recv_us < 2:
                continue
            at = (r.recv_us + until) // 2
            assert ticker not in book_at(con, at), (ticker, e)
            checked += 1
            if checked >= 40:
                break
        if checked >= 40:
            break
    assert checked >= 10
    unknown = con.execute("SELECT count(*) FROM book_snapshots WHERE kind = 'unknown'").fetchone()
    unquoted = con.execute("SELECT count(*) FROM quotes WHERE NOT is_known").fetchone()
    assert unknown and unknown[0] > 0 and unquoted and unquoted[0] == unknown[0]


def test_quotes_are_the_top_of_book_at_at_their_instants(recording: Recording) -> None:
    """Every known quote row is the best bid and ask of book_at at its instant."""
    con = kalshi_lake.connect(recording.lake)
    quotes = con.execute(
        "SELECT market_ticker, epoch_us(quote_at), yes_bid, yes_bid_size, yes_ask, yes_ask_size"
        " FROM quotes WHERE is_known ORDER BY all"
    ).fetchall()
    rng = random.Random(3)
    for ticker, at, bid, bid_size, ask, ask_size in rng.sample(quotes, 60):
        levels = con.execute(
            f"SELECT side, price, size FROM book_at('{_ts(at)}') WHERE market_ticker = ?",
            [ticker],
        ).fetchall()
        bids = [(p, s) for side, p, s in levels if side == "bid"]
        asks = [(p, s) for side, p, s in levels if side == "ask"]
        assert (max(bids) if bids else (None, None)) == (bid, bid_size)
        assert (min(asks) if asks else (None, None)) == (ask, ask_size)


def _cut(src: Path, dst: Path, us: int) -> None:
    """A copy of the raw layer holding only what was received at or before ``us``."""
    for f in sorted(src.glob("raw/**/*.parquet")):
        t = pq.read_table(f)
        col = "recv_at" if "recv_at" in t.column_names else "fetched_at"
        keep = duckdb.sql(f"SELECT * FROM t WHERE epoch_us({col}) <= {us}").to_arrow_table()
        out = dst / f.relative_to(src)
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(keep.cast(t.schema), out)


def test_no_look_ahead_nothing_received_after_ts_changes_book_at(
    recording: Recording, tmp_path: Path
) -> None:
    con = kalshi_lake.connect(recording.lake)
    bounds = con.execute(
        "SELECT epoch_us(min(recv_at)), epoch_us(max(recv_at)) FROM book_deltas"
    ).fetchone()
    assert bounds is not None
    lo, hi = bounds
    rng = random.Random(7)
    cuts = 0
    while cuts < 2:
        at = rng.randint(lo + (hi - lo) // 4, hi - (hi - lo) // 4)
        full = book_at(con, at)
        if not full:
            continue  # between a disconnect and the next snapshots: nothing is known
        cut = tmp_path / f"cut{cuts}"
        _cut(recording.lake, cut, at)
        run_transform(Settings.load(env={}, lake=str(cut), progress=False))
        assert book_at(kalshi_lake.connect(cut), at) == full, at
        cuts += 1


def test_a_rerun_transform_writes_identical_tables(recording: Recording, tmp_path: Path) -> None:
    copy = tmp_path / "lake"
    shutil.copytree(recording.lake / "raw", copy / "raw")
    run_transform(Settings.load(env={}, lake=str(copy), progress=False), full=True)
    for table in ("book_deltas", "book_snapshots", "quotes"):
        a = sorted((recording.lake / "curated" / table).glob("*/*/*.parquet"))
        b = sorted((copy / "curated" / table).glob("*/*/*.parquet"))
        assert [p.relative_to(recording.lake) for p in a] == [p.relative_to(copy) for p in b]
        assert a, table
        for x, y in zip(a, b, strict=True):
            assert pq.read_table(x).equals(pq.read_table(y)), (table, x)
