"""A closed journal segment -> raw Parquet files in ``raw/ws``, written once whatever happens.

One file per (city, date) the segment holds, named after the segment
(:func:`~kalshi_lake.live.segments.raw_name`), through the lake's one write path
(:meth:`Lake.open_atomic`: a local rename, or one PUT on S3), so every file appears whole. The
names are what makes a roll idempotent: a file already present was written by an earlier roll
of the same segment that crashed before deleting it (a segment never changes once closed), so
it is skipped, and only the missing ones are written. No state record is needed.

The segment is streamed a chunk at a time (:func:`~kalshi_lake.live.segments.chunks`), decoded
into columns (:func:`~kalshi_lake.live.records.decode_chunk`) and split by partition; a
partition's rows go out when they reach :data:`ROW_GROUP_ROWS` rows or :data:`ROW_GROUP_BYTES`
of bodies, so memory is bounded by a chunk plus the partitions of one segment times one row
group, not by the segment's size.

Rows go out **a row group per message type** (:func:`write_by_type`; in receive order within a
type): a reader that wants some types (the transform reads trade and lifecycle frames, a few
percent of a firehose) names them in its scan's filter, and the row groups' ``msg_type``
statistics let the Parquet reader skip every other row group, bodies and all.
PERF (a day of one city's firehose, 1,000,000 frames, a fifth of them trade and lifecycle
frames): reading those frames' bodies took DuckDB 1.1 s over hourly files of mixed row groups,
0.08 s like this; the files are a fifth smaller (frames of one type compress better together).
The transform's whole read of that day: ``python -m kalshi_lake.bench --only wsscan``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from dataclasses import dataclass, field
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kalshi_lake.lake.raw import FRAME_DICT_COLUMNS, FRAME_SCHEMA, frame_partition_dir
from kalshi_lake.lake.storage import PARQUET_KW, Lake
from kalshi_lake.live.records import decode_chunk
from kalshi_lake.live.segments import ScanEnd, Segment, chunks, raw_name

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
    """One (city, date) of a segment: its buffered rows and its open file (if any)."""

    def __init__(self, rel: str, present: bool) -> None:
        self.rel = rel
        self.present = present
        self.buffered: list[pa.Table] = []
        self.buffered_rows = 0
        self.body_bytes = 0
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0

    def add(self, rows: pa.Table) -> bool:
        """Buffer some rows; True when the buffer should go out as a row group."""
        self.rows += rows.num_rows
        if self.present:
            return False
        self.buffered.append(rows)
        self.buffered_rows += rows.num_rows
        self.body_bytes += rows.column("body").nbytes
        return self.buffered_rows >= ROW_GROUP_ROWS or self.body_bytes >= ROW_GROUP_BYTES

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
        write_by_type(self.writer, pa.concat_tables(self.buffered))
        self.buffered, self.buffered_rows, self.body_bytes = [], 0, 0


def write_by_type(writer: pq.ParquetWriter, table: pa.Table) -> None:
    """Write ``table`` (FRAME_SCHEMA) as row groups of one ``msg_type`` each (null last), in
    order of type, each at most :data:`ROW_GROUP_ROWS` rows, rows in their order within a type."""
    types = table.column("msg_type")
    for kind in sorted(pc.unique(types).to_pylist(), key=lambda t: (t is None, t or "")):
        mask = pc.is_null(types) if kind is None else pc.equal(types, kind)
        part = table.filter(mask).combine_chunks()
        writer.write_table(part, row_group_size=ROW_GROUP_ROWS)


def roll_segment(lake: Lake, seg: Segment, result: RollResult) -> None:
    """Write ``seg``'s records to ``lake`` (see module doc); adds to ``result``."""
    t0 = time.monotonic()
    name = raw_name(seg)
    parts: dict[str, _Partition] = {}
    end = ScanEnd()
    with contextlib.ExitStack() as stack:
        for chunk in chunks(seg.path, end):
            decoded = decode_chunk(chunk.buf, chunk.starts, chunk.lengths)
            keys = pc.binary_join_element_wise(decoded.city, decoded.date, "/")
            uniq = pc.unique(keys).to_pylist()
            for key in uniq:
                part = parts.get(key)
                if part is None:
                    city, date = key.split("/")
                    rel = f"{frame_partition_dir(city, dt.date.fromisoformat(date))}/{name}"
                    part = parts[key] = _Partition(rel, present=lake.exists(rel))
                rows = (
                    decoded.table if len(uniq) == 1 else decoded.table.filter(pc.equal(keys, key))
                )
                if part.add(rows):
                    part.flush(lake, stack)
        for part in parts.values():
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
