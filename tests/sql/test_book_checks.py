"""The order book checks (book_crossed, book_negative_level, book_replay_mismatch,
book_candle_mismatch): each fires on a lake seeded with exactly its defect and is silent on a
clean one. The clean lake's book follows one market's api candles (its top at every candle
minute's end is the candle's close), streamed as a snapshot, deltas and a closing snapshot on one
connection."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sql_lakefactory import NOW, LakeData, build

from kalshi_lake.sql.checks import run_checks
from kalshi_lake.testing.books import Delta, Event, Level, Market, Snapshot, Unknown, write_books

BOOK_CHECKS = (
    "book_candle_mismatch",
    "book_crossed",
    "book_negative_level",
    "book_replay_mismatch",
)
CONN = "fixture-ws-1"
CENT = Decimal("0.01")


def _target(c: dict[str, Any]) -> dict[Level, Decimal]:
    """A book whose top is the candle's close, one level deeper on each side."""
    out: dict[Level, Decimal] = {}
    if c["yes_bid_close"] is not None:
        out[("bid", c["yes_bid_close"])] = Decimal(40)
        if c["yes_bid_close"] > 2 * CENT:
            out[("bid", c["yes_bid_close"] - 2 * CENT)] = Decimal(25)
    if c["yes_ask_close"] is not None:
        out[("ask", c["yes_ask_close"])] = Decimal(30)
        if c["yes_ask_close"] < 1 - 2 * CENT:
            out[("ask", c["yes_ask_close"] + 2 * CENT)] = Decimal(60)
    return out


def _market(data: LakeData) -> dict[str, Any]:
    """A market with several api candles, one of them with a spread of 3 cents or more."""
    for m in data.markets:
        candles = data.api_1m(m["market_ticker"])
        if len(candles) >= 4 and any(_wide(c) for c in candles[1:-1]):
            return m
    raise AssertionError("no market fits")


def _wide(c: dict[str, Any]) -> bool:
    return (
        c["yes_bid_close"] is not None
        and c["yes_ask_close"] is not None
        and c["yes_ask_close"] - c["yes_bid_close"] >= 3 * CENT
    )


def candle_book(data: LakeData, ticker: str) -> list[Event]:
    """The clean stream: at 30 s into every api candle's minute the book becomes the candle's
    close (levels removed first, so it is never crossed on the way); a snapshot 10 s later
    after the last one."""
    events: list[Event] = []
    state: dict[Level, Decimal] = {}
    frame = 0
    for c in data.api_1m(ticker):
        at = c["bucket_start"] + dt.timedelta(seconds=30)
        target = _target(c)
        if not events:
            frame += 1
            events.append(Snapshot(at, CONN, frame, target))
        else:
            gone = [(k, -v) for k, v in state.items() if k not in target]
            changed = [(k, v - state.get(k, Decimal(0))) for k, v in target.items()]
            for (side, price), delta in gone + [x for x in changed if x[1] != 0]:
                frame += 1
                events.append(Delta(at, CONN, frame, side, price, delta))
        state = dict(target)
    frame += 1
    events.append(Snapshot(events[-1].at + dt.timedelta(seconds=10), CONN, frame, dict(state)))
    return events


def _renumber(events: list[Event]) -> list[Event]:
    """Events in receive order with frame numbers 1, 2, ... (after inserting some)."""
    ordered = sorted(events, key=lambda e: e.at)
    return [dataclasses.replace(e, frame_no=i) for i, e in enumerate(ordered, 1)]


def _wide_candle(data: LakeData, ticker: str) -> dict[str, Any]:
    return next(c for c in data.api_1m(ticker)[1:-1] if _wide(c))


def crossed(data: LakeData, ticker: str, events: list[Event]) -> list[Event]:
    """For five seconds a bid at the best ask."""
    c = _wide_candle(data, ticker)
    at = c["bucket_start"] + dt.timedelta(seconds=40)
    ask = c["yes_ask_close"]
    return _renumber([
        *events,
        Delta(at, CONN, 0, "bid", ask, Decimal(5)),
        Delta(at + dt.timedelta(seconds=5), CONN, 0, "bid", ask, Decimal(-5)),
    ])  # fmt: skip


def negative(data: LakeData, ticker: str, events: list[Event]) -> list[Event]:
    """A deeper bid level cancelled by more than it holds, then restored."""
    c = _wide_candle(data, ticker)
    at = c["bucket_start"] + dt.timedelta(seconds=40)
    price = c["yes_bid_close"] - 2 * CENT
    return _renumber([
        *events,
        Delta(at, CONN, 0, "bid", price, Decimal(-28)),
        Delta(at + dt.timedelta(seconds=5), CONN, 0, "bid", price, Decimal(28)),
    ])  # fmt: skip


def replay_off(data: LakeData, ticker: str, events: list[Event]) -> list[Event]:
    """The closing snapshot shows one level 7 contracts bigger than the deltas built."""
    last = events[-1]
    assert isinstance(last, Snapshot)
    key = next(iter(last.levels))
    return [
        *events[:-1],
        dataclasses.replace(last, levels={**last.levels, key: last.levels[key] + 7}),
    ]


def candle_off(data: LakeData, ticker: str, events: list[Event]) -> list[Event]:
    """A bid a cent above the candle's close rests over one candle minute's end."""
    c = _wide_candle(data, ticker)
    at = c["bucket_start"] + dt.timedelta(seconds=40)
    price = c["yes_bid_close"] + CENT
    return _renumber([
        *events,
        Delta(at, CONN, 0, "bid", price, Decimal(3)),
        Delta(at + dt.timedelta(seconds=25), CONN, 0, "bid", price, Decimal(-3)),
    ])  # fmt: skip


DEFECTS: dict[str, Callable[[LakeData, str, list[Event]], list[Event]]] = {
    "book_crossed": crossed,
    "book_negative_level": negative,
    "book_replay_mismatch": replay_off,
    "book_candle_mismatch": candle_off,
}


def _write(data: LakeData, root: Path, events: list[Event]) -> Any:
    m = _market(data)
    lake = copy.deepcopy(data).write(root)
    market = Market(m["market_ticker"], m["event_ticker"], m["city"], "high", m["date"])
    write_books(lake, [(market, events)])
    return lake


@pytest.fixture(scope="module")
def data() -> LakeData:
    return build()


def test_a_clean_lake_with_books_passes_every_check(data: LakeData, tmp_path: Path) -> None:
    ticker = _market(data)["market_ticker"]
    lake = _write(data, tmp_path / "lake", candle_book(data, ticker))
    results = run_checks(lake, as_of=NOW)
    assert {r.name: (r.status, r.error) for r in results if not r.passed} == {}
    assert set(BOOK_CHECKS) <= {r.name for r in results}


@pytest.mark.parametrize("check", sorted(DEFECTS))
def test_book_check_fires_on_exactly_its_defect(check: str, data: LakeData, tmp_path: Path) -> None:
    ticker = _market(data)["market_ticker"]
    events = DEFECTS[check](data, ticker, candle_book(data, ticker))
    lake = _write(data, tmp_path / "lake", events)
    results = {r.name: r for r in run_checks(lake, as_of=NOW, only=list(BOOK_CHECKS))}
    assert results[check].error is None, results[check].error
    assert results[check].offending >= 1 and results[check].sample
    assert {n for n, r in results.items() if not r.passed} == {check}
    assert results[check].level == ("warn" if check == "book_candle_mismatch" else "error")


def test_a_hole_stops_the_replay_checks(data: LakeData, tmp_path: Path) -> None:
    """Deltas after a seq hole and the resync snapshot that follows are not replayed from the
    snapshot before the hole: a negative level or a different book there is expected."""
    ticker = _market(data)["market_ticker"]
    events = candle_book(data, ticker)
    last = events[-1]
    assert isinstance(last, Snapshot)
    hole_at = last.at - dt.timedelta(seconds=2)
    price, size = next(iter(last.levels.items()))
    events = _renumber([
        *events[:-1],
        Unknown(hole_at, CONN, 0),
        Delta(hole_at + dt.timedelta(seconds=1), CONN, 0, price[0], price[1], -size - 9),
        dataclasses.replace(last, levels={**last.levels, price: size + 1}),
    ])  # fmt: skip
    lake = _write(data, tmp_path / "lake", events)
    results = run_checks(lake, as_of=NOW, only=["book_negative_level", "book_replay_mismatch"])
    assert [(r.name, r.passed, r.error) for r in results] == [
        ("book_negative_level", True, None),
        ("book_replay_mismatch", True, None),
    ]
