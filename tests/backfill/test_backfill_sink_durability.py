"""The page sink makes pages durable within about a second and at the end of every walk, with
no caller polling it and no page or byte threshold reached."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time

import pyarrow.parquet as pq
import pytest

from kalshi_lake.backfill.sink import PageSink
from kalshi_lake.config import Settings
from kalshi_lake.lake.raw import RawPage
from kalshi_lake.lake.state import StateStore
from kalshi_lake.lake.storage import Lake


@pytest.fixture
def memory_lake() -> Lake:
    return Lake(f"memory://sink-{secrets.token_hex(6)}")


def _page(n: int) -> RawPage:
    return RawPage(
        endpoint="trades",
        tier="live",
        city="chicago",
        date=dt.date(2026, 11, 1),
        request_path="/markets/trades",
        request_params={"ticker": "T", "limit": "1000"},
        body=f'{{"trades": [], "cursor": "c{n}"}}',
        fetched_at=dt.datetime(2026, 11, 21, tzinfo=dt.UTC),
        run_id="r1",
        page_number=n,
        market_ticker="T",
    )


def _durable_pages(lake: Lake) -> int:
    return sum(pq.read_table(lake.fs.open(f, "rb")).num_rows for f in lake.glob("raw/**/*.parquet"))


async def _wait_durable(lake: Lake, pages: int, timeout: float) -> float:
    """Seconds until ``pages`` pages are in the lake (raises after ``timeout``)."""
    t0 = time.monotonic()
    while _durable_pages(lake) < pages:
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"{pages} page(s) not durable after {timeout} s")
        await asyncio.sleep(0.02)
    return time.monotonic() - t0


def test_the_default_settings_flush_within_a_second() -> None:
    assert Settings().flush_seconds <= 1.0


def test_a_page_is_durable_within_a_second_without_a_threshold(memory_lake: Lake) -> None:
    store = StateStore(memory_lake, "s")

    async def go() -> float:
        # The run's defaults: far from the page and byte thresholds, and nobody calls tick().
        sink = PageSink(memory_lake, store, run_id="r1", flush_pages=Settings().flush_pages)
        await sink.add(_page(0), {"walk/T": {"cursor": "c0", "page": 1}})
        took = await _wait_durable(memory_lake, 1, timeout=3.0)
        await asyncio.sleep(0.1)  # the state commit follows the page file
        assert sink.stats.flushes == 1
        return took

    took = asyncio.run(go())
    assert took < 1.5
    assert StateStore(memory_lake, "s").load().get("walk/T") == {"cursor": "c0", "page": 1}


def test_progress_without_a_page_is_committed_within_a_second(memory_lake: Lake) -> None:
    store = StateStore(memory_lake, "s")

    async def go() -> None:
        sink = PageSink(memory_lake, store, run_id="r1")
        await sink.note({"trades/T": {"complete": True}})
        await asyncio.sleep(1.5)

    asyncio.run(go())
    assert StateStore(memory_lake, "s").load().get("trades/T") == {"complete": True}


def test_the_end_of_a_walk_is_written_promptly(memory_lake: Lake) -> None:
    store = StateStore(memory_lake, "s")

    async def go() -> float:
        # A minute-long timer: only the walk's end can explain a prompt write.
        sink = PageSink(memory_lake, store, run_id="r1", flush_pages=100, flush_seconds=60)
        await sink.add(_page(0), {"walk/T": {"cursor": "c0", "page": 1}})
        await asyncio.sleep(0.3)
        assert _durable_pages(memory_lake) == 0  # a walk in the middle waits for the timer
        await sink.add(_page(1), {"walk/T": {"page": 2, "done": True}}, walk_end=True)
        took = await _wait_durable(memory_lake, 2, timeout=3.0)
        await asyncio.sleep(0.1)
        return took

    took = asyncio.run(go())
    assert took < 0.5
    assert StateStore(memory_lake, "s").load().get("walk/T") == {"page": 2, "done": True}


def test_walk_ends_during_a_write_are_written_by_the_next_batch(memory_lake: Lake) -> None:
    store = StateStore(memory_lake, "s")
    writes: list[int] = []

    def slow_check() -> None:
        writes.append(0)
        if len(writes) == 1:
            time.sleep(0.3)  # the first batch is still being written when more walks end

    async def go() -> PageSink:
        sink = PageSink(memory_lake, store, run_id="r1", flush_pages=100, flush_seconds=60,
                        before_commit=slow_check)  # fmt: skip
        await sink.add(_page(0), walk_end=True)
        await asyncio.sleep(sink.walk_end_seconds + 0.1)  # its batch is being written
        for i in range(1, 4):
            await sink.add(_page(i), {f"walk/T{i}": {"done": True}}, walk_end=True)
        await _wait_durable(memory_lake, 4, timeout=3.0)
        await asyncio.sleep(0.1)
        return sink

    sink = asyncio.run(go())
    # Not a batch per walk end: the three that came during the first write share one.
    assert sink.stats.flushes == 2 and sink.stats.files == 2
    assert all(StateStore(memory_lake, "s").load().get(f"walk/T{i}") for i in range(1, 4))
