"""Fixtures for the simulator's own tests (the ``sim`` / ``sim_factory`` fixtures are global)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest

from kalshi_lake.sim import SimServer, World
from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED


@pytest.fixture(scope="module")
def world() -> World:
    """The default simulator's world, without a server."""
    return World(FIXTURE_SEED, FIXTURE_NOW, 60)


@pytest.fixture
def client(sim: SimServer) -> Iterator[httpx.Client]:
    """An httpx client pointed at the default simulator."""
    with httpx.Client(base_url=sim.base_url, timeout=60) as c:
        yield c


def ts(d: dt.datetime) -> int:
    """Unix seconds."""
    return int(d.timestamp())
