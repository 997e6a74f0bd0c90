"""Fixtures of the reconciliation tests: a simulator lake (backfilled, transformed) built once,
and a fresh copy of it with the simulator's own daily reports stored, per test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from reports_fixture import (
    CITY,
    EVENTS_END,
    EVENTS_START,
    FETCHED_AT,
    REPORT_DAYS,
    ReconLake,
    publish_day,
)

from kalshi_lake.backfill import run_backfill
from kalshi_lake.cities import get_city
from kalshi_lake.config import Settings
from kalshi_lake.sim import SimConfig, SimServer, World
from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED
from kalshi_lake.transform import run_transform


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


@pytest.fixture
def recon_lake(base_lake: Path, sim_world: World, tmp_path: Path) -> ReconLake:
    """A fresh copy of the base lake, the simulator's reports of REPORT_DAYS stored in it."""
    lake = tmp_path / "lake"
    shutil.copytree(base_lake, lake)
    for day in REPORT_DAYS:
        publish_day(lake, sim_world, CITY, day, fetched_at=FETCHED_AT)
    return ReconLake(lake, sim_world)
