"""Fixtures of the reconciliation tests: a simulator lake (backfilled, transformed) built once,
and a fresh copy of it with the simulator's own daily reports stored, per test."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from reports_fixture import publish_day

from kalshi_lake.backfill import run_backfill
from kalshi_lake.cities import get_city
from kalshi_lake.config import Settings
from kalshi_lake.sim import SimConfig, SimServer, World
from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED
from kalshi_lake.transform import run_transform

CITY = "chicago"
#: Event dates backfilled (highs and lows). A New York report day d holds trades of the events
#: of d and d + 1, so report days EVENTS_START..EVENTS_END - 1 are fully inside the lake.
EVENTS_START, EVENTS_END = dt.date(2026, 11, 2), dt.date(2026, 11, 5)
REPORT_DAYS = [EVENTS_START + dt.timedelta(days=k) for k in range(3)]  # 11-02 .. 11-04
FETCHED_AT = dt.datetime(2026, 11, 21, 16, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="session")
def sim_world() -> World:
    """The simulator's world at the fixture clock (what the backfill saw)."""
    return World(FIXTURE_SEED, FIXTURE_NOW)


@pytest.fixture(scope="session")
def base_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A lake backfilled from the simulator and transformed: chicago, 4 event days."""
    lake = tmp_path_factory.mktemp("recon") / "lake"
    lake.mkdir()
    server = SimServer(SimConfig(seed=FIXTURE_SEED, now=FIXTURE_NOW)).start()
    try:
        settings = Settings(
            lake=str(lake),
            api_url=server.base_url,
            rate=2000.0,
            concurrency=8,
            backoff_base_s=0.005,
            backoff_max_s=0.05,
            progress=False,
            flush_seconds=0.5,
        )
        run_backfill(settings, get_city(CITY), EVENTS_START, EVENTS_END)
        run_transform(settings, city=get_city(CITY))
    finally:
        server.stop()
    yield lake


@dataclass
class ReconLake:
    """A copy of the simulator lake with its own reports stored for REPORT_DAYS."""

    path: Path
    world: World


@pytest.fixture
def recon_lake(base_lake: Path, sim_world: World, tmp_path: Path) -> ReconLake:
    """A fresh copy of the base lake, the simulator's reports of REPORT_DAYS stored in it."""
    lake = tmp_path / "lake"
    shutil.copytree(base_lake, lake)
    for day in REPORT_DAYS:
        publish_day(lake, sim_world, CITY, day, fetched_at=FETCHED_AT)
    return ReconLake(lake, sim_world)
