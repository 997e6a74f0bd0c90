"""Requests per event, per API tier and family: what one event costs the rate limit (README
"Benchmarks").

One backfill of a live-tier range and one of a historical-tier range, each of ONE series (the
``(city, family)`` of :data:`CASES`: ``run_backfill(families=[family])``), against the
in-process simulator (no rate limit, no latency: the counts do not depend on them). Figures:

- ``requests_per_event`` (``tier`` = ``live`` or ``historical``): requests sent / events in the
  range, discovery included (goal: live <= 7.5, historical <= 12);
- its inputs split that per event into ``trades`` (the trades walks' pages), ``candles`` (the
  candlestick requests) and ``discovery`` (everything else: cutoff, series, listings), give
  the ``floor`` those parts allow (see :func:`floor`) and ``by_endpoint`` counts the requests
  by simulator route, so a change shows where its requests went.
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from collections.abc import Iterator, Mapping

from kalshi_lake.bench import figure

NOW = dt.datetime(2026, 11, 21, 15, 0, tzinfo=dt.UTC)
SEED = 7
#: ``(city, family)`` pairs measured, one series each; add cities and families here.
CASES: tuple[tuple[str, str], ...] = (("chicago", "high"), ("chicago", "low"))
#: Event-date ranges wholly in each tier for ``NOW`` (the simulator's cutoff is 60 days back,
#: 2026-09-22): ``(last day, days)``.
RANGES = {"live": (dt.date(2026, 11, 19), 30), "historical": (dt.date(2026, 9, 15), 30)}
GOALS = {"live": 7.5, "historical": 12.0}
#: The batch candlestick endpoint's cap on tickers x requested minutes per request.
BATCH_CANDLES = 10_000
#: Simulator routes by what they serve.
TRADES_ROUTES = ("/markets/trades", "/historical/trades")
CANDLE_ROUTES = (
    "/markets/candlesticks",
    "/historical/markets/{ticker}/candlesticks",
    "/series/{series_ticker}/events/{event_ticker}/candlesticks",
)


def split(by_endpoint: Mapping[str, int], events: int) -> dict[str, float]:
    """Requests per event into ``trades``, ``candles`` and ``discovery`` (the rest)."""
    n = max(1, events)
    trades = sum(v for k, v in by_endpoint.items() if k in TRADES_ROUTES)
    candles = sum(v for k, v in by_endpoint.items() if k in CANDLE_ROUTES)
    rest = sum(by_endpoint.values()) - trades - candles
    return {
        "trades": round(trades / n, 3),
        "candles": round(candles / n, 3),
        "discovery": round(rest / n, 3),
    }


#: The fewest discovery requests of a one-series run: the cutoff, ``GET /series``, the series
#: record, one events page and one market listing page.
DISCOVERY_MIN = 5


def floor(
    tier: str, markets_per_event: float, window_min: int, parts: Mapping[str, float], events: int
) -> float:
    """The fewest requests per event the API allows for what this run fetched.

    - trades: every market's trades walk is at least one page (the trades endpoints filter by
      one market ticker, never by event or series), and 1,000 trades a page: the measured
      trades pages, none of them wasted, are the floor;
    - candles: a historical market takes one request of its own (no batch on that tier); live
      markets share batch requests of ``tickers x minutes <= 10,000``, here one series' so one
      event's a page (a page keeps to one climate date): ``ceil(markets x window / 10,000)``
      an event (a day's high and low events share pages: :mod:`kalshi_lake.bench.backfill`);
    - discovery: :data:`DISCOVERY_MIN` requests spread over the range's events.
    """
    if tier == "historical":
        candles = markets_per_event
    else:
        candles = math.ceil(markets_per_event * window_min / BATCH_CANDLES)
    return parts["trades"] + candles + DISCOVERY_MIN / max(1, events)


def measure(city_name: str, family: str, tier: str, days: int) -> dict[str, object]:
    """Backfill ``days`` event dates of ``tier`` for one city and family; the figure's fields."""
    from kalshi_lake.backfill import run_backfill
    from kalshi_lake.cities import get_city
    from kalshi_lake.config import Settings
    from kalshi_lake.sim import SimConfig, SimTransport

    city = get_city(city_name)
    last, _ = RANGES[tier]
    start = last - dt.timedelta(days=days - 1)
    config = SimConfig(seed=SEED, now=NOW)
    transport = SimTransport(config)
    with tempfile.TemporaryDirectory(prefix="kalshi-bench-") as tmp:
        settings = Settings.load(
            env={}, lake=tmp, api_url="http://sim.invalid/trade-api/v2", rate=1e6, progress=False
        )
        summary = run_backfill(settings, city, start, last, families=[family], transport=transport)
    stats = transport.stats()
    by_endpoint = {k: sum(v.values()) for k, v in stats["by_endpoint"].items()}
    skipped = sum(int(t.get("trades_skipped", 0)) for t in summary.by_tier.values())
    parts = split(by_endpoint, summary.events)
    per_event = summary.markets / max(1, summary.events)
    window = _window_minutes(city_name, family, last)
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
        "per_event": parts,
        "market_window_min": window,
        "floor": round(floor(tier, per_event, window, parts, summary.events), 3),
        "by_endpoint": by_endpoint,
    }


def _window_minutes(city_name: str, family: str, day: dt.date) -> int:
    """Minutes a live candle request asks for per market of ``day``'s event (open to close,
    minute-aligned, one period of margin: the backfill's ``full`` window)."""
    from kalshi_lake.backfill.plan import MarketInfo, candle_window
    from kalshi_lake.cities import get_city
    from kalshi_lake.sim.world import World

    world = World(seed=SEED, now=NOW)
    event = world.event_by_ticker(get_city(city_name).series(family).event_ticker(day))
    assert event is not None
    m = event.markets[0]
    info = MarketInfo(
        m.ticker, event.event_ticker, "", "", m.open_us / 1e6, m.close_us / 1e6, None, ""
    )
    window = candle_window(info, "full")
    assert window is not None
    return (window[1] - window[0]) // 60


def run(quick: bool = False) -> Iterator[dict[str, object]]:
    """Yield ``requests_per_event`` per case and tier."""
    for city_name, family in CASES:
        for tier, (_, days) in RANGES.items():
            got = measure(city_name, family, tier, 10 if quick else days)
            value = float(got.pop("value"))  # type: ignore[arg-type]
            yield figure("requests_per_event", value, "req/event", goal=GOALS[tier], **got)
