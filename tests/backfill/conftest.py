"""Fixtures for backfill tests: fast settings against a simulator, and raw-vs-world comparison."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from kalshi_lake.cities import City, get_city
from kalshi_lake.config import Settings
from kalshi_lake.sim import SimServer, World


@dataclass
class RawContents:
    """What the raw layer holds, decoded from the page bodies."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    trades: dict[str, str] = field(default_factory=dict)  # trade_id -> tier
    candles: set[tuple[str, int]] = field(default_factory=set)  # (ticker, end_period_ts)
    markets: set[str] = field(default_factory=set)
    files: list[Path] = field(default_factory=list)

    def pages(self, endpoint: str) -> list[dict[str, Any]]:
        """Rows of one endpoint."""
        return [r for r in self.rows if r["endpoint"] == endpoint]


def read_raw(lake: Path) -> RawContents:
    """Decode every raw page under ``lake`` (Hive keys taken from the path)."""
    out = RawContents()
    for f in sorted(lake.glob("raw/*/city=*/date=*/*.parquet")):
        out.files.append(f)
        city = f.parent.parent.name.split("=", 1)[1]
        date = f.parent.name.split("=", 1)[1]
        for r in pq.read_table(f).to_pylist():
            r["city"], r["date"] = city, date
            out.rows.append(r)
            d = json.loads(r["body"])
            ep = r["endpoint"]
            if ep == "trades":
                for t in d["trades"]:
                    out.trades[t["trade_id"]] = r["tier"]
            elif ep == "event_candlesticks":
                for tk, cs in zip(d["market_tickers"], d["market_candlesticks"], strict=True):
                    out.candles |= {(tk, c["end_period_ts"]) for c in cs}
            elif ep == "candlesticks":
                out.candles |= {(d["ticker"], c["end_period_ts"]) for c in d["candlesticks"]}
            elif ep == "markets":
                out.markets |= {m["ticker"] for m in d["markets"]}
    return out


@dataclass
class Truth:
    """What the simulator's world holds for a city and date range."""

    trades: set[str] = field(default_factory=set)
    candles: set[tuple[str, int]] = field(default_factory=set)
    markets: set[str] = field(default_factory=set)
    historical_markets: set[str] = field(default_factory=set)
    events: list[str] = field(default_factory=list)


def world_truth(world: World, city: City | str, start: dt.date, end: dt.date) -> Truth:
    """Every market, trade and 1-minute candle of ``city``'s events in ``start..end``."""
    c = get_city(city) if isinstance(city, str) else city
    out = Truth()
    d = start
    while d <= end:
        ev = world.event(c, d)
        if ev is not None:
            out.events.append(ev.event_ticker)
            for m in ev.markets:
                out.markets.add(m.ticker)
                out.trades |= {t["trade_id"] for t in world.trades(m.ticker)}
                hist = world.is_historical(m.ticker)
                if hist:
                    out.historical_markets.add(m.ticker)
                cs = world.historical_candles(m.ticker) if hist else world.candles(m.ticker)
                out.candles |= {(m.ticker, c["end_period_ts"]) for c in cs}
        d += dt.timedelta(days=1)
    return out


@pytest.fixture
def raw_of() -> Callable[[Path], RawContents]:
    """``raw_of(lake_dir)`` decodes the raw layer."""
    return read_raw


@pytest.fixture
def truth_of() -> Callable[..., Truth]:
    """``truth_of(world, city, start, end)`` lists what the simulator holds."""
    return world_truth


@pytest.fixture
def settings_for(lake_dir: Path) -> Callable[..., Settings]:
    """``settings_for(sim, **overrides)``: fast, quiet settings pointing at a simulator."""

    def make(sim: SimServer, **overrides: Any) -> Settings:
        base: dict[str, Any] = {
            "lake": str(lake_dir),
            "api_url": sim.base_url,
            "rate": 2000.0,
            "concurrency": 8,
            "max_retries": 8,
            "backoff_base_s": 0.005,
            "backoff_max_s": 0.05,
            "progress": False,
            "flush_seconds": 0.5,
        }
        base.update(overrides)
        return Settings(**base)

    return make
