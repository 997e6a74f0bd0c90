"""A 429 storm at three concurrencies (README "Benchmarks").

A simulator in its own process limited to :data:`SIM_RATE` requests/s (Kalshi's default
two-second bucket, 100 ms latency), and a client configured far above it (20 requests/s and
10^6 requests/s) at concurrency 8, 20 and 50: every run starts in a storm of 429s, and the client
has to learn the server's rate from its answers. One figure per run:

- ``storm_capacity_used``: good requests / (server rate x span), span being the first request to
  the last response: the share of the server's capacity the client used (target >= 0.9), with
  the 429 count, the requests sent and the number of units that failed (target 0) as inputs,
  and ``allowance_used``: good requests / (server burst + server rate x span), a stricter view
  that also charges the server's full bucket at the start.

``quick`` runs a smaller backfill (about 40 requests) at the 10^6 rate only; the full run about
80 requests (~40 s each) at both rates.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator

from kalshi_lake.bench import figure
from kalshi_lake.bench.backfill import _sim_process

SIM_RATE = 2.0
SIM_BURST = 2.0 * SIM_RATE  # the simulator's default bucket: two seconds, like Kalshi's
LATENCY_MS = 100.0
CONCURRENCIES = (8, 20, 50)
CLIENT_RATES = (20.0, 1e6)
NOW = dt.datetime(2026, 11, 21, 15, 0, tzinfo=dt.UTC)


def run(quick: bool = False) -> Iterator[dict[str, object]]:
    """One small backfill per (client rate, concurrency) against a 2 requests/s simulator."""
    import httpx

    from kalshi_lake.backfill import BackfillSummary, run_backfill
    from kalshi_lake.cities import get_city
    from kalshi_lake.config import Settings
    from kalshi_lake.errors import FetchIncompleteError

    city = get_city("chicago")
    start = dt.date(2026, 11, 1)
    end = start + dt.timedelta(days=3 if quick else 7)
    rates = CLIENT_RATES[-1:] if quick else CLIENT_RATES
    sim_args = ["--seed", "7", "--now", NOW.isoformat(), "--rate", str(SIM_RATE)]
    sim_args += ["--latency-ms", str(LATENCY_MS)]
    for client_rate in rates:
        for concurrency in CONCURRENCIES:
            # A fresh server per run: its bucket starts full, like a client arriving cold.
            with (
                tempfile.TemporaryDirectory(prefix="kalshi-bench-") as tmp,
                _sim_process(*sim_args) as url,
            ):
                settings = Settings.load(
                    env={},
                    lake=tmp,
                    api_url=url,
                    rate=client_rate,
                    concurrency=concurrency,
                    progress=False,
                )
                try:
                    summary = run_backfill(settings, city, start, end)
                except FetchIncompleteError as exc:
                    if not isinstance(exc.summary, BackfillSummary):
                        raise
                    summary = exc.summary
                stats = httpx.get(f"{url}/_sim/stats", timeout=30).json()
            limited = int(stats["faults"]["rate_limited"])
            good = int(stats["requests"]) - limited
            rps = summary.requests_per_s
            span = summary.requests / rps if rps else 0.0
            capacity = SIM_RATE * span
            yield figure(
                "storm_capacity_used",
                good / capacity if capacity else 0.0,
                "fraction of server capacity",
                target=0.9,
                allowance_used=round(good / (SIM_BURST + capacity), 4),
                sim_rate=SIM_RATE,
                sim_burst=SIM_BURST,
                client_rate=client_rate,
                concurrency=concurrency,
                latency_ms=LATENCY_MS,
                start=start.isoformat(),
                end=end.isoformat(),
                good_requests=good,
                rate_limited=limited,
                requests=summary.requests,
                failed_units=len(summary.failures),
                status=summary.status,
                span_s=round(span, 2),
                elapsed_s=round(summary.elapsed_s, 2),
                quick=quick,
            )
