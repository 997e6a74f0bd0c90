"""A 429 storm: the client learns the server's rate and uses it, whatever it was told."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kalshi_lake.backfill import run_backfill
from kalshi_lake.cities import get_city

CITY = get_city("chicago")
#: Six days of one city: about 60 requests, 20 s at the server's rate.
START, END = dt.date(2026, 11, 1), dt.date(2026, 11, 6)
SERVER_RATE = 3.0
SERVER_BURST = 2.0 * SERVER_RATE  # the simulator's default bucket: two seconds, like Kalshi's


@pytest.mark.slow
@pytest.mark.parametrize("client_rate", [30.0, 1e6], ids=["10x", "1e6"])
def test_a_storm_at_concurrency_20_uses_the_servers_capacity_and_finishes(
    sim_factory: Callable[..., Any],
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
    client_rate: float,
) -> None:
    # The client is told far more than the server grants, with 20 requests in flight and the
    # production backoff: a storm of 429s from the first second.
    sim = sim_factory(rate=SERVER_RATE, latency_ms=20.0)
    settings = settings_for(
        sim, rate=client_rate, concurrency=20, backoff_base_s=0.25, backoff_max_s=30.0
    )
    summary = run_backfill(settings, CITY, START, END)
    assert summary.status == "ok" and not summary.failures
    raw = raw_of(lake_dir)
    truth = truth_of(sim.world, CITY, START, END)
    assert set(raw.trades) == truth.trades and raw.candles == truth.candles
    stats = sim.stats()
    limited = stats["faults"]["rate_limited"]
    assert limited > 0 and summary.rate_limited == limited
    good = stats["requests"] - limited
    span = summary.requests / summary.requests_per_s
    # Everything the server would have granted from the first request to the last answer: its
    # full bucket at the start plus its rate. Before, each 429 put the client a token into debt
    # per queued waiter, and it used about 70% of this.
    allowance = SERVER_BURST + SERVER_RATE * span
    assert good / allowance >= 0.85, f"used {good / allowance:.0%}: {good} good in {span:.1f}s"
    # It learned the rate instead of hammering: 429s are the opening burst and a few probes
    # (told 10^6 req/s, the old client sent three 429s per good request).
    assert limited <= good / 2
