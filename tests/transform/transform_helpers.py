"""Builders for raw pages and readers of curated output, shared by the transform tests."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import polars as pl

from kalshi_lake.lake.raw import RawPage, write_pages
from kalshi_lake.lake.storage import Lake
from kalshi_lake.schemas import SORT_KEYS, TABLES
from kalshi_lake.sim.rawgen import SynthSpec

#: Real recorded API responses (see tests/data/README.md).
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "kalshi-samples"
UTC = dt.UTC
FETCHED = dt.datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

#: The generated raw layer shared by several tests: 2 cities, 6 event days across two months,
#: small pages, many re-fetched (overlapping) pages and some sub-cent prices.
SYNTH_SPEC = SynthSpec(
    seed=11,
    cities=("chicago", "nyc"),
    start=dt.date(2026, 9, 28),
    days=6,
    trades_per_market=120,
    page_size=50,
    dup_page_rate=0.2,
    subcent_rate=0.05,
)


def sample_body(name: str) -> str:
    """The response body of a real recorded sample (unwrapped from ``_metadata``)."""
    doc = json.loads((SAMPLES / name).read_text())
    return json.dumps(doc.get("response", doc))


def page(
    endpoint: str,
    body: str | dict[str, Any],
    *,
    city: str = "chicago",
    date: dt.date = dt.date(2026, 10, 5),
    fetched_at: dt.datetime = FETCHED,
    tier: str = "live",
    page_number: int = 0,
    params: dict[str, Any] | None = None,
    series_ticker: str | None = None,
    event_ticker: str | None = None,
    market_ticker: str | None = None,
    http_status: int = 200,
) -> RawPage:
    """A raw page record as the backfill writes it."""
    return RawPage(
        endpoint=endpoint,
        tier=tier,
        city=city,
        date=date,
        request_path=f"/{endpoint}",
        request_params=params or {},
        body=body if isinstance(body, str) else json.dumps(body),
        fetched_at=fetched_at,
        run_id="test",
        http_status=http_status,
        page_number=page_number,
        series_ticker=series_ticker,
        event_ticker=event_ticker,
        market_ticker=market_ticker,
    )


def trade(
    trade_id: str,
    ticker: str,
    created: str,
    yes: str = "0.5600",
    count: str = "10.00",
    side: str = "yes",
) -> dict[str, Any]:
    """A trade object in the current (fixed-point) shape."""
    no = f"{1 - float(yes):.4f}" if len(yes) <= 6 else None
    obj: dict[str, Any] = {
        "trade_id": trade_id,
        "ticker": ticker,
        "created_time": created,
        "count_fp": count,
        "yes_price_dollars": yes,
        "taker_outcome_side": side,
        "taker_book_side": "bid" if side == "yes" else "ask",
        "is_block_trade": False,
    }
    if no is not None:
        obj["no_price_dollars"] = no
    return obj


def trades_page(trades: Sequence[dict[str, Any]], **kw: Any) -> RawPage:
    """A ``trades`` page holding ``trades``."""
    kw.setdefault("params", {"ticker": trades[0]["ticker"]} if trades else {})
    return page("trades", {"cursor": "", "trades": list(trades)}, **kw)


def market(
    ticker: str,
    *,
    strike_type: str | None = "between",
    floor: float | None = 80,
    cap: float | None = 81,
    status: str = "finalized",
    result: str = "no",
    volume: str = "100.00",
    rules: str = "If the highest temperature recorded at Chicago Midway for Oct 5, 2026 as reported "
    "by the National Weather Service's Climatological Report (Daily), is between 80-81°, "
    "then the market resolves to Yes.",
) -> dict[str, Any]:
    """A market object in the current shape."""
    obj: dict[str, Any] = {
        "ticker": ticker,
        "event_ticker": ticker.rsplit("-", 1)[0],
        "yes_sub_title": "80° to 81°",
        "status": status,
        "result": result,
        "settlement_value_dollars": "1.0000" if result == "yes" else "0.0000",
        "expiration_value": "79.00",
        "open_time": "2026-10-04T14:00:00Z",
        "close_time": "2026-10-06T04:59:00Z",
        "settlement_ts": "2026-10-06T12:04:54.401029Z",
        "volume_fp": volume,
        "open_interest_fp": "40.00",
        "rules_primary": rules,
        "strike_type": strike_type,
    }
    if floor is not None:
        obj["floor_strike"] = floor
    if cap is not None:
        obj["cap_strike"] = cap
    return obj


def write(lake_dir: Path, pages: Iterable[RawPage]) -> list[str]:
    """Write pages into the raw layer (one file per partition, like a backfill flush)."""
    return write_pages(Lake(str(lake_dir)), list(pages))


def read_curated(lake_dir: Path, table: str) -> pl.DataFrame:
    """Every row of a curated table, partition by partition in path order, with the Hive keys.

    Rows keep their stored order inside each partition (that order is part of the contract).
    """
    files = sorted((lake_dir / "curated" / table).glob("city=*/month=*/*.parquet"))
    frames = []
    for f in files:
        df = pl.read_parquet(f)
        frames.append(
            df.with_columns(
                city=pl.lit(f.parent.parent.name.split("=", 1)[1]),
                month=pl.lit(f.parent.name.split("=", 1)[1]),
            )
        )
    if not frames:
        schema = pl.from_arrow(TABLES[table].empty_table()).schema  # type: ignore[union-attr]
        return pl.DataFrame(schema={**schema, "city": pl.String, "month": pl.String})
    return pl.concat(frames)


def curated_snapshot(lake_dir: Path) -> dict[str, pl.DataFrame]:
    """Every curated table (for comparing whole builds)."""
    return {t: read_curated(lake_dir, t) for t in TABLES}


def curated_files(lake_dir: Path) -> list[str]:
    """Every file under curated/, relative (temp files included: there must be none)."""
    root = lake_dir / "curated"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def assert_same(a: dict[str, pl.DataFrame], b: dict[str, pl.DataFrame]) -> None:
    """Two snapshots hold the same rows in the same order."""
    assert a.keys() == b.keys()
    for t in a:
        assert a[t].columns == b[t].columns, t
        assert a[t].height == b[t].height, (t, a[t].height, b[t].height)
        assert a[t].equals(b[t]), t


def is_sorted(df: pl.DataFrame, table: str) -> bool:
    """Rows of every partition are in the table's sort key order."""
    keys = list(SORT_KEYS[table])
    for _, part in df.group_by("city", "month", maintain_order=True):
        if not part.select(keys).equals(part.select(keys).sort(keys)):
            return False
    return True
