"""fill_cost and fill_cost_for: taking a quantity against the book as of an instant equals a
plain Python walk of the book (kalshi_lake.testing.books.replay), for random instants, sides and
quantities, including quantities larger than the book."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kalshi_lake.lake.storage import Lake
from kalshi_lake.sql.connection import connect
from kalshi_lake.testing.books import (
    Event,
    Level,
    Market,
    Snapshot,
    random_events,
    replay,
    walk,
    write_books,
)

UTC = dt.UTC
START = dt.datetime(2026, 11, 19, 15, 0, tzinfo=UTC)
END = dt.datetime(2026, 11, 20, 3, 0, tzinfo=UTC)
SPAN_S = int((END - START).total_seconds())


def _markets() -> list[Market]:
    out = []
    for day in (20, 21):
        event = f"KXHIGHCHI-26NOV{day}"
        for suffix in ("B50.5", "B52.5", "B54.5", "B56.5", "T57", "T50"):
            out.append(
                Market(f"{event}-{suffix}", event, "chicago", "high", dt.date(2026, 11, day))
            )
    return out


def _rest_polls(rng: random.Random, start: dt.datetime, end: dt.datetime) -> list[Event]:
    """REST polls every two minutes: full books, sometimes one side or both empty."""
    out: list[Event] = []
    at = start
    while at < end:
        mid = rng.randint(5, 95)
        levels: dict[Level, Decimal] = {}
        if rng.random() < 0.85:
            for k in range(1, rng.randint(1, 4) + 1):
                levels[("bid", Decimal(mid - k) / 100)] = Decimal(rng.randint(1, 90))
        if rng.random() < 0.85:
            for k in range(1, rng.randint(1, 4) + 1):
                levels[("ask", Decimal(mid + k) / 100)] = Decimal(rng.randint(1, 90))
        out.append(Snapshot(at, None, 0, levels, kind="rest", sid=None))
        at += dt.timedelta(minutes=2)
    return out


@pytest.fixture(scope="module")
def book_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, dict[str, Any]]]:
    """A lake of 12 markets' books: 11 streamed (reconnects, cadences), one REST-polled."""
    rng = random.Random(15)
    books: dict[str, Sequence[Event]] = {}
    markets = _markets()
    for i, m in enumerate(markets):
        if i == 3:
            books[m.market_ticker] = _rest_polls(rng, START, END)
        else:
            books[m.market_ticker] = random_events(
                rng, START + dt.timedelta(minutes=rng.randint(0, 90)), END,
                conn_prefix=f"run{i % 3}", mean_gap_s=30, reconnect_share=0.01,
            )  # fmt: skip
    root = tmp_path_factory.mktemp("books") / "lake"
    root.mkdir()
    lake = Lake(str(root))
    write_books(lake, [(m, books[m.market_ticker]) for m in markets])
    con = connect(lake)
    yield con, books
    con.close()


def _sql_fill(
    con: duckdb.DuckDBPyConnection, ts: dt.datetime, side: str, quantity: Decimal
) -> dict[str, dict[str, Any]]:
    rel = con.sql("SELECT * FROM fill_cost(?, ?, ?)", params=[ts, side, quantity])
    cols = rel.columns
    return {r[0]: dict(zip(cols, r, strict=True)) for r in rel.fetchall()}


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    offset=st.integers(min_value=-600, max_value=SPAN_S + 600),
    side=st.sampled_from(["yes", "no"]),
    quantity=st.one_of(
        st.integers(min_value=1, max_value=2_000_000).map(lambda c: Decimal(c) / 100),
        st.integers(min_value=1, max_value=3000).map(Decimal),
    ),
)
def test_fill_cost_equals_a_python_walk_of_the_book(
    book_lake: tuple[Any, dict[str, Sequence[Event]]], offset: int, side: str, quantity: Decimal
) -> None:
    con, books = book_lake
    ts = START + dt.timedelta(seconds=offset)
    got = _sql_fill(con, ts, side, quantity)
    want = {}
    for ticker, events in books.items():
        levels = replay(events, ts)
        if levels:  # a known book with at least one level (an empty one has no book_at row)
            want[ticker] = walk(levels, side, quantity)
    assert set(got) == set(want)
    for ticker, w in want.items():
        g = got[ticker]
        assert {k: g[k] for k in w} == w, ticker
        assert g["quantity"] == quantity and g["side"] == side
        assert g["filled"] + g["unfilled"] == quantity


def test_quantities_larger_than_the_book_leave_the_rest_unfilled(
    book_lake: tuple[Any, dict[str, Sequence[Event]]],
) -> None:
    con, books = book_lake
    ts = START + dt.timedelta(hours=6)
    rows = _sql_fill(con, ts, "yes", Decimal(10**9))
    assert rows
    for ticker, r in rows.items():
        levels = replay(books[ticker], ts) or {}
        depth = sum((s for (sd, _), s in levels.items() if sd == "ask"), Decimal(0))
        assert r["filled"] == depth and r["unfilled"] == Decimal(10**9) - depth


def test_fill_cost_for_scopes_to_a_city_and_dates(
    book_lake: tuple[Any, dict[str, Sequence[Event]]],
) -> None:
    con, _ = book_lake
    ts = START + dt.timedelta(hours=5)
    every = con.sql("SELECT * FROM fill_cost(?, 'no', 50)", params=[ts]).fetchall()
    one_day = con.sql(
        "SELECT * FROM fill_cost_for('chicago', DATE '2026-11-21', DATE '2026-11-21', ?, 'no', 50)",
        params=[ts],
    ).fetchall()
    assert one_day and set(one_day) == {r for r in every if r[4] == dt.date(2026, 11, 21)}


@pytest.mark.parametrize(
    ("side", "quantity", "message"),
    [("buy", 10, "taker_side must be 'yes'"), ("yes", 0, "quantity must be a positive")],
)
def test_fill_cost_rejects_a_bad_side_or_quantity(
    book_lake: tuple[Any, dict[str, Sequence[Event]]], side: str, quantity: int, message: str
) -> None:
    con, _ = book_lake
    with pytest.raises(duckdb.Error, match=message):
        con.sql(
            "SELECT * FROM fill_cost(?, ?, ?)",
            params=[START + dt.timedelta(hours=2), side, quantity],
        ).fetchall()


def test_fill_cost_on_a_lake_without_books_is_empty(tmp_path: Path) -> None:
    con = connect(tmp_path)
    assert not con.sql(
        "SELECT * FROM fill_cost(TIMESTAMPTZ '2026-11-20 16:00:00+00', 'yes', 100)"
    ).fetchall()
