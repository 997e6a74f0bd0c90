"""`kalshi-lake report`: writes the page, prints its path, one line and exit 2 when it cannot."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from report_lake import HOLE

from kalshi_lake.cli import cli

pytestmark = pytest.mark.slow


def test_report_command_writes_the_page(sim_lake: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    res = CliRunner().invoke(
        cli, ["--lake", str(sim_lake), "report", "--city", "chicago", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().splitlines()[-1] == str(out)
    assert "2 missing" in res.stderr  # the hole, in both families
    text = out.read_text(encoding="utf-8")
    assert str(HOLE) in text and 'id="checks"' in text and "trade_duplicate_id" in text


def test_report_without_checks_and_unwritable_target(sim_lake: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    res = CliRunner().invoke(
        cli, ["--lake", str(sim_lake), "report", "--no-checks", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "Checks not run" in out.read_text(encoding="utf-8")
    blocker = tmp_path / "file"
    blocker.write_text("")
    res = CliRunner().invoke(
        cli, ["--lake", str(sim_lake), "report", "--no-checks", "--out", str(blocker / "r.html")]
    )
    assert res.exit_code == 2
    assert res.stderr.strip().startswith("error: cannot write the report to")
    assert len(res.stderr.strip().splitlines()) == 1
