"""kill -9 in the middle of a transform, then a re-run, gives exactly a clean build."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from transform_helpers import assert_same, curated_files, curated_snapshot

from kalshi_lake.config import Settings
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim.rawgen import SynthSpec, generate_raw
from kalshi_lake.transform import run_transform

#: 2 cities x 2 months = 4 partitions (16 curated files); one partition per batch when killed.
SPEC = SynthSpec(
    seed=5,
    cities=("chicago", "nyc"),
    start=dt.date(2026, 9, 24),
    days=12,
    trades_per_market=25,
    page_size=20,
)
N_PARTITIONS = 4
pytestmark = pytest.mark.slow  # kill -9 end to end

CHILD = """
import sys
from kalshi_lake.config import Settings
from kalshi_lake.transform import TransformOptions, run_transform
run_transform(Settings(lake=sys.argv[1], progress=False), full=True,
              options=TransformOptions(batch_bytes=1))
"""


@pytest.fixture(scope="module")
def crash_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("crash") / "lake"
    generate_raw(Lake(str(root)), SPEC)
    return root


@pytest.fixture(scope="module")
def clean_lake(crash_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    lake = tmp_path_factory.mktemp("clean") / "lake"
    shutil.copytree(crash_raw, lake)
    summary = run_transform(Settings(lake=str(lake), progress=False))
    assert len(summary.rebuilt) == N_PARTITIONS
    return lake


def _built(lake: Path) -> int:
    """Partitions the state file says are built."""
    n = 0
    for f in (lake / "_state" / "transform").glob("*.json"):
        n += len(json.loads(f.read_text()).get("partitions", {}))
    return n


@pytest.mark.parametrize("kill_after_files", [1, 9])
def test_kill_9_mid_transform_then_rerun_equals_clean_build(
    clean_lake: Path, tmp_path: Path, kill_after_files: int
) -> None:
    clean = curated_snapshot(clean_lake)
    lake = tmp_path / "lake"
    # start from a built lake, so the killed full rebuild replaces live partitions mid-way
    shutil.copytree(clean_lake, lake)
    state_before = _built(lake)
    shutil.rmtree(lake / "_state" / "transform")  # and forget it: everything is dirty again

    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(lake)])
    try:
        deadline = time.monotonic() + 120
        marks = {p: p.stat().st_mtime_ns for p in (lake / "curated").rglob("part-0.parquet")}
        while time.monotonic() < deadline and proc.poll() is None:
            fresh = [p for p in (lake / "curated").rglob("part-0.parquet")
                     if p.stat().st_mtime_ns != marks.get(p)]  # fmt: skip
            if len(fresh) >= kill_after_files:
                break
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the transform finished before it could be killed"
    assert state_before == N_PARTITIONS
    assert _built(lake) < N_PARTITIONS  # it really died mid-way

    summary = run_transform(Settings(lake=str(lake), progress=False))  # no wait for the lease
    assert summary.ok
    assert len(summary.rebuilt) + summary.skipped == N_PARTITIONS
    assert_same(clean, curated_snapshot(lake))
    files = curated_files(lake)
    assert all(f.endswith("/part-0.parquet") for f in files), files  # no temp files left
    assert not list((lake / "_state" / "locks").glob("transform/*.json"))  # lease released
