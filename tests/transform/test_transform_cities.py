"""``transform --city`` takes the same city lists as ``backfill``: several cities are built one
after the other, each summary naming its city; ``all`` is one run over every city in the lake."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from click.testing import CliRunner

from kalshi_lake.cli import cli
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim.rawgen import SynthSpec, generate_raw

SPEC = SynthSpec(
    seed=2, cities=("chicago", "boston"), start=dt.date(2026, 10, 30), days=2,
    trades_per_market=10, families=("high", "low"),
)  # fmt: skip


def _transform(lake: Path, *args: str) -> list[str]:
    result = CliRunner().invoke(cli, ["--lake", str(lake), "transform", *args])
    assert result.exit_code == 0, result.output
    return [ln for ln in result.output.splitlines() if "partition(s) rebuilt" in ln]


def _built(lake: Path) -> set[str]:
    return {p.parent.name for p in lake.glob("curated/markets/city=*/month=*")}


def test_several_cities_each_summary_named(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    generate_raw(Lake(str(lake)), SPEC)
    lines = _transform(lake, "--city", "boston,chi")
    assert [ln.split(": ", 1)[0] for ln in lines] == ["boston", "chicago"]
    assert all("1 partition(s) rebuilt" in ln for ln in lines)
    assert _built(lake) == {"city=boston", "city=chicago"}


def test_all_is_one_run_over_the_lake(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    generate_raw(Lake(str(lake)), SPEC)
    (line,) = _transform(lake, "--city", "all")
    assert line.startswith("transform (incremental)") and "2 partition(s) rebuilt" in line
    assert _built(lake) == {"city=boston", "city=chicago"}
    (again,) = _transform(lake, "--city", "nyc,all")  # 'all' anywhere in the list: the lake
    assert "0 partition(s) rebuilt" in again
