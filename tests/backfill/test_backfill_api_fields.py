"""The API as of OpenAPI 3.34, end to end (simulator -> backfill -> transform): the settlement
bounds fields land in curated markets exactly as served, their absence is normal, a wrong type
is reported, and every request asks for English."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import polars as pl
from click.testing import CliRunner

from kalshi_lake.backfill import run_backfill
from kalshi_lake.cities import get_city
from kalshi_lake.cli import cli
from kalshi_lake.config import Settings
from kalshi_lake.sim import SimServer
from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED
from kalshi_lake.sim.transport import SimTransport
from kalshi_lake.transform import run_transform

CHICAGO = get_city("chicago")
# The day before and the first day of the simulator's 3.31+ market shape (sim.world
# BOUNDS_FIRST_DATE): older markets come without the settlement bounds, newer ones with them.
START, END = dt.date(2026, 9, 23), dt.date(2026, 9, 24)
ENGLISH = re.compile(r"^-?\d+° (or above|or below|to -?\d+°)$")


def _markets(lake_dir: Path) -> pl.DataFrame:
    files = sorted((lake_dir / "curated" / "markets").glob("city=*/month=*/*.parquet"))
    return pl.concat([pl.read_parquet(f) for f in files])


def test_settlement_bounds_land_exactly_as_served_and_absence_is_no_problem(
    sim: SimServer, lake_dir: Path, settings_for: Callable[..., Settings]
) -> None:
    settings = settings_for(sim)
    run_backfill(settings, CHICAGO, START, END)
    summary = run_transform(settings)
    assert summary.ok and not summary.problems
    mk = _markets(lake_dir)
    for row in mk.iter_rows(named=True):
        served = sim.world.market_payload(row["market_ticker"])
        floor = served.get("settlement_floor_dollars")
        assert row["settlement_bounds_type"] == served.get("settlement_bounds_type")
        assert row["settlement_floor"] == (None if floor is None else Decimal(floor))
        assert "liquidity_dollars" not in served or row["date"] < END
    assert set(mk["family"]) == {"high", "low"}  # the loop above checked both families
    ours = mk.filter(pl.col("date").is_between(START, END) & (pl.col("family") == "high"))
    assert ours.height == 12
    kinds = ours.group_by("date", "settlement_bounds_type").len().sort("date", "len").rows()
    # 09-23: all six without the fields (NULL); 09-24: floor and default markets.
    assert [(d, k) for d, k, _ in kinds] == [
        (START, None),
        (END, "floor"),
        (END, "default"),
    ], kinds
    floors = ours.filter(pl.col("settlement_bounds_type") == "floor")["settlement_floor"]
    assert floors.null_count() == 0
    # Every request the simulator saw asked for English.
    stats = sim.stats()
    assert stats["accept_language"] == {"en": stats["requests"]}


class _AddsSpanish(httpx.AsyncBaseTransport):
    """A proxy on the way that asks for Spanish when the request names no language."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        request.headers.setdefault("Accept-Language", "es-ES,es;q=0.9")
        return await self.inner.handle_async_request(request)


def test_english_is_pinned_even_when_a_proxy_would_ask_for_spanish(
    lake_dir: Path, settings_for: Callable[..., Settings]
) -> None:
    sim = SimTransport(seed=FIXTURE_SEED, now=FIXTURE_NOW)
    settings = settings_for(sim)
    run_backfill(settings, CHICAGO, END, END, transport=_AddsSpanish(sim))
    run_transform(settings)
    subtitles = _markets(lake_dir)["yes_sub_title"].to_list()
    assert len(subtitles) >= 6
    assert all(ENGLISH.match(s) for s in subtitles), subtitles
    stats = sim.stats()
    assert stats["accept_language"] == {"en": stats["requests"]}


def test_a_settlement_floor_of_the_wrong_type_is_reported_and_exits_3(
    sim_factory: Callable[..., Any], lake_dir: Path, settings_for: Callable[..., Settings]
) -> None:
    sim = sim_factory(payload_faults=("floor_number",))
    run_backfill(settings_for(sim), CHICAGO, END, END)
    result = CliRunner().invoke(cli, ["--lake", str(lake_dir), "transform"])
    assert result.exit_code == 3, result.output
    assert "a market's settlement_floor_dollars is 0." in result.output
    assert ", not a string" in result.output and "Traceback" not in result.output
