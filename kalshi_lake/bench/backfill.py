"""Backfill throughput against the simulator's rate limit (README "Benchmarks").

The issue's benchmark: ``backfill --city all --family high,low`` over the 30 event dates before
``NOW`` (all live tier) in one process, against a simulator in its own process (like the real
API) with Kalshi's Basic read limit (20 requests/s, a two-second bucket) and 150 ms of latency
per request; the client configured at the same 20 requests/s with the production defaults.
Figures:

- ``backfill_requests_per_s``: requests sent / (last response - first request);
- ``backfill_rate_fraction``: that over the limit (target >= 0.95);
- ``backfill_allowance_used``: requests / (server burst + limit x span), the share of everything
  the server would have granted in that span (a stricter view: it charges the unused burst);
- ``backfill_429_share``: requests answered 429 / requests (target < 0.01);
- ``backfill_requests_per_event``: requests / events, in all and per family (lower is better;
  the live tier's; the historical tier's is :mod:`kalshi_lake.bench.requests`'s);
- ``backfill_wall_s``: the run's wall time;
- ``backfill_projected_full_history_h``: hours to backfill every registry city's full history
  of every family at 20 requests/s: each series' events since its first one, the last
  ``CUTOFF_LAG_DAYS`` at the live requests per event measured here (per family) and the older
  ones at the historical figure of :mod:`kalshi_lake.bench.requests` (per family); one figure
  per family and one for both (divide by ``backfill_rate_fraction`` for the rate reached).

``--quick`` backfills 3 days instead of 30.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from kalshi_lake.bench import figure

if TYPE_CHECKING:
    from kalshi_lake.backfill.summary import BackfillSummary

RATE = 20.0
LATENCY_MS = 150.0
NOW = dt.datetime(2026, 11, 21, 15, 0, tzinfo=dt.UTC)
DAYS = 30
QUICK_DAYS = 3
#: The cities (``all``: the registry's) and families backfilled, as on the command line.
CITIES = "all"
FAMILIES = ("high", "low")
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
    """The ``--city all --family high,low`` backfill against a rate-limited, slow simulator."""
    import httpx

    from kalshi_lake.backfill import run_backfills
    from kalshi_lake.bench.requests import CASES, RANGES, measure
    from kalshi_lake.cities import CITIES as REGISTRY
    from kalshi_lake.config import Settings

    days = QUICK_DAYS if quick else DAYS
    end = dt.date(2026, 11, 20)
    start = end - dt.timedelta(days=days - 1)
    sim_args = ["--seed", "7", "--now", NOW.isoformat(), "--rate", str(RATE)]
    sim_args += ["--latency-ms", str(LATENCY_MS)]
    cities = list(REGISTRY) if CITIES == "all" else []
    with tempfile.TemporaryDirectory(prefix="kalshi-bench-") as tmp, _sim_process(*sim_args) as url:
        # The production defaults (Settings.load): concurrency is derived from the rate.
        settings = Settings.load(env={}, lake=tmp, api_url=url, rate=RATE, progress=False)
        summary = run_backfills(settings, cities, start, end, families=FAMILIES)
        stats = httpx.get(f"{url}/_sim/stats", timeout=30).json()
    sim_burst = 2.0 * RATE  # the simulator's default bucket: two seconds, like Kalshi Basic
    requests = summary.requests
    rps = summary.requests_per_s
    span = requests / rps if rps else 0.0
    limited = stats["faults"]["rate_limited"]
    events = sum(r.events for r in summary.runs)
    by_family = _family_totals(summary.runs)
    series = sum(len(r.families) for r in summary.runs)
    inputs = {
        "sim_rate": RATE,
        "client_rate": RATE,
        "latency_ms": LATENCY_MS,
        "cities": CITIES,
        "families": ",".join(FAMILIES),
        "series": series,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "events": events,
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
    by_endpoint = {k: sum(v.values()) for k, v in stats["by_endpoint"].items()}
    live_rpe = requests / max(1, events)
    # The requests no family owns (the cutoff, GET /series, retries) shared out by events.
    shared = requests - sum(f["requests"] for f in by_family.values())
    family_rpe = {
        f: (c["requests"] + shared * c["events"] / max(1, events)) / max(1, c["events"])
        for f, c in by_family.items()
    }
    yield figure(
        "backfill_requests_per_event",
        live_rpe,
        "req/event",
        tier="live",
        goal=7.5,
        per_family={f: round(v, 3) for f, v in family_rpe.items()},
        trades=sum(r.trades for r in summary.runs),
        candles=sum(r.candles for r in summary.runs),
        by_endpoint=by_endpoint,
        **inputs,
    )
    yield figure("backfill_wall_requests_per_s", requests / summary.elapsed_s, "req/s", **inputs)
    yield figure("backfill_wall_s", summary.elapsed_s, "s", **inputs)
    hist_days = QUICK_DAYS if quick else RANGES["historical"][1]
    hist_rpe = {
        family: float(measure(city, family, "historical", hist_days)["value"])  # type: ignore[arg-type]
        for city, family in CASES
        if family in FAMILIES
    }
    yield from _projection(family_rpe, hist_rpe, RATE, NOW.date())


def _family_totals(runs: Sequence[BackfillSummary]) -> dict[str, dict[str, int]]:
    """Each family's counters summed over the cities' runs."""
    out: dict[str, dict[str, int]] = {}
    for run in runs:
        for family, c in run.by_family.items():
            tot = out.setdefault(family, {})
            for k, v in c.items():
                tot[k] = tot.get(k, 0) + v
    return out


def _projection(
    live_rpe: Mapping[str, float], hist_rpe: Mapping[str, float], rps: float, today: dt.date
) -> Iterator[dict[str, object]]:
    """Hours for every registry city's full history at ``rps``, per family and in all."""
    from kalshi_lake.cities import CITIES

    cut = today - dt.timedelta(days=CUTOFF_LAG_DAYS)
    total_h = 0.0
    totals = {"series": 0, "live_events": 0, "historical_events": 0}
    for family in FAMILIES:
        live_events = hist_events = n_series = 0
        for c in CITIES:
            s = c.families.get(family)
            if s is None:
                continue
            n_series += 1
            # One event a day per series, since its first one.
            days = max(0, (today - s.first_event).days + 1)
            recent = max(0, min(days, (today - max(s.first_event, cut)).days + 1))
            live_events += recent
            hist_events += days - recent
        live, hist = live_rpe.get(family, 0.0), hist_rpe.get(family, 0.0)
        hours = (live_events * live + hist_events * hist) / rps / 3600
        total_h += hours
        totals["series"] += n_series
        totals["live_events"] += live_events
        totals["historical_events"] += hist_events
        yield figure(
            "backfill_projected_full_history_h",
            hours,
            "h",
            family=family,
            series=n_series,
            live_events=live_events,
            historical_events=hist_events,
            live_requests_per_event=round(live, 3),
            historical_requests_per_event=round(hist, 3),
            requests_per_s=round(rps, 3),
        )
    yield figure(
        "backfill_projected_full_history_h",
        total_h,
        "h",
        family=",".join(FAMILIES),
        **totals,
        requests_per_s=round(rps, 3),
    )
