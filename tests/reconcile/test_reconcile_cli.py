"""`kalshi-lake reconcile` and run_reconcile: fetch, then the summary per city and the exit code.

The daily-report reader is stood in for by a publisher of the simulator's own reports into the
lake (what the reader stores after reading the bucket), published up to a given day: the days
after it are not out yet.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from reports_fixture import (
    CITY,
    FETCHED_AT,
    REPORT_DAYS,
    mark_pending,
    publish_day,
    remove_one_trade,
)

from kalshi_lake.cities import get_city
from kalshi_lake.cli import cli
from kalshi_lake.config import Settings
from kalshi_lake.reconcile import ReconcileFailed, run, run_reconcile
from kalshi_lake.sim import World


@dataclass
class Published:
    """What the stand-in reader did."""

    days: list[dt.date] = field(default_factory=list)
    pending: list[dt.date] = field(default_factory=list)

    def render(self) -> str:
        return f"daily reports: {len(self.days)} days fetched, {len(self.pending)} pending"


@dataclass
class Publisher:
    """Stores the simulator's reports of every asked day up to ``last`` (later ones: pending)."""

    world: World
    last: dt.date
    calls: list[tuple[tuple[str, ...], dt.date, dt.date]] = field(default_factory=list)

    def __call__(
        self,
        settings: Settings,
        cities: Sequence[str],
        start: dt.date,
        end: dt.date,
        families: Sequence[str] | None = None,
    ) -> Published:
        self.calls.append((tuple(cities), start, end))
        out = Published()
        day = start
        while day <= end:
            if day <= self.last:
                for city in cities:
                    publish_day(Path(settings.lake), self.world, city, day, fetched_at=FETCHED_AT)
                out.days.append(day)
            else:
                for city in cities:
                    mark_pending(Path(settings.lake), city, day)
                out.pending.append(day)
            day += dt.timedelta(days=1)
        return out


@pytest.fixture
def lake(base_lake: Path, tmp_path: Path) -> Path:
    """A fresh copy of the simulator lake, no report stored yet."""
    path = tmp_path / "lake"
    shutil.copytree(base_lake, path)
    return path


def test_run_reconcile_fetches_then_finds_every_day_matching(lake: Path, sim_world: World) -> None:
    publisher = Publisher(sim_world, REPORT_DAYS[-1])
    summary = run_reconcile(
        Settings(lake=str(lake)),
        [get_city(CITY)],
        REPORT_DAYS[0],
        REPORT_DAYS[-1],
        fetch=publisher,
    )
    assert publisher.calls == [((CITY,), REPORT_DAYS[0], REPORT_DAYS[-1])]
    [c] = summary.cities
    assert (c.city, c.days_compared, c.days_pending) == (CITY, 3, 0)
    assert (c.markets_flagged_error, c.markets_flagged_warn, c.flagged) == (0, 0, ())
    assert summary.render().splitlines() == [
        "daily reports: 3 days fetched, 0 pending",
        f"{CITY}: 3 days compared, 0 pending; markets flagged: 0 error, 0 warn",
    ]


def _invoke(
    lake: Path, publisher: Publisher, monkeypatch: pytest.MonkeyPatch, *args: str
) -> Result:
    monkeypatch.setattr(run, "daily_report_fetcher", lambda: publisher)
    return CliRunner().invoke(cli, ["--lake", str(lake), "reconcile", "--city", CITY, *args])


def test_cli_names_a_pending_day_and_exits_0(
    lake: Path, sim_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    pending = REPORT_DAYS[-1] + dt.timedelta(days=1)
    res = _invoke(
        lake,
        Publisher(sim_world, REPORT_DAYS[-1]),
        monkeypatch,
        "--start",
        str(REPORT_DAYS[0]),
        "--end",
        str(pending),
    )
    assert res.exit_code == 0, res.output
    assert f"{CITY}: 3 days compared, 1 pending ({pending})" in res.output
    assert "0 error, 0 warn" in res.output


def test_cli_exits_1_naming_the_market_whose_trade_the_lake_lacks(
    lake: Path, sim_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    day = REPORT_DAYS[1]
    ticker, _ = remove_one_trade(lake, CITY, day)
    res = _invoke(
        lake,
        Publisher(sim_world, REPORT_DAYS[-1]),
        monkeypatch,
        "--start",
        str(REPORT_DAYS[0]),
        "--end",
        str(REPORT_DAYS[-1]),
        "--json",
    )
    assert res.exit_code == 1, res.output
    body, _, err = res.output.rpartition("}")
    report = json.loads(body + "}")
    [c] = report["cities"]
    assert (c["markets_flagged_error"], c["markets_flagged_warn"]) == (1, 0)
    [flagged] = c["flagged"]
    assert (flagged["market_ticker"], flagged["report_date"], flagged["flag"]) == (
        ticker,
        day.isoformat(),
        "error",
    )
    assert err.strip().startswith("error: 1 market(s) have trades the daily report lists")
    assert len(err.strip().splitlines()) == 1  # one line, no traceback


def test_run_reconcile_raises_with_its_summary(lake: Path, sim_world: World) -> None:
    remove_one_trade(lake, CITY, REPORT_DAYS[0])
    with pytest.raises(ReconcileFailed) as exc:
        run_reconcile(
            Settings(lake=str(lake)),
            [get_city(CITY)],
            REPORT_DAYS[0],
            REPORT_DAYS[0],
            fetch=Publisher(sim_world, REPORT_DAYS[-1]),
        )
    assert exc.value.exit_code == 1
    assert exc.value.summary.cities[0].markets_flagged_error == 1


def test_default_range_is_yesterday_in_new_york() -> None:
    from kalshi_lake.cli.reconcile import last_report_day

    # 03:00 UTC on the 6th is still the 5th in New York: its yesterday is the 4th
    assert last_report_day(dt.datetime(2026, 12, 6, 3, 0, tzinfo=dt.UTC)) == dt.date(2026, 12, 4)
    assert last_report_day(dt.datetime(2026, 12, 6, 6, 0, tzinfo=dt.UTC)) == dt.date(2026, 12, 5)


def test_cli_start_after_end_is_one_line_and_fetches_nothing(
    lake: Path, sim_world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    publisher = Publisher(sim_world, REPORT_DAYS[-1])
    res = _invoke(
        lake, publisher, monkeypatch, "--start", str(REPORT_DAYS[1]), "--end", str(REPORT_DAYS[0])
    )
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        f"error: --start {REPORT_DAYS[1]} is after --end {REPORT_DAYS[0]}"
    ]
    assert publisher.calls == []
