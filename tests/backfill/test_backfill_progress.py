"""The progress display: an ETA only once it can be honest, plain lines when unattended."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kalshi_lake.backfill.progress import EtaEstimator, format_eta
from kalshi_lake.sim import SimServer

HERE = Path(__file__).resolve().parent


def _steady(est: EtaEstimator, *, seconds: int, per_s: float, skipped: int, total: int) -> None:
    for t in range(seconds + 1):
        est.observe(float(t), fetched=int(t * per_s), skipped=skipped, total=total)


def test_no_eta_while_the_number_of_events_is_unknown() -> None:
    est = EtaEstimator()
    for t in range(100):
        est.observe(float(t), fetched=t, skipped=0, total=None)
    assert est.eta(100.0) is None


def test_events_found_complete_do_not_count_towards_the_rate() -> None:
    # 900 of 1,000 events were done by earlier runs and are "finished" in the first instant;
    # a rate counting them would promise the last 100 in seconds.
    est = EtaEstimator()
    est.observe(0.0, fetched=0, skipped=900, total=1000)
    est.observe(1.0, fetched=0, skipped=900, total=1000)
    assert est.eta(1.0) is None
    _steady(est, seconds=60, per_s=0.5, skipped=900, total=1000)
    # 30 fetched in 60 s, 70 left at 0.5/s: 140 s.
    assert est.eta(60.0) == pytest.approx(140.0, rel=0.05)


def test_no_eta_before_enough_events_and_seconds() -> None:
    est = EtaEstimator(min_events=5, min_seconds=15.0)
    # The first wave: four events finish together after two seconds.
    est.observe(0.0, fetched=0, skipped=0, total=200)
    est.observe(2.0, fetched=4, skipped=0, total=200)
    assert est.eta(2.0) is None
    est.observe(3.0, fetched=8, skipped=0, total=200)
    assert est.eta(3.0) is None  # enough events, too few seconds
    est.observe(20.0, fetched=10, skipped=0, total=200)
    eta = est.eta(20.0)
    assert eta is not None and eta == pytest.approx(190 / (10 / 20), rel=0.01)


def test_the_rate_follows_the_last_window() -> None:
    est = EtaEstimator(window_s=60.0)
    # Fast at first (2/s for two minutes), then slow (0.2/s for two minutes).
    for t in range(121):
        est.observe(float(t), fetched=2 * t, skipped=0, total=1000)
    for t in range(121, 241):
        est.observe(float(t), fetched=240 + int((t - 120) * 0.2), skipped=0, total=1000)
    eta = est.eta(240.0)
    assert eta is not None
    # 264 done, 736 left at the last minute's 0.2/s: about an hour, not the 5 minutes an
    # average since the start (1.1/s) would claim.
    assert eta == pytest.approx(736 / 0.2, rel=0.05)


def test_a_stall_within_the_window_gives_no_eta_and_done_gives_zero() -> None:
    est = EtaEstimator(window_s=30.0)
    _steady(est, seconds=60, per_s=1.0, skipped=0, total=100)
    for t in range(61, 200):
        est.observe(float(t), fetched=60, skipped=0, total=100)
    assert est.eta(199.0) is None
    est.observe(200.0, fetched=100, skipped=0, total=100)
    assert est.eta(200.0) == 0.0


def test_format() -> None:
    assert format_eta(None) == "ETA estimating…"
    assert format_eta(65.4) == "ETA 1:05"
    assert format_eta(3725) == "ETA 1:02:05"


@pytest.mark.slow
def test_unattended_run_prints_a_progress_line_at_each_interval(
    sim: SimServer, lake_dir: Path
) -> None:
    # stderr is a pipe, as under cron, nohup or systemd: no terminal, so no live bar.
    t0 = time.monotonic()
    proc = subprocess.run(
        [sys.executable, str(HERE / "progress_child.py"), str(lake_dir), sim.base_url, "0.4"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("backfill chicago: events ")]
    assert len(lines) >= 3, (elapsed, proc.stderr)
    assert len(lines) <= elapsed / 0.4 + 1  # one per interval, not one per refresh
    assert re.fullmatch(
        r"backfill chicago: events \d+/(\d+|\?), \d+ requests \(\d+\.\d/s\), 429s \d+, "
        r"retries \d+, ETA (estimating…|\d+:\d\d(:\d\d)?)( \(.*\))?",
        lines[-1],
    ), lines[-1]
    assert "\x1b[" not in proc.stderr  # plain lines, no terminal control codes
