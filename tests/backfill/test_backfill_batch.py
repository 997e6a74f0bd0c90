"""Fewer requests per event: live candles in batches, no trades walk for markets that never traded.

The batch candlestick endpoint must give exactly the curated candles the event endpoint gave
(also for a lake the event endpoint started), and a closed market whose payload says volume 0
is recorded as done, with the reason, without losing a trade the simulator has.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import polars as pl
import pytest

from kalshi_lake.backfill import run_backfill
from kalshi_lake.backfill.units import NEVER_TRADED, EventUnits
from kalshi_lake.cities import get_city
from kalshi_lake.lake.state import StateStore
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim import SimConfig, SimServer, SimTransport
from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED
from kalshi_lake.transform.build import run_transform

CHICAGO = get_city("chicago")
# Live tier at the fixture's clock (cutoff 2026-09-22); the 21st and 22nd are still open.
START, END = dt.date(2026, 11, 20), dt.date(2026, 11, 22)


def _candles(settings: Any) -> pl.DataFrame:
    run_transform(settings)
    files = sorted(Path(settings.lake).glob("curated/candles_1m/city=*/month=*/*.parquet"))
    assert files
    frame = pl.concat([pl.read_parquet(f) for f in files])
    return frame.sort(frame.columns)


def _backfill(
    sim: SimServer, settings_for: Callable[..., Any], lake: Path, path: str, mp: pytest.MonkeyPatch
) -> Any:
    mp.setattr(EventUnits, "live_candles", path)
    settings = settings_for(sim, lake=str(lake))
    summary = run_backfill(settings, CHICAGO, START, END)
    assert summary.status == "ok", summary.failures
    return settings


@pytest.mark.slow
def test_batch_and_event_endpoints_give_the_same_curated_candles(
    sim: SimServer,
    settings_for: Callable[..., Any],
    tmp_path: Path,
    raw_of: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = _backfill(sim, settings_for, tmp_path / "event", "event", monkeypatch)
    batch = _backfill(sim, settings_for, tmp_path / "batch", "batch", monkeypatch)
    assert raw_of(tmp_path / "event").pages("event_candlesticks")
    assert not raw_of(tmp_path / "batch").pages("event_candlesticks")
    assert raw_of(tmp_path / "batch").pages("batch_candlesticks")
    by_event, by_batch = _candles(event), _candles(batch)
    assert by_event.height > 1000
    assert by_batch.equals(by_event)
    # A lake the event endpoint started goes on with batches (its open markets resume from their
    # watermark) and its curated candles stay the same.
    mixed = _backfill(sim, settings_for, tmp_path / "event", "batch", monkeypatch)
    assert raw_of(tmp_path / "event").pages("batch_candlesticks")
    assert _candles(mixed).equals(by_event)


@pytest.mark.parametrize(
    ("city", "day", "tier", "never_traded"),
    [
        (
            "okc",
            dt.date(2026, 10, 2),
            "live",
            {"KXHIGHTOKC-26OCT02-T88", "KXHIGHTOKC-26OCT02-B88.5"},
        ),
        ("sfo", dt.date(2026, 9, 16), "historical", {"KXHIGHTSFO-26SEP16-T67"}),
    ],
)
def test_a_closed_market_that_never_traded_is_not_walked_and_no_trade_is_lost(
    sim: SimServer,
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
    city: str,
    day: dt.date,
    tier: str,
    never_traded: set[str],
) -> None:
    world = sim.world
    for t in never_traded:
        assert world.market_payload(t)["volume_fp"] == "0.00" and not world.trades(t)
    summary = run_backfill(settings_for(sim), get_city(city), day, day)
    raw = raw_of(lake_dir)
    truth = truth_of(world, city, day, day)
    assert set(raw.trades) == truth.trades and raw.candles == truth.candles
    walked = {r["market_ticker"] for r in raw.pages("trades")}
    assert walked == truth.markets - never_traded
    assert summary.by_tier[tier]["trades_skipped"] == len(never_traded)
    assert f"{len(never_traded)} trades walk" in summary.render()
    state = StateStore(Lake(str(lake_dir)), f"backfill/city={get_city(city).name}").load()
    for t in never_traded:
        assert state.get(f"trades/{t}") == {
            "lo": None, "hi": None, "final": True, "skipped": NEVER_TRADED,
        }  # fmt: skip
    # A re-run has nothing left to do for them either.
    again = run_backfill(settings_for(sim), get_city(city), day, day)
    assert again.requests < summary.requests and not again.failures


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


def test_markets_archived_before_their_batch_get_their_candles_from_the_historical_tier(
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    sim = SimTransport(SimConfig(seed=FIXTURE_SEED, now=FIXTURE_NOW))
    day = dt.date(2026, 9, 25)  # settles after the cutoff (2026-09-22): listed live
    assert not any(sim.world.is_historical(m.ticker) for m in sim.world.event(CHICAGO, day).markets)
    moved = dt.datetime(2026, 9, 28, tzinfo=dt.UTC)
    settings = settings_for(SimpleNamespace(base_url=sim.base_url))
    summary = run_backfill(
        settings, CHICAGO, day, day, families=["high"], transport=_ArchiveOnFirstBatch(sim, moved)
    )
    assert summary.status == "ok", summary.failures
    raw = raw_of(lake_dir)
    tickers = {m.ticker for m in sim.world.event(CHICAGO, day).markets}
    batches = [json.loads(p["body"]) for p in raw.pages("batch_candlesticks")]
    assert batches and all(b == {"markets": []} for b in batches)
    assert {p["market_ticker"] for p in raw.pages("candlesticks")} == tickers
    assert raw.candles == truth_of(sim.world, CHICAGO, day, day, families=["high"]).candles
