"""Requests per event, per API tier: what one event costs the rate limit (README "Benchmarks").

One backfill of a live-tier range and one of a historical-tier range, each against the in-process
simulator (no rate limit, no latency: the counts do not depend on them), for each ``(city,
family)`` in :data:`CASES`. Figures:

- ``requests_per_event`` (``tier`` = ``live`` or ``historical``): requests sent / events in the
  range, discovery included (goal: live <= 7.5, historical <= 12);
- the ``by_endpoint`` input of each figure splits the requests by simulator route, so a change
  shows where its requests went.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator

from kalshi_lake.bench import figure

NOW = dt.datetime(2026, 11, 21, 15, 0, tzinfo=dt.UTC)
SEED = 7
#: ``(city, family)`` pairs measured; add cities and families here.
CASES: tuple[tuple[str, str], ...] = (("chicago", "high"),)
#: Event-date ranges wholly in each tier for ``NOW`` (the simulator's cutoff is 60 days back,
#: 2026-09-22): ``(last day, days)``.
RANGES = {"live": (dt.date(2026, 11, 19), 30), "historical": (dt.date(2026, 9, 15), 30)}
GOALS = {"live": 7.5, "historical": 12.0}


def measure(city_name: str, family: str, tier: str, days: int) -> dict[str, object]:
    """Backfill ``days`` event dates of ``tier`` for one city and family; the figure's fields."""
    from kalshi_lake.backfill import run_backfill
    from kalshi_lake.cities import get_city
    from kalshi_lake.config import Settings
    from kalshi_lake.sim import SimConfig, SimTransport

    city = get_city(city_name)
    last, _ = RANGES[tier]
    start = last - dt.timedelta(days=days - 1)
    transport = SimTransport(SimConfig(seed=SEED, now=NOW))
    with tempfile.TemporaryDirectory(prefix="kalshi-bench-") as tmp:
        settings = Settings.load(
            env={}, lake=tmp, api_url="http://sim.invalid/trade-api/v2", rate=1e6, progress=False
        )
        summary = run_backfill(settings, city, start, last, transport=transport)
    stats = transport.stats()
    by_endpoint = {k: sum(v.values()) for k, v in stats["by_endpoint"].items()}
    skipped = sum(int(t.get("trades_skipped", 0)) for t in summary.by_tier.values())
    return {
        "value": summary.requests / max(1, summary.events),
        "city": city.name,
        "family": family,
        "tier": tier,
        "start": start.isoformat(),
        "end": last.isoformat(),
        "events": summary.events,
        "markets": summary.markets,
        "requests": summary.requests,
        "trades": summary.trades,
        "candles": summary.candles,
        "trades_walks_skipped": skipped,
        "by_endpoint": by_endpoint,
    }


def run(quick: bool = False) -> Iterator[dict[str, object]]:
    """Yield ``requests_per_event`` per case and tier."""
    for city_name, family in CASES:
        for tier, (_, days) in RANGES.items():
            got = measure(city_name, family, tier, 10 if quick else days)
            value = float(got.pop("value"))  # type: ignore[arg-type]
            yield figure("requests_per_event", value, "req/event", goal=GOALS[tier], **got)
