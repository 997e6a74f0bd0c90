"""kill -9 at several points, then a re-run: nothing missing, nothing claimed that is not there."""

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

CHILD = Path(__file__).with_name("kill_child.py")
CITY = "chicago"
# Across the cutoff (2026-09-22): historical and live walks, multi-page trade walks.
START, END = dt.date(2026, 9, 18), dt.date(2026, 9, 27)


def _spawn(lake: Path, url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(lake), url, CITY, START.isoformat(), END.isoformat()],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _kill_after(proc: subprocess.Popen[str], sim: Any, requests: int, timeout: float = 120) -> bool:
    """SIGKILL the child once the simulator has answered ``requests`` requests in total."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False  # finished before the kill point
        if sim.stats()["requests"] >= requests:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            return True
        time.sleep(0.005)
    proc.kill()
    pytest.fail("child did not reach the kill point in time")


@pytest.mark.slow
def test_kill_9_at_several_points_then_rerun_lands_everything(
    sim_factory: Callable[..., Any],
    lake_dir: Path,
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    # Latency keeps several requests in flight when the kill lands.
    sim = sim_factory(latency_ms=15)
    kills = claims = 0
    for point in (25, 70, 140):
        proc = _spawn(lake_dir, sim.base_url)
        kills += _kill_after(proc, sim, point)
        # What the dead run claimed is in the lake: every saved cursor's pages are durable.
        claims += _assert_state_claims_only_durable_pages(lake_dir, raw_of)
    assert kills >= 2 and claims > 0  # the dead runs had claimed something to check
    proc = _spawn(lake_dir, sim.base_url)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    raw = raw_of(lake_dir)
    truth = truth_of(sim.world, CITY, START, END)
    assert set(raw.trades) == truth.trades
    assert raw.candles == truth.candles
    assert truth.markets <= raw.markets
    # The final run resumed instead of starting over: it needed fewer requests than a clean run.
    clean_lake = lake_dir.parent / "clean"
    clean = _spawn(clean_lake, sim.base_url)
    cout, cerr = clean.communicate(timeout=300)
    assert clean.returncode == 0, cerr
    final_requests = int(out.split("requests=")[1].split()[0])
    clean_requests = int(cout.split("requests=")[1].split()[0])
    assert final_requests < clean_requests
    # Same sets as the clean run after dedup: the transform's view of both lakes is equal.
    clean_raw = raw_of(clean_lake)
    assert set(clean_raw.trades) == set(raw.trades) and clean_raw.candles == raw.candles


def _assert_state_claims_only_durable_pages(lake_dir: Path, raw_of: Callable[..., Any]) -> int:
    """Check every claim of the saved state against the raw pages; return how many there were."""
    state = StateStore(Lake(str(lake_dir)), f"backfill/city={CITY}").load()
    raw = raw_of(lake_dir)
    walks = dict(state.items("walk/trades/"))
    pages_by_market: dict[str, set[int]] = {}
    for r in raw.pages("trades"):
        pages_by_market.setdefault(r["market_ticker"], set()).add(r["page_number"])
    for key, rec in walks.items():
        ticker = key.split("/")[3]
        # A walk saved at page N has its pages 0..N-1 in the lake (possibly from earlier runs).
        assert set(range(rec["page"])) <= pages_by_market.get(ticker, set()), key
    candle_pages: dict[str, set[int]] = {}
    for r in raw.pages("batch_candlesticks"):
        candle_pages.setdefault(r["event_ticker"], set()).add(r["page_number"])
    for key, rec in state.items("walk/bcandles/"):
        event = key.split("/")[2]
        assert set(range(rec["page"])) <= candle_pages.get(event, set()), key
    # A market that closed without a trade is done without a trades page.
    done_trades = {k.split("/", 1)[1] for k, v in state.items("trades/") if not v.get("skipped")}
    fetched = {r["market_ticker"] for r in raw.pages("trades") if r["cursor_out"] == ""}
    assert done_trades <= fetched
    return len(walks) + len(dict(state.items("walk/bcandles/"))) + len(done_trades)
