"""A backfill against the simulator lands every market, trade and candle, with provenance."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kalshi_lake.backfill import run_backfill
from kalshi_lake.cities import event_date, get_city
from kalshi_lake.lake.state import StateStore, read_run_records
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim import SimServer

CHICAGO = get_city("chicago")
START, END = dt.date(2026, 10, 22), dt.date(2026, 11, 20)  # 30 days, all in the live tier


@pytest.mark.slow
def test_30_day_backfill_lands_everything_the_simulator_holds(
    sim: SimServer,
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    summary = run_high_backfill(settings_for(sim), CHICAGO, START, END)
    raw = raw_of(lake_dir)
    truth = truth_of(sim.world, CHICAGO, START, END, families=["high"])
    assert len(truth.events) == 30 and truth.trades and truth.candles
    assert set(raw.trades) == truth.trades
    assert raw.candles == truth.candles
    assert truth.markets <= raw.markets
    assert summary.status == "ok" and not summary.failures
    assert summary.events == 30 and summary.markets == len(truth.markets)
    assert summary.trades >= len(truth.trades)
    assert summary.requests == sim.stats()["requests"]
    # Requests per event stay small: 1 trades page per market here plus ~3 candle pages.
    assert summary.requests / 30 < 12


def test_pages_carry_their_provenance_byte_for_byte(
    sim: SimServer, lake_dir: Path, settings_for: Callable[..., Any], raw_of: Callable[..., Any]
) -> None:
    run_backfill(settings_for(sim), CHICAGO, dt.date(2026, 11, 1), dt.date(2026, 11, 3))
    raw = raw_of(lake_dir)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    for r in raw.rows:
        assert hashlib.sha256(r["body"].encode()).hexdigest() == r["body_sha256"]
        assert r["http_status"] == 200 and r["city"] == "chicago"
        assert r["fetched_at"] is not None and r["run_id"]
        params = json.loads(r["request_params"])
        if r["endpoint"] in ("trades", "batch_candlesticks", "candlesticks"):
            # Event- and market-scoped pages live under the event's climate date; a batch page
            # shared by a day's events (its highs and lows) names no event, and every market
            # it asks for is of that date.
            events = (
                [r["event_ticker"]] if r["event_ticker"] else params["market_tickers"].split(",")
            )
            assert {event_date(e).isoformat() for e in events} == {r["date"]}
        if r["endpoint"] == "trades":
            assert params["ticker"] == r["market_ticker"] and params["limit"] == "1000"
            assert r["request_path"] == "/markets/trades"
        if r["endpoint"] in ("cutoff", "series", "events"):
            assert r["date"] == today
    # Cursor chains: each page's cursor_in is the previous page's cursor_out; the last is "".
    walks: dict[str, list[dict[str, Any]]] = {}
    for r in raw.pages("trades"):
        walks.setdefault(r["market_ticker"], []).append(r)
    for pages in walks.values():
        pages.sort(key=lambda r: r["page_number"])
        assert [p["page_number"] for p in pages] == list(range(len(pages)))
        assert pages[0]["cursor_in"] is None and pages[-1]["cursor_out"] == ""
        for a, b in itertools.pairwise(pages):
            assert b["cursor_in"] == a["cursor_out"] != ""
    # The exact body the server sent (the simulator answers identical requests identically).
    r = raw.pages("series")[0]
    assert r["body"] == sim.app.handle("GET", "/trade-api/v2/series/KXHIGHCHI").body.decode()


def test_rerun_skips_finished_units_and_pulls_open_markets_incrementally(
    sim: SimServer,
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    start, end = dt.date(2026, 11, 15), dt.date(2026, 11, 22)  # includes open events
    first = run_high_backfill(settings_for(sim), CHICAGO, start, end)
    n_first = sim.stats()["requests"]
    second = run_high_backfill(settings_for(sim), CHICAGO, start, end)
    n_second = sim.stats()["requests"] - n_first
    assert first.status == second.status == "ok"
    assert n_second == second.requests
    # Only open markets are pulled again: discovery (4) + one trades page per open market
    # + the open events' candle pages; finished events are not touched.
    open_events = {m.event_ticker for m in _open_markets(sim, start, end)}
    assert second.events_skipped == first.events - len(open_events)
    assert n_second < first.requests / 3
    raw = raw_of(lake_dir)
    incremental = [r for r in raw.pages("trades") if r["run_id"] == second.run_id]
    assert {r["event_ticker"] for r in incremental} == open_events
    had_trades = {
        r["market_ticker"]
        for r in raw.pages("trades")
        if r["run_id"] == first.run_id and json.loads(r["body"])["trades"]
    }
    for r in incremental:
        # Markets with stored trades resume after the newest one; the others start over.
        assert ("min_ts" in json.loads(r["request_params"])) == (r["market_ticker"] in had_trades)
    assert had_trades & {r["market_ticker"] for r in incremental}
    assert (
        set(raw_of(lake_dir).trades)
        == truth_of(sim.world, CHICAGO, start, end, families=["high"]).trades
    )


def test_refresh_fetches_everything_again(
    sim: SimServer, lake_dir: Path, settings_for: Callable[..., Any]
) -> None:
    start, end = dt.date(2026, 11, 1), dt.date(2026, 11, 3)
    first = run_backfill(settings_for(sim), CHICAGO, start, end)
    again = run_backfill(settings_for(sim), CHICAGO, start, end, refresh=True)
    assert again.requests == first.requests and again.events_skipped == 0


def test_state_and_run_record_live_under_state(
    sim: SimServer, lake_dir: Path, settings_for: Callable[..., Any]
) -> None:
    summary = run_high_backfill(
        settings_for(sim), CHICAGO, dt.date(2026, 11, 1), dt.date(2026, 11, 2)
    )
    lake = Lake(str(lake_dir))
    (record,) = read_run_records(lake)
    assert record["run_id"] == summary.run_id and record["status"] == "ok"
    assert record["summary"]["requests"] == summary.requests
    assert "private" not in json.dumps(record).lower()
    state = StateStore(lake, "backfill/city=chicago").load()
    finals = [k for k, v in state.items("event/") if v["final"]]
    assert len(finals) == 2
    assert not list(state.items("walk/"))  # finished walks leave no cursor behind
    assert not lake.exists("_state/locks/backfill/chicago.json")  # lease released


def test_trades_candle_window_fetches_only_minutes_with_trades(
    sim: SimServer,
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    start, end = dt.date(2026, 11, 1), dt.date(2026, 11, 4)
    run_backfill(settings_for(sim), CHICAGO, start, end, candle_window="trades")
    raw = raw_of(lake_dir)
    truth = truth_of(sim.world, CHICAGO, start, end)
    assert set(raw.trades) == truth.trades
    assert raw.pages("batch_candlesticks")
    for r in raw.pages("batch_candlesticks"):
        params = json.loads(r["request_params"])
        tickers = [t for t in truth.markets if t.startswith(r["event_ticker"] + "-")]
        first_trade = min(
            dt.datetime.fromisoformat(t["created_time"]).timestamp()
            for tk in tickers
            for t in sim.world.trades(tk)
        )
        assert int(params["start_ts"]) >= int(first_trade) // 60 * 60 or r["page_number"] > 0
    # Every candle in a minute with a trade is there.
    traded = set()
    for tk in truth.markets:
        for t in sim.world.trades(tk):
            ts = dt.datetime.fromisoformat(t["created_time"]).timestamp()
            traded.add((tk, int(-(-ts // 60) * 60)))
    assert {c for c in truth.candles if c in traded} <= raw.candles


def _open_markets(sim: SimServer, start: dt.date, end: dt.date) -> list[Any]:
    out = []
    d = start
    while d <= end:
        ev = sim.world.event(CHICAGO, d)
        if ev is not None:
            for m in ev.markets:
                if sim.world.market_payload(m.ticker)["status"] in ("active", "initialized"):
                    out.append(m)
        d += dt.timedelta(days=1)
    return out


def test_a_saved_cursor_the_api_refuses_restarts_its_walk(
    sim: SimServer,
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    day = dt.date(2026, 11, 6)
    truth = truth_of(sim.world, CHICAGO, day, day)
    victim = sorted(truth.markets)[1]
    # A walk saved by an earlier run whose cursor has since expired (the API answers 400).
    StateStore(Lake(str(lake_dir)), "backfill/city=chicago").commit(
        {f"walk/trades/live/{victim}/0": {"cursor": "expired", "page": 2, "done": False}}
    )
    summary = run_backfill(settings_for(sim), CHICAGO, day, day)
    assert summary.status == "ok"
    raw = raw_of(lake_dir)
    assert set(raw.trades) == truth.trades
    pages = [r for r in raw.pages("trades") if r["market_ticker"] == victim]
    assert min(r["page_number"] for r in pages) == 0 and pages[0]["cursor_in"] is None
    assert sim.stats()["by_endpoint"]["/markets/trades"].get("400") == 1


def run_high_backfill(*args: Any, **kwargs: Any) -> Any:
    """``run_backfill`` of the high family alone: these tests follow one series' walks."""
    return run_backfill(*args, families=["high"], **kwargs)
