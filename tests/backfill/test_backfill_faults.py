"""Faults: 5xx, 429 storms, dropped connections and malformed bodies; a spent retry budget."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kalshi_lake.backfill import BackfillSummary, run_backfill
from kalshi_lake.cities import get_city
from kalshi_lake.errors import ApiUnreachableError, FetchIncompleteError, RunIncomplete
from kalshi_lake.lake.state import StateStore
from kalshi_lake.lake.storage import Lake

CITY = get_city("chicago")
# Six days across the cutoff (2026-09-22): both tiers, every endpoint kind.
START, END = dt.date(2026, 9, 19), dt.date(2026, 9, 24)


@pytest.mark.slow
@pytest.mark.parametrize(
    "faults",
    [
        {"fail_rate": 0.2},
        {"drop_rate": 0.15},
        {"malformed_rate": 0.15},
        {"fail_rate": 0.1, "drop_rate": 0.05, "malformed_rate": 0.05},
    ],
    ids=["5xx-20pct", "dropped", "malformed", "mixed"],
)
def test_faulty_api_still_lands_everything(
    sim_factory: Callable[..., Any],
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
    faults: dict[str, float],
) -> None:
    sim = sim_factory(**faults)
    summary = run_backfill(settings_for(sim), CITY, START, END)
    raw = raw_of(lake_dir)
    truth = truth_of(sim.world, CITY, START, END)
    assert set(raw.trades) == truth.trades and raw.candles == truth.candles
    assert summary.status == "ok" and summary.retries > 0
    stats = sim.stats()["faults"]
    assert stats["failed"] + stats["dropped"] + stats["malformed"] > 0
    # No page with a damaged body was kept.
    assert all(r["http_status"] == 200 for r in raw.rows)


@pytest.mark.slow
def test_429_storm_is_survived_and_the_client_backs_off(
    sim_factory: Callable[..., Any],
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    # The server allows 10 req/s (burst 2); the client is told 400 req/s: a storm of 429s.
    sim = sim_factory(rate=10.0, burst=2.0)
    start, end = dt.date(2026, 11, 1), dt.date(2026, 11, 4)
    summary = run_backfill(settings_for(sim, rate=400.0, burst=400.0), CITY, start, end)
    raw = raw_of(lake_dir)
    truth = truth_of(sim.world, CITY, start, end)
    assert set(raw.trades) == truth.trades and raw.candles == truth.candles
    assert (
        summary.rate_limited > 0 and summary.rate_limited == sim.stats()["faults"]["rate_limited"]
    )
    assert summary.status == "ok"
    # After the first 429s the client slows itself down instead of hammering: far fewer 429s
    # than requests.
    assert summary.rate_limited < summary.requests / 2


@pytest.mark.slow
def test_spent_retry_budget_exits_3_naming_what_is_missing_and_a_rerun_completes(
    sim_factory: Callable[..., Any],
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    flaky = sim_factory(fail_rate=0.35)
    with pytest.raises(FetchIncompleteError) as info:
        run_high_backfill(settings_for(flaky, retry_budget=5, max_retries=2), CITY, START, END)
    err = info.value
    assert err.exit_code == 3
    msg = str(err)
    assert "could not be fetched:" in msg and "re-run" in msg
    assert "\n" not in msg and "first error: GET /" in msg and "HTTP 5" in msg
    assert any(word in msg for word in ("trades KX", "candles KX", "markets of", "discovery"))
    summary = err.summary
    assert (
        isinstance(summary, BackfillSummary) and summary.status == "incomplete" and summary.failures
    )
    assert "to retry" in summary.render()
    # The same world without faults: the re-run fetches only what is missing and completes.
    healthy = sim_factory()
    again = run_high_backfill(settings_for(healthy), CITY, START, END)
    assert again.status == "ok"
    raw = raw_of(lake_dir)
    truth = truth_of(healthy.world, CITY, START, END, families=["high"])
    assert set(raw.trades) == truth.trades and raw.candles == truth.candles
    # Finished units were not fetched again: fewer requests than a clean run of the range.
    clean = run_high_backfill(settings_for(healthy), CITY, START, END, refresh=True)
    assert again.requests < clean.requests


class _FailingFor(httpx.AsyncBaseTransport):
    """Proxies to the simulator but answers 500 to every request naming ``needle``."""

    def __init__(self, needle: str) -> None:
        self.needle = needle
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.needle in str(request.url):
            return httpx.Response(500, json={"error": {"code": "internal_server_error"}})
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_failed_trades_never_mark_their_candles_done(
    sim: Any,
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
) -> None:
    day = dt.date(2026, 11, 5)
    victim = sorted(truth_of(sim.world, CITY, day, day).markets)[2]
    settings = settings_for(sim, max_retries=1)
    with pytest.raises(FetchIncompleteError, match=f"trades {victim}"):
        run_backfill(
            settings, CITY, day, day, candle_window="trades", transport=_FailingFor(victim)
        )
    state = StateStore(Lake(str(lake_dir)), "backfill/city=chicago").load()
    assert state.get(f"trades/{victim}") is None and state.get(f"candles/{victim}") is None
    assert not (state.get(f"event/{victim.rsplit('-', 1)[0]}") or {}).get("final")
    run_backfill(settings, CITY, day, day, candle_window="trades")
    raw = raw_of(lake_dir)
    truth = truth_of(sim.world, CITY, day, day)
    assert set(raw.trades) == truth.trades
    assert {c for c in raw.candles if c[0] == victim}


def test_unreachable_api_ends_the_run_incomplete_with_its_summary(
    settings_for: Callable[..., Any], sim_factory: Callable[..., Any], lake_dir: Path
) -> None:
    sim = sim_factory()
    settings = settings_for(sim).with_(api_url="http://127.0.0.1:1/trade-api/v2")
    with pytest.raises(FetchIncompleteError) as info:
        run_backfill(settings, CITY, START, START)
    err = info.value
    assert err.exit_code == 3 and isinstance(err, RunIncomplete)
    assert str(err).startswith("cannot reach the Kalshi API at http://127.0.0.1:1/trade-api/v2")
    assert isinstance(err.__cause__, ApiUnreachableError)
    summary = err.summary
    assert isinstance(summary, BackfillSummary) and summary.status == "failed"
    assert summary.requests >= 1 and summary.pages == 0
    assert not (lake_dir / "raw").exists()


def run_high_backfill(*args: Any, **kwargs: Any) -> Any:
    """``run_backfill`` of the high family alone: these tests follow one series' walks."""
    return run_backfill(*args, families=["high"], **kwargs)
