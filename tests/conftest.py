"""Shared fixtures. Package-specific fixtures live in the test module folders' conftest files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from kalshi_lake.sim import SimConfig, SimServer
from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED

REPO = Path(__file__).resolve().parent.parent

#: The simulator fixtures' defaults: a fixed seed and clock, so every test sees the same data.
#: With this "now" the historical cutoff is 2026-09-22T00:00Z (60 days back).
SIM_SEED = FIXTURE_SEED
SIM_NOW = FIXTURE_NOW


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    """An empty local lake folder."""
    d = tmp_path / "lake"
    d.mkdir()
    return d


@pytest.fixture
def sim_factory() -> Iterator[Callable[..., SimServer]]:
    """Start simulators: ``sim_factory(seed=..., now=..., rate=..., fail_rate=...)``.

    Takes any :class:`~kalshi_lake.sim.SimConfig` field; ``seed`` defaults to ``SIM_SEED`` and
    ``now`` to ``SIM_NOW``. Every server started is stopped at teardown.
    """
    servers: list[SimServer] = []

    def make(**kwargs: Any) -> SimServer:
        kwargs.setdefault("seed", SIM_SEED)
        kwargs.setdefault("now", SIM_NOW)
        server = SimServer(SimConfig(**kwargs)).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def sim(sim_factory: Callable[..., SimServer]) -> SimServer:
    """A running simulator with the default config (seed ``SIM_SEED``, now ``SIM_NOW``)."""
    return sim_factory()
