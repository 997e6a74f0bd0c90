"""A backfill killed about two seconds in keeps what it fetched, and the re-run does not fetch
again what the saved state proves is in the lake. The child is the real command with the
production flush settings."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kalshi_lake.lake.state import StateStore
from kalshi_lake.lake.storage import Lake

CITY = "chicago"
# Live-tier days after the cutoff (2026-09-22), all settled: finished walks stay finished.
START, END = dt.date(2026, 10, 1), dt.date(2026, 10, 30)


def _backfill(lake: Path, url: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}
    cmd = [sys.executable, "-m", "kalshi_lake.cli", "--lake", str(lake), "backfill"]
    cmd += ["--city", CITY, "--start", START.isoformat(), "--end", END.isoformat()]
    cmd += ["--api-url", url, "--rate", "20", "--no-transform"]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _served(sim: Any, endpoint: str | None = None) -> int:
    """Pages (200 answers) the simulator served, in all or for one endpoint."""
    stats = sim.stats()
    if endpoint is None:
        return int(stats["by_status"].get("200", 0))
    return int(stats["by_endpoint"].get(endpoint, {}).get("200", 0))


@pytest.mark.slow
def test_a_backfill_killed_two_seconds_in_keeps_its_pages(
    sim_factory: Callable[..., Any], lake_dir: Path, raw_of: Callable[..., Any]
) -> None:
    # Kalshi-like latency: a few requests a second, far below any page or byte threshold.
    sim = sim_factory(latency_ms=100)
    proc = _backfill(lake_dir, sim.base_url)
    deadline = time.monotonic() + 60
    # Past discovery and into the first markets' trades (a few seconds in), then 2 s more.
    while _served(sim, "/markets/trades") < 3:
        assert proc.poll() is None, "the backfill ended before the kill"
        assert time.monotonic() < deadline, "the backfill fetched no trades"
        time.sleep(0.01)
    fetched_early = _served(sim)  # pages answered 2 s before the kill
    time.sleep(2.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    fetched = _served(sim)

    raw = raw_of(lake_dir)
    # Everything answered more than a second before the kill is in the lake (also the
    # discovery listings: the first pages of a run are series, events and markets listings).
    assert len(raw.rows) >= fetched_early > 0, (len(raw.rows), fetched_early, fetched)
    assert {"series", "events", "markets"} <= {r["endpoint"] for r in raw.rows}

    killed_runs = {r["run_id"] for r in raw.rows}
    state = StateStore(Lake(str(lake_dir)), f"backfill/city={CITY}").load()
    done = {k.split("/", 1)[1] for k, v in state.items("trades/") if v.get("final")}
    assert done, "the killed run proved no finished trades walk"

    rerun = _backfill(lake_dir, sim.base_url)
    _, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    again = [
        r
        for r in raw_of(lake_dir).rows
        if r["run_id"] not in killed_runs and r["endpoint"] == "trades"
    ]
    assert again, "the re-run fetched no trades at all"
    # What the state proves durable is not fetched again.
    assert not {r["market_ticker"] for r in again} & done


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_backfill_writes_what_it_fetched(
    sim_factory: Callable[..., Any],
    lake_dir: Path,
    raw_of: Callable[..., Any],
    sig: signal.Signals,
) -> None:
    sim = sim_factory(latency_ms=100)
    proc = _backfill(lake_dir, sim.base_url)
    deadline = time.monotonic() + 60
    while _served(sim) < 5:
        assert proc.poll() is None, "the backfill ended before the signal"
        assert time.monotonic() < deadline, "the backfill fetched nothing"
        time.sleep(0.01)
    time.sleep(0.5)
    fetched = _served(sim)
    time.sleep(0.3)  # those answers have reached the client
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    # Everything answered before the signal is written on the way out, well inside the second
    # the timer would take (a request still in flight may be dropped: the re-run fetches it).
    assert len(raw_of(lake_dir).rows) >= fetched
