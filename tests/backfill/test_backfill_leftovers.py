"""What a kill -9'd backfill leaves behind is cleared by the next run of the same city.

The dead run's record said "running" for ever and its temp files stayed under raw/; the next
run (holding the city's lease, so the dead run is provably over) marks the record "killed" and
deletes the temp files that predate its lease, and touches nothing of other cities.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kalshi_lake.cli import cli
from kalshi_lake.lake.state import read_run_records

KILL_CHILD = Path(__file__).resolve().parents[1] / "e2e" / "kill_child.py"


def _status_last_run(lake: Path) -> str:
    result = CliRunner().invoke(cli, ["--lake", str(lake), "status", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["cities"]
    (row,) = [c for c in rows if c["city"] == "chicago" and c["family"] == "high"]
    return str(row["last_run"])


def test_rerun_marks_the_killed_run_and_sweeps_its_temp_files(
    sim_factory: Callable[..., Any], lake_dir: Path
) -> None:
    sim = sim_factory(latency_ms=10)
    child = subprocess.Popen(
        [sys.executable, str(KILL_CHILD), str(lake_dir), sim.base_url, "chicago",
         "2026-11-01", "2026-11-04"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while sim.stats()["requests"] < 20:
        assert child.poll() is None, "the child finished before the kill point"
        assert time.monotonic() < deadline, "the child never reached the kill point"
        time.sleep(0.005)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=60)
    (dead,) = read_run_records_of(lake_dir)
    assert dead["status"] == "running" and "finished_at" not in dead
    assert _status_last_run(lake_dir).startswith("backfill running")

    # A page batch cut off before its rename, and a temp file of another city (not ours).
    ours = lake_dir / "raw/trades/city=chicago/date=2026-11-02/.20261102T0000-ab.parquet.1f2e.tmp"
    other = lake_dir / "raw/trades/city=miami/date=2026-11-02/.20261102T0000-cd.parquet.3a4b.tmp"
    for f in (ours, other):
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(b"PAR1 half a file")

    result = CliRunner().invoke(
        cli,
        ["--lake", str(lake_dir), "backfill", "--city", "chicago", "--start", "2026-11-01",
         "--end", "2026-11-04", "--api-url", sim.base_url, "--rate", "500", "--no-transform"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"earlier run(s) {dead['run_id']} ended without closing their record" in result.output

    records = {r["run_id"]: r for r in read_run_records_of(lake_dir)}
    killed = records.pop(dead["run_id"])
    assert killed["status"] == "killed"
    assert killed["finished_at"] >= killed["started_at"]
    (rerun,) = records.values()
    assert rerun["status"] == "ok"
    assert _status_last_run(lake_dir).startswith("backfill ok")

    assert not ours.exists()
    assert other.exists()  # another city's writer may still be alive: not ours to judge
    assert not list((lake_dir / "raw").glob("*/city=chicago/**/*.tmp"))


def read_run_records_of(lake: Path) -> list[dict[str, Any]]:
    from kalshi_lake.lake import Lake

    return [r for r in read_run_records(Lake(str(lake))) if r.get("city") == "chicago"]


@pytest.mark.parametrize("status", ["ok", "incomplete", "interrupted", "failed"])
def test_closed_runs_are_left_alone(lake_dir: Path, status: str) -> None:
    from kalshi_lake.lake import Lake
    from kalshi_lake.lake.state import close_abandoned_runs, write_run_record

    lake = Lake(str(lake_dir))
    rec = {"run_id": "r1", "command": "backfill", "city": "chicago", "status": status}
    write_run_record(lake, "r1", rec)
    write_run_record(lake, "r2", {**rec, "run_id": "r2", "city": "miami", "status": "running"})
    assert close_abandoned_runs(lake, command="backfill", city="chicago", current_run_id="r3") == []
    assert {r["run_id"]: r["status"] for r in read_run_records(lake)} == {
        "r1": status,
        "r2": "running",
    }
