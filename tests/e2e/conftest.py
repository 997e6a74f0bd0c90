"""A small curated lake written with pyarrow and the curated schemas, for distributed readers."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from kalshi_lake.lake import Lake
from kalshi_lake.schemas import CANDLES, MARKETS, SORT_KEYS, TRADES

CITIES = {"chicago": "KXHIGHCHI", "miami": "KXHIGHMIA"}
DAYS = [dt.date(2026, 9, 29), dt.date(2026, 9, 30), dt.date(2026, 10, 1), dt.date(2026, 10, 2)]
BRACKETS = [(None, 40), (41, 42), (43, 44), (45, None)]


def _price(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(1, 99)) / 100 + Decimal(rng.randint(0, 9999)) / 1_000_000


def _partitions(seed: int = 11) -> dict[tuple[str, str, str], pa.Table]:
    """(table, city, month) -> rows, sorted by the table's key like the transform writes them."""
    rng = random.Random(seed)
    rows: dict[tuple[str, str, str], list[dict[str, object]]] = {}
    for city, series in CITIES.items():
        for day in DAYS:
            month = f"{day:%Y-%m}"
            event = f"{series}-{day:%y%b%d}".upper()
            open_t = dt.datetime.combine(day, dt.time(14), dt.UTC) - dt.timedelta(days=1)
            for i, (low, high) in enumerate(BRACKETS):
                ticker = f"{event}-B{40 + 2 * i}.5"
                n_trades = rng.randint(0, 25)
                traded = []
                for k in range(n_trades):
                    yes = _price(rng)
                    traded.append(
                        {
                            "trade_id": f"{ticker}-{k:03d}-{rng.getrandbits(32):08x}",
                            "market_ticker": ticker,
                            "event_ticker": event,
                            "date": day,
                            "traded_at": open_t + dt.timedelta(seconds=rng.randint(0, 86_000)),
                            "yes_price": yes,
                            "no_price": Decimal(1) - yes,
                            "count": Decimal(rng.randint(1, 50000)) / 100,
                            "taker_side": rng.choice(["yes", "no"]),
                            "is_block_trade": rng.random() < 0.05,
                            "tier": "historical" if day.month == 9 else "live",
                            "fetched_at": dt.datetime(2026, 11, 21, 12, 0, 0, 123456, dt.UTC),
                        }
                    )
                rows.setdefault(("trades", city, month), []).extend(traded)
                volume = sum((t["count"] for t in traded), Decimal(0))
                rows.setdefault(("markets", city, month), []).append(
                    {
                        "market_ticker": ticker,
                        "event_ticker": event,
                        "series_ticker": series,
                        "date": day,
                        "strike_type": "less"
                        if low is None
                        else "greater"
                        if high is None
                        else "between",
                        "floor_strike": None if low is None else Decimal(low),
                        "cap_strike": None if high is None else Decimal(high),
                        "low_f": low,
                        "high_f": high,
                        "yes_sub_title": f"{low}° to {high}°",
                        "status": "finalized",
                        "result": "yes" if i == 2 else "no",
                        "settlement_value": Decimal(1) if i == 2 else Decimal(0),
                        "expiration_value": Decimal("43.0000"),
                        "open_time": open_t,
                        "close_time": open_t + dt.timedelta(days=1, hours=10),
                        "settlement_ts": open_t + dt.timedelta(days=1, hours=12),
                        "volume": volume,
                        "open_interest": (volume / 2).quantize(Decimal("0.01")),
                        "settlement_source": "nws",
                        "tier": "historical" if day.month == 9 else "live",
                        "fetched_at": dt.datetime(2026, 11, 21, 12, tzinfo=dt.UTC),
                    }
                )
                by_minute: dict[dt.datetime, list[dict[str, object]]] = {}
                for t in traded:
                    ts = t["traded_at"]
                    assert isinstance(ts, dt.datetime)
                    by_minute.setdefault(ts.replace(second=0), []).append(t)
                for start, ts in sorted(by_minute.items()):
                    prices = [t["yes_price"] for t in sorted(ts, key=lambda t: str(t["traded_at"]))]
                    vol = sum((t["count"] for t in ts), Decimal(0))
                    rows.setdefault(("candles_1m", city, month), []).append(
                        {
                            "market_ticker": ticker,
                            "event_ticker": event,
                            "date": day,
                            "source": "trades",
                            "bucket_start": start,
                            "period_minutes": 1,
                            "price_open": prices[0],
                            "price_high": max(prices),  # type: ignore[type-var]
                            "price_low": min(prices),  # type: ignore[type-var]
                            "price_close": prices[-1],
                            "price_vwap": (
                                sum(t["yes_price"] * t["count"] for t in ts) / vol  # type: ignore[operator]
                            ).quantize(Decimal("0.000001")),
                            "trade_count": len(ts),
                            "volume": vol,
                        }
                    )
    schemas = {"trades": TRADES, "markets": MARKETS, "candles_1m": CANDLES}
    out = {}
    for (table, city, month), rs in rows.items():
        key = SORT_KEYS[table]
        rs.sort(key=lambda r: tuple(str(r[k]) for k in key))
        out[(table, city, month)] = pa.Table.from_pylist(rs, schema=schemas[table])
    return out


def write_curated(lake: Lake, seed: int = 11) -> dict[tuple[str, str, str], pa.Table]:
    """Write the fixture partitions into ``lake`` the way the transform does; return them."""
    parts = _partitions(seed)
    for (table, city, month), t in parts.items():
        lake.replace_partition(f"curated/{table}/city={city}/month={month}", t)
    return parts


@pytest.fixture(scope="module")
def curated_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """A local lake with curated markets, trades and candles_1m for 2 cities x 2 months."""
    lake = Lake(str(tmp_path_factory.mktemp("curated") / "lake"))
    write_curated(lake)
    return lake


@pytest.fixture(scope="module")
def curated_root(curated_lake: Lake) -> Path:
    """The folder of the curated fixture lake."""
    return Path(curated_lake.root)
