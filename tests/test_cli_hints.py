"""What the demo and `views` suggest running next exists on this machine."""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from kalshi_lake.cli import cli
from kalshi_lake.demo import notebook_hint
from kalshi_lake.lake.storage import Lake


def _hint(lake: Path) -> str:
    return notebook_hint(Lake(str(lake)), "chicago", dt.date(2026, 11, 1), dt.date(2026, 11, 20))


def _fake_duckdb_cli(folder: Path) -> None:
    exe = folder / "duckdb"
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)


def test_demo_hint_names_the_duckdb_cli_only_when_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    assert "duckdb " not in _hint(tmp_path)
    _fake_duckdb_cli(bin_dir)
    assert f"duckdb {tmp_path / 'kalshi.duckdb'}" in _hint(tmp_path)


def test_demo_hint_names_jupyter_only_when_installed(tmp_path: Path) -> None:
    installed = importlib.util.find_spec("jupyterlab") is not None
    assert ("jupyter lab" in _hint(tmp_path)) == installed


def test_demo_hint_commands_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lake = tmp_path / "lake"
    (lake / "curated").mkdir(parents=True)  # an empty lake: the views exist, with no rows
    monkeypatch.setenv("PATH", os.pathsep.join([str(Path(sys.executable).parent), "/usr/bin"]))
    hint = _hint(lake)
    shell = next(ln for ln in hint.splitlines() if ln.startswith("or from the shell: "))
    argv = shlex.split(shell.removeprefix("or from the shell: "))
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    python = [ln.strip() for ln in hint.splitlines() if ln.startswith("    ")]
    script = "\n".join([*python[:2], *(f"print({ln})" for ln in python[2:])])
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr


def test_views_suggests_the_duckdb_cli_only_when_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    out = CliRunner().invoke(cli, ["views", "--lake", str(lake)]).output
    assert "duckdb.connect(" in out and "open it with: duckdb" not in out
    _fake_duckdb_cli(bin_dir)
    out = CliRunner().invoke(cli, ["views", "--lake", str(lake)]).output
    assert f"open it with: duckdb {lake / 'kalshi.duckdb'}" in out
