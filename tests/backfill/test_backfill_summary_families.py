"""The backfill summary has a row per city AND family, each with that family's own counters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kalshi_lake.backfill import run_backfill, run_backfills
from kalshi_lake.backfill.summary import BackfillSummary, summary_rows, unit_family
from kalshi_lake.cities import get_city
from kalshi_lake.errors import FetchIncompleteError
from kalshi_lake.lake.state import read_run_records
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim import SimServer

DAYS = dt.date(2026, 11, 1), dt.date(2026, 11, 2)


def test_each_city_and_family_has_a_row_with_its_own_counts(
    sim: SimServer,
    lake_dir: Path,
    settings_for: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    start, end = DAYS
    summary = run_backfills(
        settings_for(sim), [get_city("chicago"), get_city("austin")], start, end
    )
    rows = {(r.city, r.family): r for run in summary.runs for r in summary_rows(run)}
    # austin lists no lows: its one row is its highs.
    assert set(rows) == {("chicago", "high"), ("chicago", "low"), ("austin", "high")}
    for (city, family), row in rows.items():
        truth = truth_of(sim.world, city, start, end, families=[family])
        assert row.status == "ok" and row.failed == 0
        assert row.events == row.events_done == len(truth.events) == 2
        assert row.markets == len(truth.markets)
        assert row.trades == len(truth.trades), (city, family)
        assert row.candles == len(truth.candles), (city, family)
    # The families' counters add up to the city's; its requests are the families' plus the
    # ones they share (the archive cutoff; each day's batch page packing both families' last
    # markets), with no retries here.
    chicago = next(r for r in summary.runs if r.city == "chicago")
    fams = chicago.by_family
    assert fams["high"]["trades"] + fams["low"]["trades"] == chicago.trades
    assert fams["high"]["candles"] + fams["low"]["candles"] == chicago.candles
    days = (end - start).days + 1
    assert fams["high"]["requests"] + fams["low"]["requests"] + 1 + days == chicago.requests
    assert fams["high"]["requests"] > 0 and fams["low"]["requests"] > 0
    # The table shows every row; the run record keeps the counters.
    text = summary.render()
    for city, family in rows:
        assert any(line.startswith(f"  {city:<14}{family:<8}") for line in text.splitlines())
    records = [r for r in read_run_records(Lake.of(lake_dir)) if r.get("city") == "chicago"]
    assert records[-1]["summary"]["by_family"] == fams


def test_the_registry_is_compared_with_get_series_once_for_every_city(
    sim: SimServer, settings_for: Callable[..., Any]
) -> None:
    start, end = DAYS
    cities = [get_city(n) for n in ("chicago", "nyc", "austin")]
    summary = run_backfills(settings_for(sim), cities, start, end)
    assert sim.stats()["by_endpoint"]["/series"] == {"200": 1}
    text = summary.render()
    # One warning for the run (it used to be one per city).
    assert text.count("registry lacks: KXLOWTAUS") == 1
    assert not any("registry" in n for run in summary.runs for n in run.notes)


def test_a_family_that_fails_is_the_incomplete_row(
    sim_factory: Callable[..., SimServer], settings_for: Callable[..., Any]
) -> None:
    start, end = DAYS
    broken = sim_factory(fail_on="KXLOWTCHI")  # chicago's lows answer 404, for good
    with pytest.raises(FetchIncompleteError) as caught:
        run_backfills(settings_for(broken), [get_city("chicago"), get_city("nyc")], start, end)
    summary = caught.value.summary
    assert summary is not None
    rows = {(r.city, r.family): r for run in summary.runs for r in summary_rows(run)}
    assert rows["chicago", "low"].status == "incomplete" and rows["chicago", "low"].failed >= 1
    assert rows["chicago", "high"].status == "ok" and rows["chicago", "high"].failed == 0
    assert rows["chicago", "high"].events_done == 2
    assert rows["nyc", "low"].status == rows["nyc", "high"].status == "ok"


def test_a_one_city_summary_shows_its_families(
    sim: SimServer, settings_for: Callable[..., Any]
) -> None:
    start, end = DAYS
    summary = run_backfill(settings_for(sim), get_city("chicago"), start, end)
    text = summary.render()
    assert any(line.startswith("  high ") and "2 events" in line for line in text.splitlines())
    assert any(line.startswith("  low ") and "2 events" in line for line in text.splitlines())
    # One family: its counters are the run's, no per-family lines needed.
    one = run_backfill(settings_for(sim), get_city("austin"), start, end)
    assert list(one.by_family) == ["high"] and "  high " not in one.render()
    assert one.by_family["high"]["trades"] == one.trades


def test_a_summary_without_family_counters_gives_one_row_naming_its_families() -> None:
    # A run record written before the counters were kept per family.
    old = BackfillSummary(
        run_id="r", city="nyc", start=DAYS[0], end=DAYS[1], candle_window="full",
        refresh=False, lake="lake", families=["high", "low"], events=4, trades=9,
    )  # fmt: skip
    (row,) = summary_rows(old)
    assert (row.family, row.events, row.trades) == ("high,low", 4, 9)


@pytest.mark.parametrize(
    ("unit", "family"),
    [
        ("trades KXLOWTCHI-26NOV01-B40.5", "low"),
        ("candles KXHIGHNY-26NOV01 (live event)", "high"),
        ("discovery of KXLOWTNYC events and markets", "low"),
        ("markets of HIGHCHI-24AUG01 (historical)", "high"),  # a legacy prefix
        ("the run", None),
        ("trades KXNOTACITY-26NOV01-B1", None),
    ],
)
def test_a_failed_unit_is_counted_for_the_family_it_names(unit: str, family: str | None) -> None:
    assert unit_family(unit) == family
