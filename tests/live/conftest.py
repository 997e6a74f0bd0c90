"""Fixtures of the live recorder's tests: frames to journal."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from kalshi_lake.live.records import FrameRecord

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
