"""The state store and the page sink: progress is durable only after its pages, via fsspec."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
import time

import pyarrow.parquet as pq
import pytest

from kalshi_lake.backfill.sink import PageSink
from kalshi_lake.errors import LockedError
from kalshi_lake.lake.raw import RawPage
from kalshi_lake.lake.state import StateStore, new_run_id, read_run_records, write_run_record
from kalshi_lake.lake.storage import Lake


@pytest.fixture
def memory_lake() -> Lake:
    """A lake on fsspec's in-memory filesystem: nothing may assume a local path."""
    return Lake(f"memory://state-{secrets.token_hex(6)}")


def _page(n: int, date: dt.date = dt.date(2026, 11, 1), endpoint: str = "trades") -> RawPage:
    return RawPage(
        endpoint=endpoint,
        tier="live",
        city="chicago",
        date=date,
        request_path="/markets/trades",
        request_params={"ticker": "T", "limit": "1000"},
        body=f'{{"trades": [], "cursor": "c{n}"}}',
        fetched_at=dt.datetime(2026, 11, 21, tzinfo=dt.UTC),
        run_id="r1",
        page_number=n,
        market_ticker="T",
    )


def test_store_folds_segments_last_write_wins(memory_lake: Lake) -> None:
    store = StateStore(memory_lake, "backfill/city=chicago")
    store.commit({"a": {"v": 1}, "b": {"v": 1}})
    store.commit({"a": {"v": 2}, "b": None, "c": {"v": 3}})
    again = StateStore(memory_lake, "backfill/city=chicago").load()
    assert again.get("a") == {"v": 2} and again.get("b") is None and again.get("c") == {"v": 3}
    assert [k for k, _ in again.items()] == ["a", "c"]


def test_compaction_keeps_the_same_map(memory_lake: Lake) -> None:
    store = StateStore(memory_lake, "s")
    for i in range(40):
        store.commit({f"k{i % 7}": {"i": i}})
    before = dict(store.items())
    assert store.compact(min_segments=10)
    assert len(memory_lake.glob("_state/s/segments/*.json")) == 1
    assert dict(StateStore(memory_lake, "s").load().items()) == before


def test_unreadable_segment_claims_nothing(memory_lake: Lake) -> None:
    store = StateStore(memory_lake, "s")
    store.commit({"a": {"v": 1}})
    memory_lake.write_bytes(b"{not json", "_state/s/segments/99999999T000000000000Z-x.json")
    assert StateStore(memory_lake, "s").load().get("a") == {"v": 1}


def test_sink_writes_pages_before_the_progress_that_claims_them(memory_lake: Lake) -> None:
    store = StateStore(memory_lake, "s")
    seen: list[tuple[int, int]] = []  # (pages in the lake, pages the commit claims)
    real_commit = store.commit

    def spy_commit(updates, **meta):  # type: ignore[no-untyped-def]
        files = memory_lake.glob("raw/trades/**/*.parquet")
        rows = sum(pq.read_table(memory_lake.fs.open(f, "rb")).num_rows for f in files)
        seen.append((rows, updates["walk/T"]["page"]))
        return real_commit(updates, **meta)

    store.commit = spy_commit  # type: ignore[method-assign]

    async def go() -> PageSink:
        sink = PageSink(memory_lake, store, run_id="r1", flush_pages=3, flush_seconds=60)
        for i in range(7):
            await sink.add(_page(i), {"walk/T": {"cursor": f"c{i}", "page": i + 1}})
            await asyncio.sleep(0.01)  # let a started flush run, as network waits do
        await sink.close()
        return sink

    sink = asyncio.run(go())
    assert all(rows >= claimed for rows, claimed in seen)
    assert seen[-1] == (7, 7)
    assert StateStore(memory_lake, "s").load().get("walk/T") == {"cursor": "c6", "page": 7}
    assert sink.stats.pages == 7


def test_sink_groups_pages_into_one_file_per_partition(memory_lake: Lake) -> None:
    store = StateStore(memory_lake, "s")

    async def go() -> None:
        sink = PageSink(memory_lake, store, run_id="r1", flush_pages=100, flush_seconds=60)
        for i in range(10):
            await sink.add(_page(i, dt.date(2026, 11, 1 + i % 2)))
        assert sink.pending == 10
        await sink.close()

    asyncio.run(go())
    files = memory_lake.glob("raw/trades/city=chicago/date=*/*.parquet")
    assert len(files) == 2
    assert all(not f.endswith(".tmp") for f in files)


def test_unflushed_pages_are_never_claimed(memory_lake: Lake) -> None:
    store = StateStore(memory_lake, "s")

    async def go() -> None:
        sink = PageSink(memory_lake, store, run_id="r1", flush_pages=100, flush_seconds=60)
        await sink.add(_page(0), {"walk/T": {"cursor": "c0", "page": 1}})
        # The process "dies" here: nothing flushed, nothing claimed.

    asyncio.run(go())
    assert memory_lake.glob("raw/**/*.parquet") == []
    assert StateStore(memory_lake, "s").load().get("walk/T") is None


def test_a_cancelled_flush_is_not_the_sinks_failure_but_a_failed_check_is(
    memory_lake: Lake,
) -> None:
    store = StateStore(memory_lake, "s")
    checks: list[float] = []

    def slow_check() -> None:
        checks.append(0.0)
        if len(checks) == 1:
            time.sleep(0.2)  # the first write is still running when its caller is cancelled
        if len(checks) >= 5:  # the third flush
            raise LockedError("lease 'x' was lost")

    async def go() -> None:
        sink = PageSink(memory_lake, store, run_id="r1", flush_pages=100, flush_seconds=60,
                        before_commit=slow_check)  # fmt: skip
        await sink.add(_page(0), {"walk/T": {"page": 1}})
        flush = asyncio.create_task(sink.flush())
        await asyncio.sleep(0.05)
        flush.cancel()
        with pytest.raises(asyncio.CancelledError):
            await flush
        # Another walk goes on: the sink did not fail.
        await sink.add(_page(1), {"walk/T": {"page": 2}})
        await asyncio.sleep(0.3)
        await sink.flush()
        # A failed check (a lost lease) is the sink's failure: every later call raises it.
        await sink.add(_page(2), {"walk/T": {"page": 3}})
        with pytest.raises(LockedError):
            await sink.flush()
        with pytest.raises(LockedError):
            await sink.add(_page(3))
        with pytest.raises(LockedError):
            await sink.close()

    asyncio.run(go())
    assert StateStore(memory_lake, "s").load().get("walk/T") == {"page": 2}
    assert len(memory_lake.glob("raw/trades/city=chicago/date=*/*.parquet")) == 2


def test_run_records_round_trip(memory_lake: Lake) -> None:
    rid = new_run_id()
    write_run_record(memory_lake, rid, {"run_id": rid, "status": "running"})
    write_run_record(memory_lake, rid, {"run_id": rid, "status": "ok"})
    assert read_run_records(memory_lake) == [{"run_id": rid, "status": "ok"}]
