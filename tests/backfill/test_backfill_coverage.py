"""Status tells the truth, and the curated tables do not depend on which command ran last.

Two separate windows of one city are backfilled (the CLI, so each runs its own transform step).
Seattle's archive is short, so the backfill lists archived markets with one series-wide walk:
its pages name markets of many days outside the windows, including the days between them.
Those days were listed, never fetched: ``status`` must show them as a gap (and ``validate``
warn about them), and the curated tables after the backfill must be exactly what a plain and a
``--full`` transform build from the same raw layer.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from click.testing import CliRunner

from kalshi_lake.cli import cli
from kalshi_lake.schemas import TABLES
from kalshi_lake.sim import SimConfig, SimServer
from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED

CITY = "seattle"
WINDOWS = [("2026-05-01", "2026-05-04"), ("2026-05-20", "2026-05-23")]
GAP = "2026-05-05..2026-05-19"


def _cli(lake: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    result = CliRunner(env=env).invoke(cli, ["--lake", str(lake), *args])
    assert "Traceback" not in result.output, result.output
    return result


def _curated(lake: Path) -> dict[str, pl.DataFrame]:
    """Every curated table, partition by partition in path order, rows in stored order."""
    out = {}
    for table in TABLES:
        frames = [
            pl.read_parquet(f).with_columns(
                city=pl.lit(f.parent.parent.name), month=pl.lit(f.parent.name)
            )
            for f in sorted((lake / "curated" / table).glob("city=*/month=*/*.parquet"))
        ]
        out[table] = pl.concat(frames) if frames else pl.DataFrame()
    return out


def _copy_raw(src: Path, dst: Path) -> Path:
    """A lake holding only ``src``'s raw layer (nothing built, no transform state)."""
    shutil.copytree(src / "raw", dst / "raw")
    return dst


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The two windows backfilled through the CLI, with each backfill's transform step."""
    root = tmp_path_factory.mktemp("coverage") / "lake"
    server = SimServer(SimConfig(seed=FIXTURE_SEED, now=FIXTURE_NOW)).start()
    try:
        for start, end in WINDOWS:
            result = _cli(
                root, "backfill", "--city", CITY, "--start", start, "--end", end,
                "--api-url", server.base_url, "--rate", "2000",
            )  # fmt: skip
            assert result.exit_code == 0, result.output
    finally:
        server.stop()
    yield root


def _status(lake: Path) -> dict[str, Any]:
    result = _cli(lake, "status", "--json")
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.output)["cities"]
    return dict(row)


def _assert_same(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame], what: str) -> None:
    for table in TABLES:
        assert a[table].height == b[table].height, (what, table, a[table].height, b[table].height)
        assert a[table].equals(b[table]), (what, table)


def test_backfill_plain_and_full_transforms_build_the_same_curated_tables(
    lake: Path, tmp_path: Path
) -> None:
    after_backfill = _curated(lake)
    # the listings named markets of days (and months) outside the windows: they are in the
    # curated markets table whatever the command, not only after a later plain transform
    months = set(after_backfill["markets"]["month"].unique())
    assert {"month=2026-04", "month=2026-05", "month=2026-06"} <= months
    plain = shutil.copytree(lake, tmp_path / "plain")
    result = _cli(plain, "transform")
    assert result.exit_code == 0, result.output
    assert "0 partition(s) rebuilt" in result.output  # the backfill's step left nothing due
    full = shutil.copytree(lake, tmp_path / "full")
    assert _cli(full, "transform", "--full").exit_code == 0
    fresh = _copy_raw(lake, tmp_path / "fresh")  # from the raw layer alone
    assert _cli(fresh, "transform").exit_code == 0
    _assert_same(after_backfill, _curated(plain), "backfill vs plain")
    _assert_same(after_backfill, _curated(full), "backfill vs --full")
    _assert_same(after_backfill, _curated(fresh), "backfill vs fresh")


def test_status_counts_only_fetched_days_and_shows_the_gap_between_windows(
    lake: Path, tmp_path: Path
) -> None:
    row = _status(lake)
    assert (row["first_date"], row["last_date"]) == ("2026-05-01", "2026-05-23")
    assert (row["event_dates"], row["missing_days"], row["gaps"]) == (8, 15, [GAP])
    # the days listed but never fetched are counted apart, not as coverage
    assert row["listed_only_days"] > 15
    # whichever command built the curated tables last, status says the same
    plain = shutil.copytree(lake, tmp_path / "plain")
    assert _cli(plain, "transform", "--full").exit_code == 0
    assert {k: v for k, v in _status(plain).items() if k != "last_run"} == {
        k: v for k, v in row.items() if k != "last_run"
    }
    table = _cli(lake, "status", env={"COLUMNS": "200"})
    assert table.exit_code == 0
    assert "2026-05-05..05-19" in table.output and "none" not in table.output


def test_a_day_with_trades_but_no_candles_is_a_gap(lake: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(lake, tmp_path / "copy")
    for folder in copy.glob(f"raw/*candlesticks/city={CITY}/date=2026-05-02"):
        shutil.rmtree(folder)
    row = _status(copy)
    assert row["gaps"] == ["2026-05-02", GAP] and row["event_dates"] == 7


def test_validate_warns_about_listed_days_never_fetched_inside_the_span(lake: Path) -> None:
    result = _cli(lake, "validate", "--json", "--check", "market_day_not_fetched")
    assert result.exit_code == 0, result.output  # a warning: windows may be apart on purpose
    (check,) = json.loads(result.output)["checks"]
    assert (check["status"], check["offending"]) == ("warn", 15)
    assert check["sample"][0]["date"] == "2026-05-05"


def test_a_scoped_transform_names_the_partitions_it_leaves_and_a_plain_one_builds_them(
    lake: Path, tmp_path: Path
) -> None:
    scoped = _copy_raw(lake, tmp_path / "scoped")
    result = _cli(scoped, "transform", "--start", "2026-05-01", "--end", "2026-05-04")
    assert result.exit_code == 0, result.output
    assert "outside --start/--end have new listing input" in result.output
    assert _cli(scoped, "transform").exit_code == 0
    _assert_same(_curated(lake), _curated(scoped), "scoped then plain vs backfill")
