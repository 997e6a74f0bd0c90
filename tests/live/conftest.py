"""Fixtures of the live recorder's tests: frames to journal, and the one set-up of a ``follow``
against the simulator on loopback (an API key pair, the simulator, the follower's settings)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import follow_support
import pytest
from follow_support import (
    FaultyRecording,
    RestRecording,
    SimFollow,
    record_rest,
    record_with_faults,
)

from kalshi_lake.live.follow import FollowOptions
from kalshi_lake.live.records import FrameRecord
from kalshi_lake.testing.keys import write_key_pair

#: 2026-12-06T12:00:00Z in microseconds.
T0_US = 1_796_558_400_000_000


def make_frame(
    i: int,
    *,
    conn_id: str = "run1-1",
    city: str | None = "chicago",
    date: dt.date | None = dt.date(2026, 12, 6),
    recv_us: int | None = None,
    body: str | None = None,
) -> FrameRecord:
    """The i-th trade frame of a connection (city None: a command about no market)."""
    ticker = f"KXHIGH{(city or 'x').upper()}-26DEC06-B{40 + i % 6}.5" if city else None
    return FrameRecord(
        recv_us=T0_US + i * 1000 if recv_us is None else recv_us,
        conn_id=conn_id,
        frame_no=i,
        direction="in" if city else "out",
        channel="trade" if city else None,
        msg_type="trade" if city else None,
        sid=1 if city else None,
        seq=i if city else None,
        market_ticker=ticker,
        city=city,
        date=date if city else None,
        body=body if body is not None else f'{{"type":"trade","seq":{i},"n":"é\\u00e9{i}"}}',
    )


@pytest.fixture
def frame() -> Callable[..., FrameRecord]:
    """:func:`make_frame`."""
    return make_frame


@pytest.fixture(scope="session")
def sim_follow() -> SimFollow:
    """``with sim_follow(cfg, lake, key) as (sim, settings)``: see
    :func:`follow_support.sim_follow`."""
    return follow_support.sim_follow


@pytest.fixture(scope="session")
def ws_recording(tmp_path_factory: pytest.TempPathFactory) -> FaultyRecording:
    """The WebSocket recording with faults (:func:`follow_support.record_with_faults`), made
    once for every worker of the test session (:func:`follow_support.made_once`)."""
    return follow_support.made_once(tmp_path_factory, "ws-recording", record_with_faults)


@pytest.fixture(scope="session")
def rest_recording(tmp_path_factory: pytest.TempPathFactory) -> RestRecording:
    """The REST-polling recording (:func:`follow_support.record_rest`), made once for every
    worker of the test session."""
    return follow_support.made_once(tmp_path_factory, "rest-recording", record_rest)


@pytest.fixture
def key_files(tmp_path: Path) -> tuple[Path, str]:
    """An API key pair in ``tmp_path``: the private key file and the public key's PEM."""
    return write_key_pair(tmp_path)


@pytest.fixture
def fast_follow() -> FollowOptions:
    """``follow`` options for a 25-second run: every pass and roll within seconds."""
    return FollowOptions(
        duration_s=25,
        discover_every_s=2,
        catch_up_every_s=8,
        catch_up_after_gap_s=1,
        roll_every_s=3,
        heartbeat_every_s=1,
    )
