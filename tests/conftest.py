"""Shared fixtures. Package-specific fixtures live in the test module folders' conftest files."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fsspec.config
import pytest

from kalshi_lake.sim import SimConfig, SimServer
from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED

REPO = Path(__file__).resolve().parent.parent

#: The simulator fixtures' defaults: a fixed seed and clock, so every test sees the same data.
#: With this "now" the historical cutoff is 2026-09-22T00:00Z (60 days back).
SIM_SEED = FIXTURE_SEED
SIM_NOW = FIXTURE_NOW


#: The developer's variables that change what the code under test does: the project's own
#: settings (``KALSHI_LAKE``, ``KALSHI_RATE``, ``KALSHI_QUERIES_DIR``...), AWS credentials,
#: profiles, regions and endpoints, fsspec's per-protocol defaults, HTTP proxies (httpx would
#: send the simulator's loopback traffic through them) and rich's terminal width and colour.
DEVELOPER_ENV_PREFIXES = ("KALSHI_", "AWS_", "FSSPEC_")
DEVELOPER_ENV_NAMES = frozenset(
    {"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "COLUMNS", "LINES", "FORCE_COLOR",
     "NO_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"}
)  # fmt: skip
#: What every test sees instead: no AWS config or credentials file (not even ``~/.aws``) and
#: no instance-metadata lookup. Fixtures that need S3 (tests/s3/conftest.py) set their own.
PINNED_ENV = {
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def is_developer_variable(name: str) -> bool:
    """True for an environment variable that tests must not inherit from the shell."""
    upper = name.upper()
    return upper.startswith(DEVELOPER_ENV_PREFIXES) or upper in DEVELOPER_ENV_NAMES


def _clean_environ(mp: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if is_developer_variable(n)]:
        mp.delenv(name)
    for name, value in PINNED_ENV.items():
        mp.setenv(name, value)


@pytest.fixture(scope="session", autouse=True)
def _clean_session_environ() -> Iterator[None]:
    """Session and module fixtures (moto, fixture lakes) start from a clean environment too."""
    with pytest.MonkeyPatch.context() as mp:
        _clean_environ(mp)
        # fsspec read FSSPEC_* variables and ~/.config/fsspec into its defaults at import.
        mp.setattr(fsspec.config, "conf", {})
        yield


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts without the developer's ``KALSHI_*``/``AWS_*`` (etc.) variables.

    Autouse fixtures run before the others of their scope, so a fixture or test that needs a
    variable (``aws_env``, ``monkeypatch.setenv``) sets it afterwards; subprocesses inherit
    the cleaned ``os.environ``. Undone after the test, like any ``monkeypatch`` change.
    """
    _clean_environ(monkeypatch)


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
