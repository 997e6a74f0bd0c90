"""Backfill throughput against the simulator's rate limit (README "Benchmarks").

A simulator in its own process (like the real API) with Kalshi's Basic read limit (20 requests/s,
a two-second bucket) and 150 ms of latency per request; the client configured at the same
20 requests/s with the production defaults. Figures:

- ``backfill_requests_per_s``: requests sent / (last response - first request);
- ``backfill_rate_fraction``: that over the limit (target >= 0.95);
- ``backfill_allowance_used``: requests / (server burst + limit x span), the share of everything
  the server would have granted in that span (a stricter view: it charges the unused burst);
- ``backfill_429_share``: requests answered 429 / requests (target < 0.01);
- ``backfill_requests_per_event``: requests / events (lower is better);
- ``backfill_wall_s``: the run's wall time;
- ``backfill_projected_full_history_h``: hours to backfill every registry city's full history at
  this rate: each city's events since its first one, the last ``CUTOFF_LAG_DAYS`` at the live
  requests per event measured here and the older ones at the historical figure of
  :mod:`kalshi_lake.bench.requests`, at the full 20 requests/s (divide by
  ``backfill_rate_fraction`` for the rate this run reached).

Each ``(city, family)`` of :data:`CASES` backfills the 30 event dates before ``NOW`` (all live
tier); add cities and families there.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import sys
import tempfile
from collections.abc import Iterator

from kalshi_lake.bench import figure

RATE = 20.0
LATENCY_MS = 150.0
NOW = dt.datetime(2026, 11, 21, 15, 0, tzinfo=dt.UTC)
DAYS = 30
#: ``(city, family)`` pairs backfilled; add cities and families here.
CASES: tuple[tuple[str, str], ...] = (("chicago", "high"),)
#: How far back the live tier reaches (Kalshi's cutoff trails by about two months).
CUTOFF_LAG_DAYS = 60


@contextlib.contextmanager
def _sim_process(*args: str) -> Iterator[str]:
    """``kalshi-lake sim`` in its own process (as the real API would be: its CPU is not ours).

    An in-process simulator shares the GIL with the client, and building large historical pages
    would then stall the client's event loop: the figure would measure the simulator.
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "kalshi_lake.cli", "sim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError(f"the simulator did not start (printed {url!r})")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def run(quick: bool = False) -> Iterator[dict[str, object]]:
    """Run each case's 30-day backfill against a rate-limited, slow simulator; yield the figures."""
    for city_name, family in CASES:
        yield from _case(city_name, family)


def _case(city_name: str, family: str) -> Iterator[dict[str, object]]:
    import httpx

    from kalshi_lake.backfill import run_backfill
    from kalshi_lake.bench.requests import RANGES, measure
    from kalshi_lake.cities import get_city
    from kalshi_lake.config import Settings

    city = get_city(city_name)
    end = dt.date(2026, 11, 20)
    start = end - dt.timedelta(days=DAYS - 1)
    sim_args = ["--seed", "7", "--now", NOW.isoformat(), "--rate", str(RATE)]
    sim_args += ["--latency-ms", str(LATENCY_MS)]
    with tempfile.TemporaryDirectory(prefix="kalshi-bench-") as tmp, _sim_process(*sim_args) as url:
        # The production defaults (Settings.load): concurrency is derived from the rate.
        settings = Settings.load(env={}, lake=tmp, api_url=url, rate=RATE, progress=False)
        summary = run_backfill(settings, city, start, end)
        stats = httpx.get(f"{url}/_sim/stats", timeout=30).json()
    sim_burst = 2.0 * RATE  # the simulator's default bucket: two seconds, like Kalshi Basic
    requests = summary.requests
    rps = summary.requests_per_s
    span = requests / rps if rps else 0.0
    limited = stats["faults"]["rate_limited"]
    inputs = {
        "sim_rate": RATE,
        "client_rate": RATE,
        "latency_ms": LATENCY_MS,
        "city": city.name,
        "family": family,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "events": summary.events,
        "requests": requests,
        "concurrency": settings.concurrency,
    }
    yield figure("backfill_requests_per_s", rps, "req/s", span_s=round(span, 2), **inputs)
    yield figure("backfill_rate_fraction", rps / RATE, "fraction of limit", target=0.95, **inputs)
    allowance = sim_burst + RATE * span
    yield figure("backfill_allowance_used", requests / allowance, "fraction", **inputs)
    yield figure(
        "backfill_429_share", limited / max(1, requests), "fraction", rate_limited=limited, **inputs
    )
    live_rpe = requests / max(1, summary.events)
    yield figure(
        "backfill_requests_per_event",
        live_rpe,
        "req/event",
        trades=summary.trades,
        candles=summary.candles,
        pages=summary.pages,
        **inputs,
    )
    yield figure("backfill_wall_requests_per_s", requests / summary.elapsed_s, "req/s", **inputs)
    yield figure("backfill_wall_s", summary.elapsed_s, "s", **inputs)
    hist_rpe = float(measure(city.name, family, "historical", RANGES["historical"][1])["value"])  # type: ignore[arg-type]
    yield _projection(live_rpe, hist_rpe, RATE, NOW.date())


def _projection(live_rpe: float, hist_rpe: float, rps: float, today: dt.date) -> dict[str, object]:
    """Hours for every registry city's full history at ``rps``, per-tier requests per event."""
    from kalshi_lake.cities import CITIES

    live_events = hist_events = 0
    cut = today - dt.timedelta(days=CUTOFF_LAG_DAYS)
    for c in CITIES:
        # One event a day per series; every series of a city (families) counts once each.
        days = max(0, (today - c.first_event).days + 1)
        live = max(0, min(days, (today - max(c.first_event, cut)).days + 1))
        live_events += live
        hist_events += days - live
    requests = live_events * live_rpe + hist_events * hist_rpe
    return figure(
        "backfill_projected_full_history_h",
        requests / rps / 3600,
        "h",
        cities=len(CITIES),
        live_events=live_events,
        historical_events=hist_events,
        live_requests_per_event=round(live_rpe, 3),
        historical_requests_per_event=round(hist_rpe, 3),
        requests_per_s=round(rps, 3),
        families="high",
    )
