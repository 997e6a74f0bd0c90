"""Backfill throughput against the simulator's rate limit (README "Benchmarks").

A simulator in its own process (like the real API) with Kalshi's Basic read limit (20 requests/s,
a two-second bucket) and 150 ms of latency per request; the client configured at the same
20 requests/s with the production defaults. Figures:

- ``backfill_requests_per_s``: requests sent / (last response - first request);
- ``backfill_rate_fraction``: that over the limit (target >= 0.95);
- ``backfill_allowance_used``: requests / (server burst + limit x span), the share of everything
  the server would have granted in that span (a stricter view: it charges the unused burst);
- ``backfill_429_share``: requests answered 429 / requests (target < 0.01);
- ``backfill_requests_per_event``: requests / events (lower is better).

``quick`` backfills ~8 weeks of one city (about 30 s); the full run four months across the
historical cutoff.
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
    """Run one backfill against a rate-limited, slow simulator and yield the figures."""
    import httpx

    from kalshi_lake.backfill import run_backfill
    from kalshi_lake.cities import get_city
    from kalshi_lake.config import Settings

    city = get_city("chicago")
    end = dt.date(2026, 11, 20)
    start = end - dt.timedelta(days=55 if quick else 120)
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
        "start": start.isoformat(),
        "end": end.isoformat(),
        "events": summary.events,
        "requests": requests,
        "concurrency": settings.concurrency,
        "quick": quick,
    }
    yield figure("backfill_requests_per_s", rps, "req/s", span_s=round(span, 2), **inputs)
    yield figure("backfill_rate_fraction", rps / RATE, "fraction of limit", target=0.95, **inputs)
    allowance = sim_burst + RATE * span
    yield figure("backfill_allowance_used", requests / allowance, "fraction", **inputs)
    yield figure(
        "backfill_429_share", limited / max(1, requests), "fraction", rate_limited=limited, **inputs
    )
    yield figure(
        "backfill_requests_per_event",
        requests / max(1, summary.events),
        "req/event",
        trades=summary.trades,
        candles=summary.candles,
        pages=summary.pages,
        **inputs,
    )
    yield figure("backfill_wall_requests_per_s", requests / summary.elapsed_s, "req/s", **inputs)
