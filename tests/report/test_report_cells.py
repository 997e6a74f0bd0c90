"""The coverage grid's rules (pure: no lake) and the page's HTML without a lake."""

from __future__ import annotations

import datetime as dt
import json
import re

from kalshi_lake.report.build import ReportData, _ranges, render_report
from kalshi_lake.report.coverage import Cell, _grid, _status, last_listable
from kalshi_lake.sql.checks import CheckResult

D = dt.date(2026, 11, 10)
UTC = dt.UTC


def _cell(city: str, family: str, day: dt.date, status: str = "complete") -> Cell:
    return Cell(city, family, day, status, markets=6, trades=10, api_candles=5)


def test_status_rules() -> None:
    assert _status(True, True, 6, 0) == ("complete", "")
    assert _status(False, False, 6, 4)[0] == "missing"
    assert _status(True, False, 6, 0) == ("partial", "candles not fetched")
    assert _status(False, True, 6, 0) == ("partial", "trades not fetched")
    assert _status(True, True, 0, 0) == ("partial", "no markets")
    assert _status(True, True, 6, 2) == ("partial", "2 decision instant(s) without an api quote")


def test_last_listable_turns_at_ten_eastern() -> None:
    # 2026-11-20 is EST (UTC-5): 10:00 ET = 15:00Z lists tomorrow's event
    assert last_listable(dt.datetime(2026, 11, 20, 14, 59, tzinfo=UTC)) == dt.date(2026, 11, 20)
    assert last_listable(dt.datetime(2026, 11, 20, 15, 0, tzinfo=UTC)) == dt.date(2026, 11, 21)


def test_grid_fills_the_span_with_missing_and_not_listed() -> None:
    known = {
        ("chicago", "high", D): _cell("chicago", "high", D),
        ("chicago", "high", D + dt.timedelta(days=3)): _cell(
            "chicago", "high", D + dt.timedelta(days=3)
        ),
        # a listing-only day outside the span is no hole and widens nothing
        ("chicago", "high", D - dt.timedelta(days=5)): _cell(
            "chicago", "high", D - dt.timedelta(days=5), "missing"
        ),
        ("nyc", "high", D + dt.timedelta(days=1)): _cell("nyc", "high", D + dt.timedelta(days=1)),
    }
    cells = _grid(known, None, listable=D + dt.timedelta(days=2))
    got = {(c.city, c.date.day): c.status for c in cells}
    assert got == {
        ("chicago", 10): "complete",
        ("chicago", 11): "missing",
        ("chicago", 12): "missing",
        ("chicago", 13): "complete",
        ("nyc", 10): "missing",
        ("nyc", 11): "complete",
        ("nyc", 12): "missing",
        ("nyc", 13): "not listed",  # after the last listable date
    }
    # a named city with nothing in the lake gets its row, all holes
    named = _grid(known, ["chicago", "miami"], listable=D + dt.timedelta(days=9))
    assert {c.status for c in named if c.city == "miami"} == {"missing"}


def test_grid_not_listed_before_the_series_began_and_no_row_without_the_series() -> None:
    # a city without a low series gets no low row at all; chicago's low days are shown
    known = {("chicago", "low", D): _cell("chicago", "low", D)}
    cells = _grid(known, ["chicago", "seattle"], listable=D)
    from kalshi_lake.cities import get_city

    has_lows = "low" in get_city("seattle").families
    assert {c.city for c in cells} == ({"chicago", "seattle"} if has_lows else {"chicago"})
    early = dt.date(2000, 1, 1)
    old = _grid({("chicago", "high", early): _cell("chicago", "high", early)}, None, listable=D)
    assert [c.status for c in old] == ["complete"]  # data before first_event still shown as is
    span = {
        ("chicago", "high", early): _cell("chicago", "high", early),
        ("chicago", "high", early + dt.timedelta(days=2)): _cell(
            "chicago", "high", early + dt.timedelta(days=2)
        ),
    }
    gap = [c for c in _grid(span, None, listable=D) if c.date == early + dt.timedelta(days=1)]
    assert [c.status for c in gap] == ["not listed"]  # before the series' first event


def test_ranges() -> None:
    days = [D, D + dt.timedelta(days=1), D + dt.timedelta(days=2), D + dt.timedelta(days=5)]
    assert _ranges(days) == "2026-11-10..2026-11-12, 2026-11-15"


def _data(**kw: object) -> ReportData:
    base: dict[str, object] = {
        "lake": "file:///x",
        "generated_at": dt.datetime(2026, 12, 1, tzinfo=UTC),
        "cities": None,
        "cells": [_cell("chicago", "high", D), _cell("chicago", "high", D, "missing")],
        "status": [],
        "tiers": {},
        "runs": {},
        "checks": None,
        "reconciliation": None,
        "live": [],
    }
    base.update(kw)
    return ReportData(**base)  # type: ignore[arg-type]


def test_page_escapes_what_the_lake_holds() -> None:
    evil = "</script><script>alert(1)</script>"
    check = CheckResult("trade_x", "error", "desc <b>", 2, [{"ticker": evil}])
    page = render_report(
        _data(
            checks=[check],
            reconciliation=[
                {
                    "city": "chicago",
                    "month": "2026-11",
                    "family": "high",
                    "days_compared": 3,
                    "days_pending": 1,
                    "markets_flagged_error": 0,
                    "markets_flagged_warn": 2,
                }
            ],
        )
    )
    outside = re.sub(r"<script\b[^>]*>.*?</script>", "", page, flags=re.DOTALL)
    assert (
        "alert(1)"
        not in re.sub(r"&lt;[^&]*&gt;", "", outside).replace("&lt;script&gt;alert(1)", "")
        or "<script>alert(1)" not in outside
    )
    assert "<script>alert(1)" not in outside
    assert "desc &lt;b&gt;" in page
    assert "Not reconciled yet" not in page and "2026-11" in page
    island = re.search(r'id="coverage-data">(.*?)</script>', page, re.DOTALL)
    assert island and len(json.loads(island.group(1))) == 2


def test_empty_lake_page() -> None:
    page = render_report(_data(cells=[]))
    assert "holds no events yet" in page
    assert "Checks not run" in page and "Not reconciled yet" in page
