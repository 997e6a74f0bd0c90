"""Live/historical routing around the cutoff, legacy tickers, the 5,000 cap and adjusted_end_ts."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import kalshi_lake.backfill.units as backfill_units
from kalshi_lake.backfill import run_backfill
from kalshi_lake.backfill.plan import Cutoff, MarketInfo, market_tier, trade_tiers
from kalshi_lake.backfill.units import EventUnits
from kalshi_lake.cities import event_date, get_city
from kalshi_lake.sim import SimServer

UTC = dt.UTC


@pytest.mark.slow
def test_cutoff_straddling_range_uses_each_tier_for_what_it_holds(
    sim: SimServer,
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    city = get_city("chicago")
    cut = sim.world.cutoff["trades_created_ts"]
    assert cut == dt.datetime(2026, 9, 22, tzinfo=UTC)
    start, end = dt.date(2026, 9, 17), dt.date(2026, 9, 26)
    summary = run_backfill(settings_for(sim), city, start, end)
    raw = raw_of(lake_dir)
    truth = truth_of(sim.world, city, start, end)
    assert truth.historical_markets and truth.historical_markets != truth.markets
    assert set(raw.trades) == truth.trades and raw.candles == truth.candles
    assert truth.markets <= raw.markets
    # Trades before the trades cutoff came from /historical/trades, the rest from /markets/trades.
    cut_s = cut.timestamp()
    by_id = {}
    for tk in truth.markets:
        for t in sim.world.trades(tk):
            by_id[t["trade_id"]] = dt.datetime.fromisoformat(t["created_time"]).timestamp()
    for tid, tier in raw.trades.items():
        assert tier == ("historical" if by_id[tid] < cut_s else "live"), tid
    # A market open across the cutoff needed both trade endpoints.
    straddle = {
        r["market_ticker"]
        for r in raw.pages("trades")
        if r["tier"] == "historical" and json.loads(r["body"])["trades"]
    } & {
        r["market_ticker"]
        for r in raw.pages("trades")
        if r["tier"] == "live" and json.loads(r["body"])["trades"]
    }
    assert straddle
    # Candles: archived markets per market on /historical, the others per event in live batches.
    hist_candle_markets = {r["market_ticker"] for r in raw.pages("candlesticks")}
    assert hist_candle_markets == truth.historical_markets
    assert all(r["tier"] == "historical" for r in raw.pages("candlesticks"))
    live_events = {
        t.rsplit("-", 1)[0]
        for r in raw.pages("batch_candlesticks")
        for t in json.loads(r["request_params"])["market_tickers"].split(",")
    }
    assert not raw.pages("event_candlesticks")
    assert live_events == {t.rsplit("-", 1)[0] for t in truth.markets - truth.historical_markets}
    # Archived markets' states came from /historical/markets, live ones from /markets.
    tiers = {r["tier"] for r in raw.pages("markets")}
    assert tiers == {"live", "historical"}
    assert summary.by_tier["historical"]["trades"] > 0 and summary.by_tier["live"]["trades"] > 0


@pytest.mark.slow
def test_legacy_tickers_of_2024_come_back_under_the_kx_series(
    sim: SimServer,
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    city = get_city("nyc")
    start, end = dt.date(2024, 10, 19), dt.date(2024, 10, 27)  # HIGHNY- until 10-23, then KX
    summary = run_backfill(settings_for(sim), city, start, end)
    raw = raw_of(lake_dir)
    truth = truth_of(sim.world, city, start, end)
    assert {t.split("-")[0] for t in truth.markets} == {"HIGHNY", "KXHIGHNY"}
    assert truth.historical_markets == truth.markets
    assert set(raw.trades) == truth.trades and raw.candles == truth.candles
    assert truth.markets <= raw.markets
    assert summary.by_tier.get("live", {}).get("trades", 0) == 0
    # Everything market-scoped went to the historical tier; no live market listing was needed.
    assert {r["tier"] for r in raw.rows if r["endpoint"] not in ("series", "events")} == {
        "historical"
    }
    legacy = [r for r in raw.pages("trades") if r["market_ticker"].startswith("HIGHNY-")]
    assert legacy and all(r["date"] <= "2024-10-23" for r in legacy)


@pytest.mark.parametrize("cap", [backfill_units.HIST_CANDLE_CAP, 700])
def test_historical_candles_are_chunked_under_the_cap(
    sim: SimServer,
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    cap: int,
) -> None:
    # Weather markets are open ~39 h (2,340 minutes): a smaller cap forces several chunks on
    # real data, and the simulator would answer 400 to any request over 5,000 periods.
    monkeypatch.setattr(backfill_units, "HIST_CANDLE_CAP", cap)
    city = get_city("chicago")
    start, end = dt.date(2026, 8, 10), dt.date(2026, 8, 12)
    run_backfill(settings_for(sim), city, start, end)
    raw = raw_of(lake_dir)
    truth = truth_of(sim.world, city, start, end)
    assert raw.candles == truth.candles
    pages = raw.pages("candlesticks")
    per_market: dict[str, list[dict[str, Any]]] = {}
    for r in pages:
        p = json.loads(r["request_params"])
        assert (int(p["end_ts"]) - int(p["start_ts"])) // 60 + 1 <= cap
        per_market.setdefault(r["market_ticker"], []).append(p)
    assert set(per_market) == truth.historical_markets == truth.markets  # every market chunked
    for chunks in per_market.values():
        chunks.sort(key=lambda p: int(p["start_ts"]))
        for a, b in itertools.pairwise(chunks):
            assert int(b["start_ts"]) == int(a["end_ts"]) + 60  # no gap, no overlap
        expected = 1 if cap == 5000 else 4
        assert len(chunks) == expected


def test_live_event_candles_follow_adjusted_end_ts(
    sim: SimServer,
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(EventUnits, "live_candles", "event")  # the pre-batch path
    city = get_city("chicago")
    day = dt.date(2026, 11, 10)
    run_high_backfill(settings_for(sim), city, day, day)
    raw = raw_of(lake_dir)
    pages = sorted(raw.pages("event_candlesticks"), key=lambda r: r["page_number"])
    assert len(pages) >= 3  # 6 markets x ~2,340 minutes cannot fit in 5,000 candles
    first = json.loads(pages[0]["request_params"])
    for a, b in itertools.pairwise(pages):
        adjusted = json.loads(a["body"])["adjusted_end_ts"]
        assert adjusted < int(json.loads(a["request_params"])["end_ts"])
        assert int(json.loads(b["request_params"])["start_ts"]) == adjusted
    last = json.loads(pages[-1]["body"])
    assert last["adjusted_end_ts"] == int(first["end_ts"])
    assert raw.candles == truth_of(sim.world, city, day, day, families=["high"]).candles


def test_live_candles_come_in_batches_under_10000_candles(
    sim: SimServer,
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    city = get_city("chicago")
    day = dt.date(2026, 11, 10)
    run_high_backfill(settings_for(sim), city, day, day)
    raw = raw_of(lake_dir)
    pages = sorted(raw.pages("batch_candlesticks"), key=lambda r: r["page_number"])
    tickers = sorted(t.ticker for t in sim.world.event(city, day).markets)
    # 6 markets x ~2,340 minutes: two requests (the event endpoint needed three).
    assert len(pages) == 2
    chunks = [json.loads(p["request_params"]) for p in pages]
    for params in chunks:
        assert params["market_tickers"].split(",") == tickers
        periods = (int(params["end_ts"]) - int(params["start_ts"])) // 60 + 1
        assert len(tickers) * periods <= 10_000  # both ends of the range count
    assert int(chunks[1]["start_ts"]) == int(chunks[0]["end_ts"]) + 60  # no gap, no overlap
    assert {p["date"] for p in pages} == {day.isoformat()}
    assert raw.candles == truth_of(sim.world, city, day, day, families=["high"]).candles


def _m(**kw: Any) -> MarketInfo:
    base: dict[str, Any] = {
        "ticker": "KXHIGHCHI-26MAY18-B70.5",
        "event_ticker": "KXHIGHCHI-26MAY18",
        "status": "finalized",
        "result": "no",
        "open_ts": dt.datetime(2026, 5, 17, 14, tzinfo=UTC).timestamp(),
        "close_ts": dt.datetime(2026, 5, 19, 4, 59, tzinfo=UTC).timestamp(),
        "settlement_ts": dt.datetime(2026, 5, 19, 12, 4, tzinfo=UTC).timestamp(),
        "source_tier": "live",
    }
    base.update(kw)
    return MarketInfo(**base)


def test_routing_rules_of_the_reference() -> None:
    cut = Cutoff.from_payload(
        {"market_settled_ts": "2026-05-19T00:00:00Z", "trades_created_ts": "2026-05-19T00:00:00Z"}
    )
    # Settled after market_settled_ts: live, but its trades straddle trades_created_ts.
    m = _m()
    assert market_tier(m, cut) == "live"
    assert trade_tiers(m, cut) == ["historical", "live"]
    # ... unless the newest stored trade is already past the cutoff (incremental pull).
    assert trade_tiers(m, cut, since=dt.datetime(2026, 5, 19, 1, tzinfo=UTC).timestamp()) == [
        "live"
    ]
    # Settled before the cutoff: historical everything.
    old = _m(
        settlement_ts=dt.datetime(2026, 5, 17, 12, tzinfo=UTC).timestamp(),
        close_ts=dt.datetime(2026, 5, 17, 4, 59, tzinfo=UTC).timestamp(),
        open_ts=dt.datetime(2026, 5, 15, 14, tzinfo=UTC).timestamp(),
    )
    assert market_tier(old, cut) == "historical" and trade_tiers(old, cut) == ["historical"]
    # Open markets are live; a market seen only on /historical/markets is historical.
    assert market_tier(_m(status="active", result="", settlement_ts=None), cut) == "live"
    assert market_tier(_m(source_tier="historical"), cut) == "historical"
    # No settlement_ts on an old settled market: close_time decides.
    assert market_tier(_m(settlement_ts=None, close_ts=old.close_ts), cut) == "historical"


class _EmptySeriesListing(httpx.AsyncBaseTransport):
    """Proxies to the simulator, but the series-wide live market listing comes back empty."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/markets") and "series_ticker" in request.url.params:
            return httpx.Response(200, json={"cursor": "", "markets": []})
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_events_missing_from_the_listing_are_asked_for_one_by_one(
    sim: SimServer,
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    city = get_city("chicago")
    start, end = dt.date(2026, 11, 2), dt.date(2026, 11, 4)
    run_backfill(settings_for(sim), city, start, end, transport=_EmptySeriesListing())
    raw = raw_of(lake_dir)
    truth = truth_of(sim.world, city, start, end)
    assert set(raw.trades) == truth.trades and raw.candles == truth.candles
    per_event = [r for r in raw.pages("markets") if r["event_ticker"]]
    assert {r["event_ticker"] for r in per_event} == set(truth.events)
    # Event-scoped pages go under the event's climate date.
    for r in per_event:
        assert r["date"] == event_date(r["event_ticker"]).isoformat() and r["tier"] == "live"


@pytest.mark.slow
def test_many_archived_events_use_the_series_listing_and_stop_past_the_range(
    sim: SimServer,
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    city = get_city("chicago")
    start, end = dt.date(2026, 8, 1), dt.date(2026, 8, 20)  # 20 archived events
    run_high_backfill(settings_for(sim), city, start, end)
    raw = raw_of(lake_dir)
    truth = truth_of(sim.world, city, start, end, families=["high"])
    assert truth.historical_markets == truth.markets
    assert set(raw.trades) == truth.trades and raw.candles == truth.candles
    listing = [r for r in raw.pages("markets") if r["tier"] == "historical"]
    # One series-wide listing instead of 20 per-event requests ...
    assert listing and all(r["event_ticker"] is None for r in listing)
    assert json.loads(listing[0]["request_params"])["series_ticker"] == "KXHIGHCHI"
    # ... and it stopped once past the range: the archive back to 2021 is ~11 pages.
    assert len(listing) <= 2
    assert listing[-1]["cursor_out"] != ""


def run_high_backfill(*args: Any, **kwargs: Any) -> Any:
    """``run_backfill`` of the high family alone: these tests follow one series' walks."""
    return run_backfill(*args, families=["high"], **kwargs)


@pytest.mark.parametrize(
    ("payload", "status", "never_traded"),
    [
        ({"volume_fp": "0.00"}, "finalized", True),
        ({"volume": 0}, "closed", True),  # legacy integer field
        ({"volume_fp": "0.00", "volume": 5}, "settled", True),  # volume_fp wins
        ({"volume_fp": "0.00"}, "active", False),  # still open: it may trade later
        ({"volume_fp": "3.00"}, "finalized", False),
        ({}, "finalized", False),  # no volume in the payload: walk
        ({"volume_fp": "n/a"}, "finalized", False),  # unreadable: walk
    ],
)
def test_only_a_closed_market_with_volume_0_counts_as_never_traded(
    payload: dict[str, Any], status: str, never_traded: bool
) -> None:
    data = {"ticker": "KXHIGHCHI-26MAY18-B70.5", "status": status, **payload}
    m = MarketInfo.from_payload(data, "live")
    assert m.never_traded is never_traded
    assert MarketInfo.from_state(m.to_state()) == m
    legacy_state = {k: v for k, v in m.to_state().items() if k != "volume"}
    assert MarketInfo.from_state(legacy_state).never_traded is False
