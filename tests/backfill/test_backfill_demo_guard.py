"""A lake written by the simulator demo never receives real API pages."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from kalshi_lake.cli import cli
from kalshi_lake.lake.state import DEMO_MARKER
from kalshi_lake.lake.storage import Lake


def test_real_backfill_into_demo_lake_exits_2_and_writes_nothing(lake_dir: Path) -> None:
    lake = Lake(str(lake_dir))
    lake.write_bytes(b"{}", DEMO_MARKER)
    res = CliRunner().invoke(
        cli,
        ["--lake", str(lake_dir), "backfill", "--city", "chicago", "--start", "2026-11-01",
         "--end", "2026-11-02", "--api-url", "https://external-api.kalshi.com/trade-api/v2"],
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    assert "holds the simulator demo" in res.output
    assert not lake.exists("raw")


def test_simulator_backfill_into_demo_lake_is_allowed(lake_dir: Path, sim: object) -> None:
    lake = Lake(str(lake_dir))
    lake.write_bytes(b"{}", DEMO_MARKER)
    res = CliRunner().invoke(
        cli,
        ["--lake", str(lake_dir), "backfill", "--city", "chicago", "--start", "2026-11-18",
         "--end", "2026-11-18", "--api-url", sim.base_url, "--rate", "200", "--no-transform"],  # type: ignore[attr-defined]
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert lake.glob("raw/trades/city=chicago/date=2026-11-18/*.parquet")
