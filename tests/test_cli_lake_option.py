"""`--lake` works after the command name as well as before it, for every command with a lake."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from kalshi_lake.cli import cli
from kalshi_lake.sim import SimServer

#: Commands that have no lake to point at.
LAKELESS = {"cities", "sim"}


def _invoke(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code in (0, 1), result.output  # validate may exit 1 on a real "now"
    return result


def test_every_command_with_a_lake_takes_lake_after_its_name() -> None:
    for name, command in cli.commands.items():
        options = {o for p in command.params if isinstance(p, click.Option) for o in p.opts}
        assert ("--lake" in options) == (name not in LAKELESS), name


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Neither the default lake (./lake) nor $KALSHI_LAKE is the lake under test."""
    monkeypatch.chdir(tmp_path)
    decoy = tmp_path / "decoy"
    monkeypatch.setenv("KALSHI_LAKE", str(decoy))
    return decoy


def test_lake_after_the_command(sim: SimServer, tmp_path: Path, elsewhere: Path) -> None:
    lake = tmp_path / "mine"
    _invoke(
        "backfill", "--lake", str(lake), "--city", "chicago",
        "--start", "2026-11-19", "--end", "2026-11-20", "--api-url", sim.base_url,
    )  # fmt: skip
    assert any((lake / "raw").rglob("*.parquet")) and any((lake / "curated").rglob("*.parquet"))
    _invoke("transform", "--lake", str(lake), "--city", "chicago")

    status = json.loads(_invoke("status", "--lake", str(lake), "--json").output)
    rows = [(c["city"], c["family"]) for c in status["cities"]]
    assert status["lake"] == str(lake) and rows == [("chicago", "high"), ("chicago", "low")]
    assert status == json.loads(_invoke("--lake", str(lake), "status", "--json").output)

    rows = json.loads(
        _invoke("sql", "--lake", str(lake), "--json", "SELECT count(*) AS n FROM markets").output
    )
    assert rows[0]["n"] == sum(c["markets"] for c in status["cities"]) > 0

    report = json.loads(_invoke("validate", "--lake", str(lake), "--json").output)
    assert report["lake"] == str(lake)

    assert str(lake / "kalshi.duckdb") in _invoke("views", "--lake", str(lake)).output
    assert (lake / "kalshi.duckdb").is_file()

    assert not elsewhere.exists() and not (tmp_path / "lake").exists()


def test_lake_after_the_command_wins_over_one_before(tmp_path: Path, elsewhere: Path) -> None:
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    after.mkdir()
    out = json.loads(
        _invoke("--lake", str(before), "status", "--lake", str(after), "--json").output
    )
    assert out["lake"] == str(after)


def test_demo_takes_lake_after_the_command(tmp_path: Path, elsewhere: Path) -> None:
    lake = tmp_path / "demo-lake"
    result = _invoke("demo", "--lake", str(lake), "--cities", "chicago", "--days", "1")
    assert (lake / "_state" / "demo.json").is_file() and (lake / "kalshi.duckdb").is_file()
    assert str(lake) in result.output
    assert not elsewhere.exists() and not (tmp_path / "lake").exists()
