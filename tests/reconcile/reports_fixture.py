"""Daily reports of the simulator's world, in Kalshi's public format, stored in the raw layout.

The tests' own report writer: it builds the ``market_data`` and ``trade_data`` rows of one New
York day straight from the simulator's tapes (never from the lake, so the reconciliation compares
two independent paths) and stores the kept rows of a city in the raw layout
(:func:`kalshi_lake.testing.daily_reports.write_report_file`). Numbers are strings, as in the
2026 files (:func:`as_integers` turns whole ones into JSON integers, as in the older files),
prices in cents, ``create_ts`` in New York time with the offset and whole seconds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq

from kalshi_lake.api.daily_reports import KINDS
from kalshi_lake.cities import get_city
from kalshi_lake.lake.daily_reports import mark_unpublished
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim import World
from kalshi_lake.testing.daily_reports import write_report_file

__all__ = [
    "CITY",
    "EVENTS_END",
    "EVENTS_START",
    "FETCHED_AT",
    "NY",
    "REPORT_DAYS",
    "ReconLake",
    "as_integers",
    "publish_day",
    "remove_one_trade",
    "report_rows",
    "write_report_file",
]

CITY = "chicago"
#: Event dates backfilled (highs and lows). A New York report day d holds trades of the events
#: of d and d + 1, so report days EVENTS_START..EVENTS_END - 1 are fully inside the lake.
EVENTS_START, EVENTS_END = dt.date(2026, 11, 2), dt.date(2026, 11, 5)
REPORT_DAYS = [EVENTS_START + dt.timedelta(days=k) for k in range(3)]  # 11-02 .. 11-04
FETCHED_AT = dt.datetime(2026, 11, 21, 16, 0, tzinfo=dt.UTC)


@dataclass
class ReconLake:
    """A copy of the simulator lake with its own reports stored for REPORT_DAYS."""

    path: Path
    world: World


NY = ZoneInfo("America/New_York")
US = 1_000_000


def _day_bounds_us(day: dt.date) -> tuple[int, int]:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=NY)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), NY)
    return int(start.timestamp()) * US, int(end.timestamp()) * US


def as_integers(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with every whole number written as a JSON integer (the files before 2026)."""
    out = []
    for r in rows:
        row = dict(r)
        for k, v in r.items():
            if k not in ("date", "create_ts") and isinstance(v, str):
                try:
                    d = Decimal(v)
                except ArithmeticError:
                    continue
                if d == d.to_integral_value():
                    row[k] = int(d)
        out.append(row)
    return out


def _contracts(cc: int) -> Decimal:
    return Decimal(cc) / 100


def report_rows(
    world: World, city: str, day: dt.date
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(market_data rows, trade_data rows) of ``city``'s markets for New York day ``day``."""
    c = get_city(city)
    lo, hi = _day_bounds_us(day)
    markets: list[dict[str, Any]] = []
    trades: list[dict[str, Any]] = []
    for offset in (-1, 0, 1, 2):
        for family in c.families:
            ev = world.event(c, day + dt.timedelta(days=offset), family)
            if ev is None:
                continue
            for m in ev.markets:
                if m.open_us >= hi or m.settlement_us < lo:
                    continue
                tape = world.tape(m)
                idx = [k for k, t in enumerate(tape.t_us) if lo <= t < hi]
                before = [k for k, t in enumerate(tape.t_us) if t < hi]
                oi = tape.t_oi[before[-1]] if before else 0
                vol = sum(tape.t_cc[k] for k in idx)
                series = m.series_ticker
                for k in idx:
                    ts = dt.datetime.fromtimestamp(tape.t_us[k] // US, dt.UTC).astimezone(NY)
                    trades.append(
                        {
                            "ticker_name": m.ticker,
                            "report_ticker": series,
                            "date": day.isoformat(),
                            "create_ts": ts.isoformat(sep=" "),
                            "contracts_traded": str(_contracts(tape.t_cc[k])),
                            "price": str(tape.t_px[k]),
                        }
                    )
                pxs = [tape.t_px[k] for k in idx]
                markets.append(
                    {
                        "date": day.isoformat(),
                        "ticker_name": m.ticker,
                        "report_ticker": series,
                        "payout_type": "Binary Option",
                        "open_interest": str(_contracts(oi)),
                        "daily_volume": str(_contracts(vol)),
                        "block_volume": str(0),
                        "high": str(max(pxs) if pxs else 0),
                        "low": str(min(pxs) if pxs else 0),
                        "status": "active",
                    }
                )
    return markets, trades


def publish_day(
    lake: Path,
    world: World,
    city: str,
    day: dt.date,
    *,
    fetched_at: dt.datetime,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Both files of ``day`` for ``city``, stored; returns their rows."""
    markets, trades = report_rows(world, city, day)
    write_report_file(lake, city, day, "market_data", markets, fetched_at=fetched_at)
    write_report_file(lake, city, day, "trade_data", trades, fetched_at=fetched_at)
    return markets, trades


def mark_pending(lake: Path, city: str, day: dt.date) -> None:
    """Record that a reconcile asked for ``day``'s files of ``city`` and found neither
    published (what the daily-report reader leaves)."""
    for kind in KINDS:
        for family in get_city(city).families:
            mark_unpublished(Lake(str(lake)), city, day, kind, family)


def remove_one_trade(lake: Path, city: str, day: dt.date) -> tuple[str, str]:
    """Drop one trade traded on New York day ``day`` from the curated trades (the lake lost
    it); returns its (market_ticker, trade_id)."""
    path = lake / "curated" / "trades" / f"city={city}" / "month=2026-11" / "part-0.parquet"
    table = pq.read_table(path)
    times = table.column("traded_at").to_pylist()
    k = next(i for i, ts in enumerate(times) if ts.astimezone(NY).date() == day)
    pq.write_table(table.take([i for i in range(table.num_rows) if i != k]), path)
    return table.column("market_ticker")[k].as_py(), table.column("trade_id")[k].as_py()
