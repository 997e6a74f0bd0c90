"""A backfill paused past its lease's TTL stops without writing once another worker took over."""

from __future__ import annotations

import datetime as dt
import hashlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kalshi_lake.backfill import run_backfill
from kalshi_lake.cities import get_city
from kalshi_lake.lake.lock import LOCKS_DIR, read_lease
from kalshi_lake.lake.state import StateStore, read_run_records
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sql import run_checks
from kalshi_lake.transform import run_transform

CHILD = Path(__file__).with_name("lease_child.py")
CITY = get_city("chicago")
# Across the cutoff (2026-09-22): both tiers, several walks per event.
START, END = dt.date(2026, 9, 20), dt.date(2026, 9, 24)
TTL_S = 2.0


def _stopped(pid: int) -> bool:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


def _files(lake_dir: Path) -> dict[str, str]:
    """Every file of the lake but the lease objects, with a hash of its bytes."""
    out = {}
    for p in sorted(lake_dir.rglob("*")):
        rel = p.relative_to(lake_dir).as_posix()
        if p.is_file() and not rel.startswith(LOCKS_DIR):
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
def test_paused_backfill_stops_after_a_takeover_and_the_lake_stays_consistent(
    sim_factory: Callable[..., Any],
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    sim = sim_factory()
    lake = Lake(str(lake_dir))
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), str(lake_dir), sim.base_url, CITY.name, START.isoformat(),
         END.isoformat(), str(TTL_S), "4"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not _stopped(proc.pid):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the child never paused"
            time.sleep(0.01)
        first = read_lease(lake, f"backfill/{CITY.name}")
        assert first is not None and first.pid == proc.pid
        first_run = read_run_records(lake)[0]["run_id"]
        assert list(lake_dir.glob("raw/*/city=chicago/date=*/*.parquet")), "paused before landing"
        # Paused past its TTL: a second worker takes the lease over and finishes the range.
        while not first.expired():
            time.sleep(0.05)
        second = run_backfill(settings_for(sim), CITY, START, END)
        assert second.status == "ok" and second.events_done > 0
        before = _files(lake_dir)
        # The first resumes: it stops at its next commit with LockedError (exit 2), writing
        # no raw page, no state, not even its own run record.
        proc.send_signal(signal.SIGCONT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 2, f"exit {proc.returncode}:\n{err}"
    assert "was lost" in err and "backfill/chicago" in err
    assert _files(lake_dir) == before
    assert read_lease(lake, f"backfill/{CITY.name}") is None
    records = {r["run_id"]: r for r in read_run_records(lake)}
    # It never closed its record (it lost the lake); the second run, holding the lease, did.
    assert records[first_run]["status"] == "killed"
    assert records[first_run]["closed_by"] == second.run_id
    assert records[second.run_id]["status"] == "ok"
    # The lake is whole and its state claims nothing that is missing.
    raw = raw_of(lake_dir)
    truth = truth_of(sim.world, CITY, START, END)
    assert set(raw.trades) == truth.trades and raw.candles == truth.candles
    state = StateStore(lake, f"backfill/city={CITY.name}").load()
    events = dict(state.items("event/"))
    assert len(events) == len(truth.events) and all(r["final"] for r in events.values())
    assert not list(state.items("walk/"))
    # A re-run has nothing left to do; the transform and every error-level check are clean.
    again = run_backfill(settings_for(sim), CITY, START, END)
    assert again.events_skipped == len(truth.events) and again.events_done == 0
    settings = settings_for(sim)
    run_transform(settings)
    failed = [r.name for r in run_checks(settings, as_of=sim.world.now) if r.blocking]
    assert failed == []
