"""Discovery of a range that reaches into the archive reads the events listing only as far as the
range: a few historical days no longer walk years of events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from kalshi_lake.backfill import run_backfill
from kalshi_lake.backfill.discover import Discovery
from kalshi_lake.backfill.plan import Cutoff
from kalshi_lake.cities import get_city
from kalshi_lake.sim import SimServer

# The fixture simulator's historical cutoff is 2026-09-22: these days are archived.
ARCHIVED = dt.date(2026, 9, 10), dt.date(2026, 9, 12)


def _discovery(start: dt.date) -> Discovery:
    city = get_city("chicago")
    ctx: Any = SimpleNamespace(city=city, start=start, end=start + dt.timedelta(days=2))
    cut = dt.datetime(2026, 9, 22, tzinfo=dt.UTC)
    return Discovery(ctx, Cutoff(cut, cut), lambda plans: None, city.series("high"))


def _page(*days: str) -> dict[str, Any]:
    return {"events": [{"event_ticker": f"KXHIGHCHI-{d}"} for d in days]}


def test_the_events_listing_stops_once_past_the_range_while_newest_first() -> None:
    d = _discovery(dt.date(2026, 9, 10))
    d._on_events(_page("26SEP20", "26SEP12", "26SEP11"))
    assert not d._events_past_range()  # still in the range
    d._on_events(_page("26SEP10", "26SEP09", "26SEP08"))
    assert d._events_past_range()
    assert {"KXHIGHCHI-26SEP10", "KXHIGHCHI-26SEP11"} <= set(d.listed)


def test_an_events_listing_out_of_order_is_walked_to_its_end() -> None:
    d = _discovery(dt.date(2026, 9, 10))
    d._on_events(_page("26SEP08", "26SEP09", "26SEP07"))  # a date rose: no order to trust
    assert not d._events_past_range()
    d._on_events(_page("26SEP01"))
    assert not d._events_past_range()


def test_a_few_archived_days_take_one_events_page_and_land_everything(
    sim: SimServer,
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    start, end = ARCHIVED
    city = get_city("chicago")  # its highs' listing goes back years (legacy HIGHCHI events)
    summary = run_backfill(settings_for(sim), city, start, end)
    assert summary.status == "ok" and summary.events == 6
    by_endpoint = sim.stats()["by_endpoint"]
    assert by_endpoint["/events"] == {"200": 2}  # one page per family
    # The archive's market listing is one series walk per family, stopped past the range too,
    # rather than a request per event.
    assert by_endpoint["/historical/markets"] == {"200": 2}
    raw = raw_of(lake_dir)
    truth = truth_of(sim.world, city, start, end)
    assert truth.markets <= truth.historical_markets
    assert set(raw.trades) == truth.trades and raw.candles == truth.candles
