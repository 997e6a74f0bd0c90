"""A closed journal segment -> raw Parquet files in ``raw/ws``, written once whatever happens.

One file per (city, date) the segment holds, named after the segment
(:func:`~kalshi_lake.live.segments.raw_name`), through the lake's one write path
(:meth:`Lake.open_atomic`: a local rename, or one PUT on S3), so every file appears whole. The
names are what makes a roll idempotent: a file already present was written by an earlier roll
of the same segment that crashed before deleting it (a segment never changes once closed), so
it is skipped, and only the missing ones are written. No state record is needed.

The segment is streamed: records are decoded in order and buffered per partition, and a
partition's buffer goes out as one Parquet row group when it reaches :data:`ROW_GROUP_ROWS`
rows or :data:`ROW_GROUP_BYTES` of bodies, so memory is bounded by the partitions of one
segment times one row group, not by the segment's size.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from dataclasses import dataclass, field
from typing import IO

import pyarrow as pa
import pyarrow.parquet as pq

from kalshi_lake.lake.raw import (
    CONNECTION_CITY,
    FRAME_DICT_COLUMNS,
    FRAME_SCHEMA,
    frame_partition_dir,
)
from kalshi_lake.lake.storage import PARQUET_KW, Lake
from kalshi_lake.live.records import EPOCH, US_PER_DAY, Fields, decode_fields
from kalshi_lake.live.segments import ScanEnd, Segment, raw_name, scan

#: A partition's buffered rows go out as a row group at this many rows...
ROW_GROUP_ROWS = 65_536
#: ... or at this many bytes of frame bodies.
ROW_GROUP_BYTES = 16 * 1024 * 1024


@dataclass
class RollResult:
    """What one :meth:`~kalshi_lake.live.journal.Journal.roll` did."""

    segments: int = 0
    frames: int = 0
    files_written: int = 0
    files_present: int = 0  # already in the lake from a roll that crashed before retiring
    frames_present: int = 0  # the frames of those files, not written again
    torn_bytes: int = 0
    elapsed_s: float = 0.0
    files: list[str] = field(default_factory=list)  # lake-relative paths written


class _Partition:
    """One (city, date) of a segment: its buffered columns and its open file (if any)."""

    def __init__(self, rel: str, present: bool) -> None:
        self.rel = rel
        self.present = present
        self.buffered: list[Fields] = []
        self.body_bytes = 0
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0

    def add(self, f: Fields) -> bool:
        """Buffer one record; True when the buffer should go out as a row group."""
        self.buffered.append(f)
        self.rows += 1
        self.body_bytes += len(f[11])
        return len(self.buffered) >= ROW_GROUP_ROWS or self.body_bytes >= ROW_GROUP_BYTES

    def flush(self, lake: Lake, stack: contextlib.ExitStack) -> None:
        """Write the buffered rows as a row group (opening the file on first use)."""
        if not self.buffered:
            return
        if self.writer is None:
            sink: IO[bytes] = stack.enter_context(lake.open_atomic(self.rel))
            opts = {**PARQUET_KW, "use_dictionary": FRAME_DICT_COLUMNS}
            self.writer = pq.ParquetWriter(sink, FRAME_SCHEMA, **opts)
            # Closed before the atomic file is published (callbacks run last-in, first-out).
            stack.callback(self.writer.close)
        # Records are buffered as decoded (a tuple each) and turned into columns here, in C.
        # Times are integer microseconds and bodies UTF-8 bytes: one cast per row group (which
        # also checks the UTF-8), not a Python object per row.
        cols = list(zip(*self.buffered, strict=True))
        types = [f.type for f in FRAME_SCHEMA]
        arrays = [pa.array(cols[0], type=pa.int64()).cast(types[0])]
        arrays += [pa.array(c, type=t) for c, t in zip(cols[1:9], types[1:9], strict=True)]
        arrays.append(pa.array(cols[11], type=pa.large_binary()).cast(types[9]))
        self.writer.write_table(pa.Table.from_arrays(arrays, schema=FRAME_SCHEMA))
        self.buffered = []
        self.body_bytes = 0


def roll_segment(lake: Lake, seg: Segment, result: RollResult) -> None:
    """Write ``seg``'s records to ``lake`` (see module doc); adds to ``result``."""
    t0 = time.monotonic()
    name = raw_name(seg)
    parts: dict[tuple[str, str | int], _Partition] = {}
    end = ScanEnd()
    dates: dict[str | int, dt.date] = {}
    with contextlib.ExitStack() as stack:
        for payload in scan(seg.path, end):
            f = decode_fields(payload)
            # date: the climate date's text, else the UTC receive day (days since the epoch)
            key = (f[9] or CONNECTION_CITY, f[10] if f[10] is not None else f[0] // US_PER_DAY)
            part = parts.get(key)
            if part is None:
                day = key[1]
                if day not in dates:
                    dates[day] = (
                        dt.date.fromisoformat(day)
                        if isinstance(day, str)
                        else EPOCH + dt.timedelta(days=day)
                    )
                rel = f"{frame_partition_dir(key[0], dates[day])}/{name}"
                part = parts[key] = _Partition(rel, present=lake.exists(rel))
            if part.present:
                part.rows += 1
            elif part.add(f):
                part.flush(lake, stack)
        for part in parts.values():
            if not part.present:
                part.flush(lake, stack)
        # Leaving the stack closes every Parquet writer, then publishes every file.
    for part in parts.values():
        result.frames += part.rows
        if part.present:
            result.files_present += 1
            result.frames_present += part.rows
        else:
            result.files_written += 1
            result.files.append(part.rel)
    result.torn_bytes += end.torn
    result.elapsed_s += time.monotonic() - t0
