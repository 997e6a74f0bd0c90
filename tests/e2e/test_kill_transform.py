"""A transform killed after its first batch was published keeps the partitions it published:
the re-run builds only the rest and ends identical to a clean run."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kalshi_lake.config import Settings
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim.rawgen import SynthSpec, generate_raw
from kalshi_lake.transform import run_transform

#: 2 cities x 2 months = 4 partitions; one partition per batch in the killed child.
SPEC = SynthSpec(
    seed=11,
    cities=("chicago", "nyc"),
    start=dt.date(2026, 9, 24),
    days=12,
    trades_per_market=25,
    page_size=20,
)
N_PARTITIONS = 4

CHILD = """
import sys
from kalshi_lake.config import Settings
from kalshi_lake.transform import TransformOptions, run_transform
run_transform(Settings(lake=sys.argv[1], progress=False), options=TransformOptions(batch_bytes=1))
"""


def _published(lake: Path) -> dict[str, set[str]]:
    """Months the transform state says are built, per city."""
    out: dict[str, set[str]] = {}
    for f in (lake / "_state" / "transform").glob("*.json"):
        try:
            doc = json.loads(f.read_text())
        except (OSError, ValueError):
            continue  # not there yet
        out[f.stem] = set(doc.get("partitions", {}))
    return out


def _count(published: dict[str, set[str]]) -> int:
    return sum(len(v) for v in published.values())


def _curated(lake: Path) -> dict[str, object]:
    root = lake / "curated"
    return {
        str(p.relative_to(root)): pq.read_table(p)
        for p in sorted(root.rglob("*.parquet"))
        if p.is_file()
    }


@pytest.mark.slow
def test_a_transform_killed_after_its_first_batch_keeps_it(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    generate_raw(Lake(str(raw)), SPEC)
    clean = tmp_path / "clean"
    shutil.copytree(raw, clean)
    assert len(run_transform(Settings(lake=str(clean), progress=False)).rebuilt) == N_PARTITIONS

    lake = tmp_path / "lake"
    shutil.copytree(raw, lake)
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(lake)])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if _count(_published(lake)) >= 1:
                break
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the transform finished before it could be killed"
    kept = _published(lake)
    assert 1 <= _count(kept) < N_PARTITIONS, kept

    # The published partitions are whole curated partitions, equal to the clean build's.
    clean_files = _curated(clean)
    for city, months in kept.items():
        for month in months:
            mine = {k: v for k, v in _curated(lake).items() if f"city={city}/month={month}" in k}
            assert mine, (city, month)
            assert all(v.equals(clean_files[k]) for k, v in mine.items())  # type: ignore[attr-defined]

    summary = run_transform(Settings(lake=str(lake), progress=False))
    assert summary.ok
    assert summary.skipped == _count(kept)
    assert len(summary.rebuilt) == N_PARTITIONS - _count(kept)
    again = _curated(lake)
    assert again.keys() == clean_files.keys()
    assert all(again[k].equals(clean_files[k]) for k in again)  # type: ignore[attr-defined]
