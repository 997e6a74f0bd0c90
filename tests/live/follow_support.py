"""The one set-up of a ``follow`` against the simulator on loopback, for the live tests (the
``sim_follow`` fixture of conftest.py; the type here annotates it), and the two recordings the
fidelity tests replay: over the WebSocket with faults (:func:`record_with_faults`) and by REST
polling (:func:`record_rest`). Each is made once per test session and shared by the test files
that read it, whichever xdist worker runs them (:func:`made_once`)."""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import pickle
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from kalshi_lake.cities import get_city
from kalshi_lake.config import Settings
from kalshi_lake.live.follow import FollowOptions, FollowSummary, run_follow
from kalshi_lake.sim import SimConfig, SimServer
from kalshi_lake.sim.config import FIXTURE_SEED
from kalshi_lake.testing.keys import write_key_pair

#: ``with sim_follow(cfg, lake, key) as (sim, settings)``: see :func:`sim_follow`.
SimFollow = Callable[..., AbstractContextManager[tuple[SimServer, Settings]]]


@contextmanager
def sim_follow(
    cfg: SimConfig, lake: Path, key: Path | None = None
) -> Iterator[tuple[SimServer, Settings]]:
    """The simulator serving ``cfg`` on loopback, and the settings of a ``follow`` of it into
    the folder ``lake``: signed with the private key file ``key`` (the WebSocket;
    ``cfg.ws_public_key`` must be its public half), or with no key (REST polling)."""
    with SimServer(cfg).start() as sim:
        flags: dict[str, object] = {"lake": str(lake), "api_url": sim.base_url, "progress": False}
        if key is not None:
            flags.update(api_key_id="key-1", private_key_path=str(key))
        yield sim, Settings.load(env={}, **flags)


def busy_now() -> dt.datetime:
    """15:00 UTC of the real clock's day: a simulated day started here trades at a mid-morning
    pace in every city (the simulator's volume follows the local hour), so a run's volume does
    not depend on when the tests run. Hand the simulator's clock to ``run_follow`` with it."""
    return dt.datetime.combine(dt.datetime.now(dt.UTC).date(), dt.time(15), dt.UTC)


def follow_two_cities(sim: SimServer, settings: Settings, options: FollowOptions) -> FollowSummary:
    """``follow`` chicago and nyc from ``sim``, judging open markets by the simulator's clock."""
    cities = [get_city("chicago"), get_city("nyc")]
    return run_follow(settings, cities, options=options, clock=sim.clock.now)


@dataclass(frozen=True)
class FaultyRecording:
    """What :func:`record_with_faults` leaves: the lake, the run's summary, the simulated
    instants the run started and ended at, and the simulator's WebSocket session counts."""

    lake: Path
    summary: FollowSummary
    start_us: int
    end_us: int
    sim_counts: dict[str, int]


#: The faulty recording's simulated seconds per real second and its run time (real seconds).
FAULTY_SPEED = 360
FAULTY_RUN_S = 40.0


def record_with_faults(tmp: Path) -> FaultyRecording:
    """``follow`` chicago and nyc over the WebSocket into ``tmp/lake`` for FAULTY_RUN_S at
    FAULTY_SPEED (hours of a simulated day), with a frame in a hundred lost and two scheduled
    disconnects: the recording the fidelity tests replay."""
    key, pub = write_key_pair(tmp)
    now = busy_now()
    cuts = (now + dt.timedelta(minutes=60), now + dt.timedelta(minutes=150))
    cfg = SimConfig(
        seed=FIXTURE_SEED,
        now=now,
        speed=FAULTY_SPEED,
        ws_public_key=pub,
        ws_drop_rate=0.01,
        ws_disconnect_at=cuts,
    )
    lake = tmp / "lake"
    options = FollowOptions(
        duration_s=FAULTY_RUN_S,
        discover_every_s=3,
        catch_up_every_s=5,
        catch_up_after_gap_s=1,
        roll_every_s=5,
        heartbeat_every_s=2,
    )
    with sim_follow(cfg, lake, key) as (sim, settings):
        start_us = sim.clock.now_us()
        summary = follow_two_cities(sim, settings, options)
        end_us = sim.clock.now_us()
        counts = sim.ws.session_counts()
    return FaultyRecording(lake, summary, start_us, end_us, counts)


@dataclass(frozen=True)
class RestRecording:
    """What :func:`record_rest` leaves: the lake, the run's summary, a wall-clock instant and
    the simulated instant at it (UTC us: the simulated clock runs at REST_SPEED from there),
    and the simulated instant the run ended at."""

    lake: Path
    summary: FollowSummary
    wall0_us: int
    sim0_us: int
    end_us: int

    def sim_at(self, wall_us: int) -> int:
        """The simulated instant of a wall-clock instant of the run."""
        return self.sim0_us + (wall_us - self.wall0_us) * REST_SPEED


#: The REST recording's simulated seconds per real second (two simulated hours) and run time.
REST_SPEED = 240
REST_RUN_S = 30.0


def record_rest(tmp: Path) -> RestRecording:
    """``follow`` chicago and nyc with no key (REST polling of trades and books, a book poll a
    second) into ``tmp/lake`` for REST_RUN_S at REST_SPEED."""
    cfg = SimConfig(seed=FIXTURE_SEED, now=busy_now(), speed=REST_SPEED)
    lake = tmp / "lake"
    options = FollowOptions(
        duration_s=REST_RUN_S,
        discover_every_s=5,
        catch_up_every_s=4,
        book_every_s=1,
        roll_every_s=5,
        heartbeat_every_s=2,
    )
    with sim_follow(cfg, lake) as (sim, settings):
        # the simulated instant of a wall-clock time (the sim's clock runs on the monotonic one)
        wall0, sim0 = time.time_ns() // 1000, sim.clock.now_us()
        summary = follow_two_cities(sim, settings, options)
        end_us = sim.clock.now_us()
    return RestRecording(lake, summary, wall0, sim0, end_us)


T = TypeVar("T")


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], T]) -> T:
    """``make(folder)``, run once for the whole test session: under xdist the first worker to
    ask makes it in the folder the workers share, and the others wait and read its result
    (:func:`made_once_in`). The tests that read it must leave what they do not own alone."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # each worker's basetemp is a folder of the session's
    return made_once_in(root, name, make)


def made_once_in(root: Path, name: str, make: Callable[[Path], T]) -> T:
    """``make(root / name)``, run once by all the processes that ask: the first to take the file
    lock ``root/<name>.lock`` makes it and pickles the result to ``root/<name>.pickle``; the
    others wait for the lock and read that. A ``make`` that fails (or whose process dies)
    leaves no result: the next to ask clears what it left in the folder and makes it again."""
    folder = root / name
    done = root / f"{name}.pickle"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if done.exists():
            made: T = pickle.loads(done.read_bytes())
            return made
        if folder.exists():
            shutil.rmtree(folder)  # a failed or killed make's leftovers
        folder.mkdir()
        made = make(folder)
        # written whole or not at all: a process killed while writing leaves no half a result
        part = root / f"{name}.pickle.part"
        part.write_bytes(pickle.dumps(made))
        os.replace(part, done)
        return made
