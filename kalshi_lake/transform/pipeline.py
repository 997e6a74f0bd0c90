"""The transform's threads: parse, build and write run as a pipeline, three batches deep.

Every thread, priority and DuckDB-thread setting of the transform is here, with its reason.
The machine it was tuned on has two cores; DuckDB, polars and Arrow all release the GIL, so
the stages share the cores instead of taking turns:

- the **main thread** builds batch N with polars (:func:`run_batches`'s ``build``);
- one **parse thread** has DuckDB parse batch N+1's pages, DuckDB itself on one thread
  (:data:`PARSE_DUCKDB_THREADS`);
- :data:`WRITE_THREADS` **write threads** encode batch N-1's partitions at a lower priority
  (:data:`WRITER_NICE`).

The listing pre-pass (before the batches) keeps DuckDB's default of one thread per core.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from kalshi_lake.transform.rawdb import RawDB

#: Partition writes in flight at once. Parquet encoding is single-threaded per file, so two
#: writers keep a core busy between builds.
WRITE_THREADS = 2

#: Niceness added to the write threads (Linux applies it per thread).
WRITER_NICE = 5

#: DuckDB's threads while batches run: DuckDB parses on the parse thread alone; the build and
#: the writes keep the other core busy, and a second DuckDB worker only competed with them
#: (PERF: 9% less CPU, 5% faster end to end, 15% less memory).
PARSE_DUCKDB_THREADS = 1

B = TypeVar("B")  # a batch
P = TypeVar("P")  # a parsed batch
W = TypeVar("W")  # a built batch whose writes are in flight


def lower_priority() -> None:
    """Run the calling write thread at a lower CPU priority than the parse and build threads.

    Four threads share two cores, and the parse thread is the pipeline's critical path: the
    writes of a batch have until the next batch is built to finish. Left equal, the scheduler
    splits a core between a writer and the parse, and everything waits for the parse (PERF:
    with the writers at nice 5, 4% faster end to end and 3% less CPU, interleaved runs).
    Only the pool's own threads are reniced, and they end with the transform. The niceness is
    added to the thread's own, so a transform started under ``nice`` keeps the same order.
    """
    if sys.platform.startswith("linux"):
        tid = threading.get_native_id()
        with contextlib.suppress(OSError):
            os.setpriority(
                os.PRIO_PROCESS, tid, min(os.getpriority(os.PRIO_PROCESS, tid) + WRITER_NICE, 19)
            )


@contextlib.contextmanager
def write_pool() -> Iterator[ThreadPoolExecutor]:
    """The partition writers (waited for on exit)."""
    with ThreadPoolExecutor(
        max_workers=WRITE_THREADS, thread_name_prefix="transform-write", initializer=lower_priority
    ) as pool:
        yield pool


def run_batches(
    batches: Iterator[B],
    db: RawDB,
    parse: Callable[[B], P],
    build: Callable[[P], W],
    finish: Callable[[W], None],
) -> None:
    """``finish(build(parse(batch)))`` for every batch, pipelined.

    ``parse`` runs on the parse thread (the only user of ``db`` while batches run, so problems
    are reported in batch order), ``build`` on the calling thread while the next batch is
    parsed; it submits the batch's writes and returns without waiting for them. ``finish``
    waits for a batch's writes and records it, after the next batch was built.
    """
    db.set_threads(PARSE_DUCKDB_THREADS)
    # The parse pool is shut down (waiting for a parse in flight) before the caller closes
    # the connection, also when the build raises.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="transform-parse") as parser:
        ahead: Future[P] | None = None
        batch = next(batches, None)
        if batch is not None:
            ahead = parser.submit(parse, batch)
        pending: W | None = None
        while ahead is not None:
            parsed = ahead.result()
            batch = next(batches, None)
            ahead = parser.submit(parse, batch) if batch is not None else None
            submitted = build(parsed)
            del parsed
            if pending is not None:
                finish(pending)
            pending = submitted
        if pending is not None:
            finish(pending)
