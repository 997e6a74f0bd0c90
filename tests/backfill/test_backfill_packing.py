"""A day's high and low events share batch candle requests: 3 for their 12 live markets, not 4,
every candle still landed, each family still with pages of its own."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx

from kalshi_lake.backfill import run_backfill
from kalshi_lake.backfill.packing import Chunk, fits, pack
from kalshi_lake.cities import family_for_ticker, get_city
from kalshi_lake.lake.state import StateStore
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim import SimConfig, SimServer, SimTransport
from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED

CHICAGO = get_city("chicago")
LIVE_DAYS = dt.date(2026, 11, 1), dt.date(2026, 11, 2)
# 38 hours, as a live event's window (open the day before at 10:00 ET to 04:59Z after it).
WINDOW = (0, 38 * 3600)


def _tickers(event: str, n: int) -> list[str]:
    return [f"{event}-B{i}" for i in range(n)]


def test_a_days_two_events_take_three_chunks_each_family_one_of_its_own() -> None:
    high, low = "KXHIGHCHI-26NOV01", "KXLOWTCHI-26NOV01"
    chunks = pack([(high, _tickers(high, 6), WINDOW), (low, _tickers(low, 6), WINDOW)])
    assert [len(c.tickers) for c in chunks] == [4, 4, 4]
    assert chunks[0] == Chunk(tuple(_tickers(high, 4)), WINDOW, (high,))
    assert chunks[1] == Chunk(tuple(_tickers(low, 4)), WINDOW, (low,))
    assert chunks[2].events == (high, low) and all(fits(4, c.window) for c in chunks)
    assert sorted(t for c in chunks for t in c.tickers) == sorted(
        _tickers(high, 6) + _tickers(low, 6)
    )


def test_chunks_whose_union_window_is_too_long_are_not_merged() -> None:
    a, b = "KXHIGHCHI-26NOV01", "KXHIGHCHI-26NOV02"
    later = (WINDOW[0] + 24 * 3600, WINDOW[1] + 24 * 3600)  # 62 hours together: 2 tickers fit
    chunks = pack([(a, _tickers(a, 6), WINDOW), (b, _tickers(b, 6), later)])
    assert [c.events for c in chunks] == [(a,), (b,), (a,), (b,)]
    # One event alone packs as the event's own batch did: 4 + 2 tickers.
    assert [len(c.tickers) for c in pack([(a, _tickers(a, 6), WINDOW)])] == [4, 2]


def test_a_window_too_long_for_one_ticker_gives_one_ticker_chunks() -> None:
    a = "KXHIGHCHI-26NOV01"
    chunks = pack([(a, _tickers(a, 2), (0, 10_001 * 60))])
    assert [c.tickers for c in chunks] == [(f"{a}-B0",), (f"{a}-B1",)]


def test_highs_and_lows_share_batches_and_land_every_candle(
    sim: SimServer,
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    start, end = LIVE_DAYS
    summary = run_backfill(settings_for(sim), CHICAGO, start, end)
    assert summary.status == "ok", summary.failures
    days = (end - start).days + 1
    assert sim.stats()["by_endpoint"]["/markets/candlesticks"] == {"200": 3 * days}
    raw = raw_of(lake_dir)
    truth = truth_of(sim.world, CHICAGO, start, end)
    assert raw.candles == truth.candles and set(raw.trades) == truth.trades
    # Each day and family has a batch page naming one of its events (the raw layer files a
    # page by its event); the shared page of each day names none.
    pages = raw.pages("batch_candlesticks")
    own = {(p["date"], family_for_ticker(p["event_ticker"])) for p in pages if p["event_ticker"]}
    dates = {(start + dt.timedelta(days=i)).isoformat() for i in range(days)}
    assert own == {(d, f) for d in dates for f in ("high", "low")}
    shared = [p for p in pages if p["event_ticker"] is None]
    assert len(shared) == days
    for p in shared:
        tickers = json.loads(p["request_params"])["market_tickers"].split(",")
        assert {family_for_ticker(t) for t in tickers} == {"high", "low"}
    # Every market's candles are recorded done; no walk is left behind; a re-run skips all.
    state = StateStore(Lake(str(lake_dir)), "backfill/city=chicago").load()
    assert all(state.get(f"candles/{m}") for m in truth.markets)
    assert not [k for k, _ in state.items("walk/")]
    again = run_backfill(settings_for(sim), CHICAGO, start, end)
    assert again.events_skipped == again.events == 2 * days


def test_markets_archived_before_a_shared_batch_get_their_candles_from_the_historical_tier(
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    sim = SimTransport(SimConfig(seed=FIXTURE_SEED, now=FIXTURE_NOW))
    day = dt.date(2026, 9, 25)  # settles after the cutoff (2026-09-22): listed live
    moved = dt.datetime(2026, 9, 28, tzinfo=dt.UTC)
    settings = settings_for(SimpleNamespace(base_url=sim.base_url))
    summary = run_backfill(settings, CHICAGO, day, day, transport=_ArchiveOnFirstBatch(sim, moved))
    assert summary.status == "ok", summary.failures
    raw = raw_of(lake_dir)
    truth = truth_of(sim.world, CHICAGO, day, day)
    assert len(truth.events) == 2
    assert all(json.loads(p["body"]) == {"markets": []} for p in raw.pages("batch_candlesticks"))
    assert {p["market_ticker"] for p in raw.pages("candlesticks")} == truth.markets
    assert raw.candles == truth.candles


class _ArchiveOnFirstBatch(httpx.AsyncBaseTransport):
    """The simulator, whose cutoff moves past ``moved_to`` as the first batch request arrives:
    the markets listed live are archived before their candles are asked for."""

    def __init__(self, sim: SimTransport, moved_to: dt.datetime) -> None:
        self.sim = sim
        self.moved_to = moved_to

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/markets/candlesticks"):
            self.sim.world.cutoff_us = int(self.moved_to.timestamp() * 1_000_000)
        return await self.sim.handle_async_request(request)
