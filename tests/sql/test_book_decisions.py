"""decision_quotes and event_ladder with order books: the best levels' sizes and the cost to take
fill_quantity contracts each way, as of each decision instant, where a book is known (null
where only candles exist); their existing columns unchanged; no look-ahead."""

from __future__ import annotations

import copy
import datetime as dt
import random
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sql_lakefactory import NOW, LakeData, build

from kalshi_lake.lake import curated_index
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sql.connection import connect, reads_decision_points
from kalshi_lake.testing.books import (
    Event,
    Market,
    Snapshot,
    Unknown,
    random_events,
    replay,
    walk,
    write_books,
)
from kalshi_lake.transform.decision_points import write_lake_points

BOOK_COLUMNS = [
    "book_yes_bid", "yes_bid_size", "book_yes_ask", "yes_ask_size", "book_as_of", "book_source",
    "fill_quantity", "buy_yes_filled", "buy_yes_cost", "buy_yes_avg_price", "buy_no_filled",
    "buy_no_cost", "buy_no_avg_price",
]  # fmt: skip
EVENT_DATES = (dt.date(2026, 11, 1), dt.date(2026, 11, 21))
QUERY = (
    "SELECT * FROM decision_quotes_for('chicago', DATE '2026-10-30', DATE '2026-11-22'{extra}) "
    "ORDER BY market_ticker, decision_at"
)


def _books(data: LakeData, seed: int) -> dict[str, tuple[Market, list[Event]]]:
    """Books for chicago's 11-01 and 11-21 markets: streamed from the open (one starting only
    after D-1 10:00, one REST-polled now and then, one with a hole over D 10:00)."""
    rng = random.Random(seed)
    out = {}
    chosen = [m for m in data.markets if m["city"] == "chicago" and m["date"] in EVENT_DATES]
    for i, m in enumerate(chosen):
        market = Market(m["market_ticker"], m["event_ticker"], "chicago", "high", m["date"])
        start, end = m["open_time"], min(m["close_time"], NOW)
        if i == 1:
            start += dt.timedelta(hours=3)  # D-1 10:00 CST is an hour after the open
        events: list[Event]
        if i == 2:  # polls 23 minutes apart: older than the engine's first look (ten minutes)
            events = [
                Snapshot(start + dt.timedelta(minutes=k * 23), None, 0, _rest_book(rng), "rest")
                for k in range(int((end - start).total_seconds() // 1380))
            ]
        else:
            events = random_events(rng, start, end, conn_prefix=f"c{i}", mean_gap_s=45)
        if i == 4:  # a hole from 20 minutes before D 10:00 CST (16:00Z) until its end
            d10 = dt.datetime.combine(m["date"], dt.time(16), dt.UTC)
            hole = Unknown(d10 - dt.timedelta(minutes=20), "c4-x", 10**9)
            events = [e for e in events if e.at < hole.at] + [hole]
        out[m["market_ticker"]] = (market, events)
    return out


def _rest_book(rng: random.Random) -> dict[tuple[str, Decimal], Decimal]:
    mid = rng.randint(10, 90)
    book = {("bid", Decimal(mid - k) / 100): Decimal(rng.randint(1, 150)) for k in (1, 2, 3)}
    book |= {("ask", Decimal(mid + k) / 100): Decimal(rng.randint(1, 150)) for k in (1, 2)}
    return book


def _as_of(events: Sequence[Event], ts: dt.datetime) -> dt.datetime | None:
    """Receive time of the last frame applied to the book as of ts: the latest snapshot entry's
    own frame (a cadence entry's: the frame it was replayed up to; its instant when that frame
    left no row, an empty snapshot) or a later delta on its connection."""
    at: dt.datetime | None = None
    conn: str | None = None
    frame = 0
    received: dict[tuple[str | None, int], dt.datetime] = {}  # frames with a book_deltas row
    for ev in events:
        if ev.at > ts:
            break
        if isinstance(ev, Snapshot):
            if ev.kind != "cadence" and ev.levels:
                received[(ev.conn_id, ev.frame_no)] = ev.at
            at = received.get((ev.conn_id, ev.frame_no), ev.at)
            conn, frame = ev.conn_id, ev.frame_no
        elif isinstance(ev, Unknown):
            at = None
        else:
            received[(ev.conn_id, ev.frame_no)] = ev.at
            if at is not None and ev.conn_id == conn and ev.frame_no > frame:
                at = ev.at
    return at


def expected_book_columns(
    events: Sequence[Event], ts: dt.datetime, quantity: Decimal
) -> dict[str, Any]:
    levels = replay(events, ts)
    if levels is None:
        return dict.fromkeys(BOOK_COLUMNS)
    bids = sorted(((p, s) for (sd, p), s in levels.items() if sd == "bid"), reverse=True)
    asks = sorted((p, s) for (sd, p), s in levels.items() if sd == "ask")
    yes, no = walk(levels, "yes", quantity), walk(levels, "no", quantity)
    rest = any(isinstance(e, Snapshot) and e.kind == "rest" for e in events)
    return {
        "book_yes_bid": bids[0][0] if bids else None,
        "yes_bid_size": bids[0][1] if bids else None,
        "book_yes_ask": asks[0][0] if asks else None,
        "yes_ask_size": asks[0][1] if asks else None,
        "book_as_of": _as_of(events, ts),
        "book_source": "rest" if rest else "ws",
        "fill_quantity": quantity,
        "buy_yes_filled": yes["filled"],
        "buy_yes_cost": yes["total_cost"],
        "buy_yes_avg_price": yes["avg_price"],
        "buy_no_filled": no["filled"],
        "buy_no_cost": no["total_cost"],
        "buy_no_avg_price": no["avg_price"],
    }


def _rows(con: Any, extra: str = "") -> list[dict[str, Any]]:
    rel = con.sql(QUERY.format(extra=extra))
    return [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]


def _materialize(lake: Lake) -> None:
    """decision_points written and the lake indexed, as a transform leaves it: the views then
    read the table (kalshi_lake.sql.connection.materialized)."""
    write_lake_points(lake)
    curated_index.build(lake)
    assert reads_decision_points(connect(lake))


def _computed(lake: Lake) -> None:
    assert not reads_decision_points(connect(lake))


#: Every test runs on lakes whose decision rows are computed, and on the same lakes with the
#: decision_points table: both must equal the plain Python model.
@pytest.fixture(scope="module", params=[_computed, _materialize], ids=["computed", "table"])
def lakes(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> dict[str, Any]:
    finish = request.param
    data = build()
    books = _books(data, seed=3)
    root = tmp_path_factory.mktemp("decisions")
    plain = copy.deepcopy(data).write(root / "plain")
    with_books = copy.deepcopy(data).write(root / "books")
    write_books(with_books, books.values())
    finish(plain)
    finish(with_books)
    return {"data": data, "books": books, "plain": plain, "with_books": with_books, "root": root,
            "finish": finish}  # fmt: skip


def test_decision_rows_carry_the_book_where_it_is_known(lakes: dict[str, Any]) -> None:
    books = lakes["books"]
    con = connect(lakes["with_books"])
    rows = _rows(con)
    known = 0
    for r in rows:
        got = {k: r[k] for k in BOOK_COLUMNS}
        if r["market_ticker"] not in books:
            assert got == dict.fromkeys(BOOK_COLUMNS), r["market_ticker"]
            continue
        want = expected_book_columns(books[r["market_ticker"]][1], r["decision_at"], Decimal(100))
        assert got == want, (r["market_ticker"], r["decision_label"])
        known += want["book_as_of"] is not None
    # every kind of instant was seen: known streamed and polled books, unknown ones, and a book
    # whose latest entry is older than ten minutes
    assert 10 <= known < sum(r["market_ticker"] in books for r in rows)
    assert any(
        r["book_source"] == "rest" and r["decision_at"] - r["book_as_of"] > dt.timedelta(minutes=10)
        for r in rows
    )


def test_fill_quantity_is_configurable(lakes: dict[str, Any]) -> None:
    books = lakes["books"]
    con = connect(lakes["with_books"])
    for r in _rows(con, ", fill_quantity := 37.5"):
        if r["market_ticker"] in books:
            want = expected_book_columns(
                books[r["market_ticker"]][1], r["decision_at"], Decimal("37.5")
            )
            assert {k: r[k] for k in BOOK_COLUMNS} == want


def test_existing_columns_do_not_change(lakes: dict[str, Any]) -> None:
    with_books = _rows(connect(lakes["with_books"]))
    plain = _rows(connect(lakes["plain"]))
    assert [{k: v for k, v in r.items() if k not in BOOK_COLUMNS} for r in with_books] == [
        {k: v for k, v in r.items() if k not in BOOK_COLUMNS} for r in plain
    ]
    assert list(with_books[0])[-len(BOOK_COLUMNS) :] == BOOK_COLUMNS  # added at the end
    assert all(r[k] is None for r in plain for k in BOOK_COLUMNS)


def test_event_ladder_carries_the_same_book_columns(lakes: dict[str, Any]) -> None:
    con = connect(lakes["with_books"])
    cols = ", ".join(BOOK_COLUMNS)
    ladder = con.sql(
        f"SELECT market_ticker, decision_label, {cols} FROM event_ladder_for("
        "'chicago', DATE '2026-10-30', DATE '2026-11-22', fill_quantity := 250) ORDER BY ALL"
    ).fetchall()
    quotes = con.sql(
        f"SELECT market_ticker, decision_label, {cols} FROM decision_quotes_for("
        "'chicago', DATE '2026-10-30', DATE '2026-11-22', fill_quantity := 250) ORDER BY ALL"
    ).fetchall()
    assert ladder == quotes
    plain = con.sql(
        f"SELECT market_ticker, decision_label, {cols} FROM event_ladder WHERE city = 'chicago' "
        "ORDER BY ALL"
    )
    assert (
        plain.fetchall()
        == con.sql(
            f"SELECT market_ticker, decision_label, {cols} FROM decision_quotes_for('chicago') "
            "ORDER BY ALL"
        ).fetchall()
    )


def test_no_look_ahead_for_decision_rows(lakes: dict[str, Any], tmp_path: Path) -> None:
    """Replacing everything received after an instant (other deltas on the same connections,
    new snapshots, holes) changes no decision row at or before it."""
    data, books = lakes["data"], lakes["books"]
    cut = dt.datetime(2026, 11, 20, 16, 0, tzinfo=dt.UTC)  # 11-21's D-1 10:00 CST
    rng = random.Random(99)
    altered = []
    for market, events in books.values():
        head = [e for e in events if e.at <= cut]
        tail = random_events(rng, cut + dt.timedelta(microseconds=1), NOW, conn_prefix="c0")
        altered.append((market, head + tail + [Unknown(NOW, "c0-1", 10**6)]))
    lake = copy.deepcopy(data).write(tmp_path / "altered")
    write_books(lake, altered)
    lakes["finish"](lake)
    before = [r for r in _rows(connect(lakes["with_books"])) if r["decision_at"] <= cut]
    after = [r for r in _rows(connect(lake)) if r["decision_at"] <= cut]
    assert before == after
    assert any(r["book_as_of"] is not None for r in before)
    later = [r for r in _rows(connect(lake)) if r["decision_at"] > cut]
    assert later != [r for r in _rows(connect(lakes["with_books"])) if r["decision_at"] > cut]
