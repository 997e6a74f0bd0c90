"""Fixtures every test folder shares: a clean environment, simulators, S3 on loopback, and
decoders of the raw layer and of the simulator's truth. Fixtures of one package live in that
folder's conftest."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fsspec.config
import pyarrow.parquet as pq
import pytest

from kalshi_lake.cities import City, get_city
from kalshi_lake.lake import Lake
from kalshi_lake.sim import SimConfig, SimServer, World
from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED
from kalshi_lake.testing.local_s3 import LocalS3, local_s3

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
#: no instance-metadata lookup. Fixtures that need S3 (``aws_env``) set their own.
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


# --- S3 on loopback -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[LocalS3]:
    """moto's S3 server in a thread on 127.0.0.1 (a free port), for the whole session."""
    with local_s3() as server:
        yield server


@pytest.fixture
def aws_env(moto_s3: LocalS3, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> LocalS3:
    """The AWS variables of this test point at the moto server (and nowhere else)."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ENDPOINT_URL_S3",
        "AWS_REGION",
    ):
        monkeypatch.delenv(name, raising=False)
    # Never the ~/.aws of whoever runs the tests, never an instance metadata lookup.
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name, value in moto_s3.env().items():
        monkeypatch.setenv(name, value)
    return moto_s3


@pytest.fixture
def s3_url(aws_env: LocalS3) -> Callable[..., str]:
    """Factory: the URL of a fresh, empty lake (``s3://<new bucket>/<prefix>``)."""

    def make(prefix: str = "lake") -> str:
        return f"s3://{aws_env.create_bucket()}/{prefix}".rstrip("/")

    return make


@pytest.fixture
def s3_lake(s3_url: Callable[..., str]) -> Callable[[], Lake]:
    """Factory: a :class:`Lake` on a fresh bucket and prefix of the moto server."""

    def make() -> Lake:
        return Lake(s3_url())

    return make


# --- the raw layer and the simulator's truth -------------------------------------------------


@dataclass
class RawContents:
    """What the raw layer holds, decoded from the page bodies."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    trades: dict[str, str] = field(default_factory=dict)  # trade_id -> tier
    candles: set[tuple[str, int]] = field(default_factory=set)  # (ticker, end_period_ts)
    markets: set[str] = field(default_factory=set)
    files: list[Path] = field(default_factory=list)

    def pages(self, endpoint: str) -> list[dict[str, Any]]:
        """Rows of one endpoint."""
        return [r for r in self.rows if r["endpoint"] == endpoint]


def read_raw(lake: Path) -> RawContents:
    """Decode every raw page under ``lake`` (Hive keys taken from the path)."""
    out = RawContents()
    for f in sorted(lake.glob("raw/*/city=*/date=*/*.parquet")):
        out.files.append(f)
        city = f.parent.parent.name.split("=", 1)[1]
        date = f.parent.name.split("=", 1)[1]
        for r in pq.read_table(f).to_pylist():
            r["city"], r["date"] = city, date
            out.rows.append(r)
            d = json.loads(r["body"])
            ep = r["endpoint"]
            if ep == "trades":
                for t in d["trades"]:
                    out.trades[t["trade_id"]] = r["tier"]
            elif ep == "event_candlesticks":
                for tk, cs in zip(d["market_tickers"], d["market_candlesticks"], strict=True):
                    out.candles |= {(tk, c["end_period_ts"]) for c in cs}
            elif ep == "batch_candlesticks":
                for m in d["markets"]:
                    tk = m["market_ticker"]
                    out.candles |= {(tk, c["end_period_ts"]) for c in m["candlesticks"]}
            elif ep == "candlesticks":
                out.candles |= {(d["ticker"], c["end_period_ts"]) for c in d["candlesticks"]}
            elif ep == "markets":
                out.markets |= {m["ticker"] for m in d["markets"]}
    return out


@dataclass
class Truth:
    """What the simulator's world holds for a city and date range."""

    trades: set[str] = field(default_factory=set)
    candles: set[tuple[str, int]] = field(default_factory=set)
    markets: set[str] = field(default_factory=set)
    historical_markets: set[str] = field(default_factory=set)
    events: list[str] = field(default_factory=list)


def world_truth(
    world: World,
    city: City | str,
    start: dt.date,
    end: dt.date,
    families: Sequence[str] | None = None,
) -> Truth:
    """Every market, trade and 1-minute candle of ``city``'s events in ``start..end``, of every
    family the city has (a backfill's default) or of ``families``."""
    c = get_city(city) if isinstance(city, str) else city
    out = Truth()
    d = start
    chosen = list(families) if families is not None else list(c.families)
    while d <= end:
        for ev in (world.event(c, d, f) for f in chosen):
            if ev is None:
                continue
            out.events.append(ev.event_ticker)
            for m in ev.markets:
                out.markets.add(m.ticker)
                out.trades |= {t["trade_id"] for t in world.trades(m.ticker)}
                hist = world.is_historical(m.ticker)
                if hist:
                    out.historical_markets.add(m.ticker)
                cs = world.historical_candles(m.ticker) if hist else world.candles(m.ticker)
                out.candles |= {(m.ticker, c["end_period_ts"]) for c in cs}
        d += dt.timedelta(days=1)
    return out


@pytest.fixture
def raw_of() -> Callable[[Path], RawContents]:
    """``raw_of(lake_dir)`` decodes the raw layer."""
    return read_raw


@pytest.fixture
def truth_of() -> Callable[..., Truth]:
    """``truth_of(world, city, start, end)`` lists what the simulator holds."""
    return world_truth
