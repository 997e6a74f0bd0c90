"""The ``transform`` command: a thin shell with the right output and exit codes."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from transform_helpers import read_curated, trade, trades_page, write

from kalshi_lake.cli import cli
from kalshi_lake.lake.lock import Lease
from kalshi_lake.lake.storage import Lake


def _lake(lake_dir: Path) -> None:
    write(lake_dir, [trades_page([trade("a", "KXHIGHCHI-26OCT05-B80.5", "2026-10-04T15:00:00Z")])])
    write(
        lake_dir,
        [trades_page([trade("b", "KXHIGHNY-26OCT05-B80.5", "2026-10-04T15:00:00Z")], city="nyc")],
    )


def test_transform_prints_a_summary(lake_dir: Path) -> None:
    _lake(lake_dir)
    run = CliRunner().invoke(cli, ["--lake", str(lake_dir), "transform"])
    assert run.exit_code == 0, run.output
    assert "transform (incremental)" in run.output and "2 partition(s) rebuilt" in run.output
    assert "trades" in run.output and "candles_5m" in run.output
    again = CliRunner().invoke(
        cli, ["--lake", str(lake_dir), "transform", "--city", "chi", "--full"]
    )
    assert again.exit_code == 0
    assert "transform (full)" in again.output and "1 partition(s) rebuilt" in again.output
    assert read_curated(lake_dir, "trades")["trade_id"].to_list() == ["a", "b"]


def test_usage_errors_exit_2(lake_dir: Path) -> None:
    _lake(lake_dir)
    bad_city = CliRunner().invoke(cli, ["--lake", str(lake_dir), "transform", "--city", "atlantis"])
    assert bad_city.exit_code == 2 and "unknown city 'atlantis'" in bad_city.output
    bad_range = CliRunner().invoke(
        cli, ["--lake", str(lake_dir), "transform", "--start", "2026-10-05", "--end", "2026-10-01"]
    )
    assert bad_range.exit_code == 2 and "is after" in bad_range.output
    bad_date = CliRunner().invoke(
        cli, ["--lake", str(lake_dir), "transform", "--start", "05/10/2026"]
    )
    assert bad_date.exit_code == 2


def test_locked_exits_2_naming_the_holder(lake_dir: Path) -> None:
    _lake(lake_dir)
    with Lease(Lake(str(lake_dir)), "transform/nyc", purpose="transform nyc (other shell)"):
        run = CliRunner().invoke(cli, ["--lake", str(lake_dir), "transform"])
    assert run.exit_code == 2
    assert "transform/nyc is locked" in run.output and "other shell" in run.output
