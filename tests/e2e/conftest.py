"""A small curated lake for the distributed-reader tests: 2 cities x 2 months, written by the
simulator's curated-lake generator (:mod:`kalshi_lake.sim.curated`)."""

from __future__ import annotations

import datetime as dt

import pytest

from kalshi_lake.cities import get_city
from kalshi_lake.lake import Lake
from kalshi_lake.sim.curated import build_synthetic_lake

#: Four event days across a month boundary, so every city has two month partitions.
START, DAYS = dt.date(2026, 9, 29), 4


@pytest.fixture(scope="module")
def curated_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """A local lake with curated markets, trades and candles_1m for chicago and miami over
    2026-09-29..10-02."""
    lake = Lake(str(tmp_path_factory.mktemp("curated") / "lake"))
    build_synthetic_lake(
        lake,
        cities=[get_city("chicago"), get_city("miami")],
        start=START,
        days=DAYS,
        trades_per_market=25,
        api_candles_per_market=30,
    )
    return lake
