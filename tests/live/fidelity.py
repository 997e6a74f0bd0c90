"""Helpers of the recorder's fidelity tests: read what ``follow`` wrote to raw/ws back, and
replay the recorded order books the way a backtest would, knowing where they are trustworthy.

A replayed book of a market is *known* at a simulated instant ``T`` when all of these hold:

- the connection it came from delivered a snapshot of the market, and after that snapshot at
  least one frame with a microsecond time at or before ``T`` (a snapshot carries no time; the
  exchange answers after the data up to its instant, so that frame proves the snapshot was not
  taken after ``T``);
- no hole in the sequence of the market's order book subscription lies between that snapshot
  and ``T``: a hole invalidates every market of the sid (nobody can tell whose delta was lost)
  until each gets a fresh snapshot, and a hole that straddles ``T`` (last frame before it at or
  before ``T``) makes ``T`` unknown too, since the lost frame may be older than ``T``;
- the connection did not end before the next frame after ``T`` (a connection's tail may hide a
  lost frame nobody saw; the next connection starts every book afresh).

Everywhere else the replay says "unknown" rather than guess: the tests check that the known
instants are exactly the simulator's book, and that they cover resyncs and reconnects.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from kalshi_lake.sim.book import Book


@dataclass(frozen=True, slots=True)
class Row:
    """One recorded frame of raw/ws."""

    conn_no: int
    frame_no: int
    recv_us: int
    conn_id: str
    direction: str
    channel: str | None
    msg_type: str | None
    sid: int | None
    seq: int | None
    market_ticker: str | None
    body: str


def _conn_no(conn_id: str) -> int:
    """A connection's number (``<run id>.<n>``); the follower's own records (``<run id>.follow``)
    come first."""
    suffix = conn_id.rsplit(".", 1)[1]
    return int(suffix) if suffix.isdigit() else 0


def read_ws(lake: Path) -> list[Row]:
    """Every frame under raw/ws, in recording order (connection, then frame number)."""
    files = sorted(lake.glob("raw/ws/city=*/date=*/*.parquet"))
    assert files, "no raw/ws files"
    con = duckdb.connect()
    rows = con.execute(
        "SELECT DISTINCT epoch_us(recv_at), conn_id, frame_no, direction, channel, msg_type, sid,"
        " seq, market_ticker, body FROM read_parquet(?, union_by_name=true)",
        [[str(f) for f in files]],
    ).fetchall()
    out = [
        Row(_conn_no(r[1]), r[2], r[0], r[1], r[3], r[4], r[5], r[6], r[7], r[8], r[9])
        for r in rows
    ]
    out.sort(key=lambda r: (r.conn_no, r.frame_no))
    ids = [(r.conn_id, r.frame_no) for r in out]
    assert len(ids) == len(set(ids)), "a frame is recorded twice"
    return out


def _cents(dollars: str) -> int:
    c = Decimal(dollars) * 100
    assert c == c.to_integral_value(), dollars
    return int(c)


def _cc(count: str) -> int:
    c = Decimal(count) * 100
    assert c == c.to_integral_value(), count
    return int(c)


def rfc3339_us(text: str) -> int:
    """UTC microseconds of an RFC 3339 ``...Z`` time."""
    at = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (at - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def frame_time_us(msg_type: str | None, msg: dict[str, Any]) -> int | None:
    """The simulated instant a data frame is about, to the microsecond (None: no such time)."""
    if msg_type == "orderbook_delta":
        return rfc3339_us(msg["ts"])
    if msg_type == "ticker" and "time" in msg:
        return rfc3339_us(msg["time"])
    return None  # trades and lifecycle frames carry coarser times; snapshots none


@dataclass
class _Market:
    yes: dict[int, int] = field(default_factory=dict)
    no: dict[int, int] = field(default_factory=dict)
    sid: int = 0
    #: a frame with a time came after the snapshot (so the snapshot is not after a later T)
    confirmed: bool = False
    #: the sid had a hole since the snapshot
    tainted: bool = False
    #: "initial" or "resync" (a snapshot on a sid that had a hole before it)
    kind: str = "initial"


@dataclass(frozen=True)
class Known:
    """A replayed book at an instant, and how it got there."""

    ts_us: int
    ticker: str
    book: Book
    conn_no: int
    kind: str


def replay_books(rows: list[Row], samples: list[tuple[int, str]]) -> list[Known]:
    """The replayed book of each ``(instant, ticker)`` sample that is known (see the module
    doc), in instant order; unknown samples are left out. Raises AssertionError when a delta
    would make a level of a known book negative (the replay diverged)."""
    inbound = [r for r in rows if r.direction == "in"]
    # holes per (connection, sid): index ranges (a, b] in ``inbound`` with a lost frame between
    holes: dict[tuple[int, int], list[tuple[int, float]]] = {}
    last: dict[tuple[int, int], tuple[int, int]] = {}
    ob_sids: set[tuple[int, int]] = set()
    for i, r in enumerate(inbound):
        if r.sid is None or r.seq is None:
            continue
        key = (r.conn_no, r.sid)
        if r.channel == "orderbook_delta":
            ob_sids.add(key)
        prev = last.get(key)
        if prev is not None and r.seq != prev[1] + 1:
            holes.setdefault(key, []).append((prev[0], i))
        last[key] = (i, r.seq)
    for key, (i, _) in last.items():  # a connection's tail may hide a loss nobody saw
        holes.setdefault(key, []).append((i, float("inf")))

    todo = sorted(samples)
    out: list[Known] = []
    books: dict[str, _Market] = {}
    conn = None
    sid_seen_hole: set[int] = set()
    k = 0

    def settle(i: int, before_us: int) -> None:
        nonlocal k
        while k < len(todo) and todo[k][0] < before_us:
            t, ticker = todo[k]
            k += 1
            m = books.get(ticker)
            if m is None or not m.confirmed or m.tainted:
                continue
            straddles = any(a < i <= b for a, b in holes.get((conn or 0, m.sid), ()))
            if straddles:
                continue
            book = Book(yes=dict(m.yes), no=dict(m.no))
            out.append(Known(t, ticker, book, conn or 0, m.kind))

    for i, r in enumerate(inbound):
        if r.conn_no != conn:
            conn, books, sid_seen_hole = r.conn_no, {}, set()
        if r.msg_type not in ("orderbook_snapshot", "orderbook_delta", "ticker"):
            if r.sid is not None and r.seq is not None and (conn, r.sid) in ob_sids:
                _note_hole(holes, conn, r.sid, i, books, sid_seen_hole)
            continue
        msg = json.loads(r.body)["msg"]
        t = frame_time_us(r.msg_type, msg)
        if t is not None:
            # samples strictly before this frame's instant; one at exactly ``t`` is settled at
            # a later frame, after every change at ``t``
            settle(i, t)
        if r.sid is not None and r.seq is not None and (conn, r.sid) in ob_sids:
            _note_hole(holes, conn, r.sid, i, books, sid_seen_hole)
        ticker = msg.get("market_ticker")
        if r.msg_type == "orderbook_snapshot":
            m = _Market(sid=r.sid or 0, kind="resync" if r.sid in sid_seen_hole else "initial")
            for price, size in msg.get("yes_dollars_fp", []):
                m.yes[_cents(price)] = _cc(size)
            for price, size in msg.get("no_dollars_fp", []):
                m.no[_cents(price)] = _cc(size)
            books[ticker] = m
        elif r.msg_type == "orderbook_delta":
            m = books.get(ticker)
            if m is not None:
                side = m.yes if msg["side"] == "yes" else m.no
                p = _cents(msg["price_dollars"])
                size = side.get(p, 0) + _cc(msg["delta_fp"])
                if not m.tainted and m.confirmed:
                    assert size >= 0, f"negative level {ticker} {msg}"
                if size > 0:
                    side[p] = size
                else:
                    side.pop(p, None)
        if t is not None:
            for m in books.values():
                m.confirmed = True
    return out


def _note_hole(
    holes: dict[tuple[int, int], list[tuple[int, float]]],
    conn: int | None,
    sid: int,
    i: int,
    books: dict[str, _Market],
    seen: set[int],
) -> None:
    """A frame at index ``i`` that ends a hole on ``sid`` taints every book of the sid."""
    for _a, b in holes.get((conn or 0, sid), ()):
        if b == i:
            seen.add(sid)
            for m in books.values():
                if m.sid == sid:
                    m.tainted = True
