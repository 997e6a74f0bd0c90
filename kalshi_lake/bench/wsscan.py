"""The transform's read of ``raw/ws``: a day of one city's recorded firehose, scanned for the
trade and lifecycle frames the curated tables need.

The day is recorded the real way: frames (the recorder bench's mix: 60% order book deltas, 15%
trades, 20% tickers, 5% lifecycle) journaled in hour segments and rolled into ``raw/ws`` by
:meth:`~kalshi_lake.live.journal.Journal.roll`, so the files are laid out as ``follow`` lays them
out (a row group per message type, :func:`~kalshi_lake.live.roll.write_by_type`). The transform's
own reader, :func:`~kalshi_lake.transform.ws_frames.parse_ws`, then reads them (one DuckDB
thread, best of three). For comparison the same frames are written again in receive order, row
groups of mixed types (how raw/ws was laid out before), and read the same way.

Figures: ``ws_scan_s`` (the day read, per the layout ``follow`` writes), with
``mixed_row_groups_s`` (the same frames in mixed row groups), the frames of the day, the rows
the transform keeps, and the bytes of each layout.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from kalshi_lake.api.wsproto import parse_head
from kalshi_lake.bench import figure
from kalshi_lake.bench.recorder import firehose_cycle
from kalshi_lake.lake.raw import FRAME_DICT_COLUMNS, FRAME_SCHEMA
from kalshi_lake.lake.storage import Lake
from kalshi_lake.live import FrameRecord, Journal
from kalshi_lake.live.roll import ROW_GROUP_ROWS
from kalshi_lake.transform.plan import RawFile
from kalshi_lake.transform.rawdb import RawDB
from kalshi_lake.transform.ws_frames import WS_ENDPOINT, parse_ws

DAY = dt.date(2026, 12, 6)
#: 2026-12-06T00:00:00Z, epoch seconds.
T0 = 1_796_515_200


def _record_day(lake: Lake, journal: Path, frames: int) -> None:
    """``frames`` frames of chicago spread over one day, journaled and rolled an hour at a time."""
    cycle = firehose_cycle()
    now = [float(T0)]
    seqs: dict[int, int] = {}
    step_us = 86_400_000_000 // frames
    with Journal(journal, segment_s=3600.0, clock=lambda: now[0]) as j:
        for i in range(frames):
            recv_us = T0 * 1_000_000 + i * step_us
            if recv_us // 3_600_000_000 != int(now[0]) // 3600:
                j.sync()  # the hour's frames are in its segment before the clock moves on
            now[0] = recv_us / 1e6
            sid, head_text, tail = cycle[i % len(cycle)]
            if sid is None:
                body = head_text
            else:
                seqs[sid] = seqs.get(sid, 0) + 1
                body = f"{head_text}{seqs[sid]}{tail}"
            head = parse_head(body)
            j.append(
                FrameRecord(
                    recv_us=recv_us,
                    conn_id="bench.1",
                    frame_no=i + 1,
                    direction="in",
                    channel=head.channel,
                    msg_type=head.type,
                    sid=head.sid,
                    seq=head.seq,
                    market_ticker=head.market_ticker,
                    city="chicago",
                    date=DAY,
                    body=body,
                )
            )
        j.sync()
        j.roll(lake, older_than_s=0)


def _mixed_copy(src: Lake, dst: Lake) -> None:
    """Every raw/ws file of ``src`` again in ``dst``, in receive order, row groups of mixed types."""
    for path in src.glob("raw/ws/*/*/*.parquet"):
        table = src.read_table(path).cast(FRAME_SCHEMA).sort_by("frame_no")
        dst.write_table(
            table, src.rel(path), use_dictionary=FRAME_DICT_COLUMNS, row_group_size=ROW_GROUP_ROWS
        )


def _scan(lake: Lake) -> tuple[float, int, int]:
    """(best seconds of three, rows kept, bytes): the transform's read of the day's raw/ws."""
    rels = sorted(lake.rel(p) for p in lake.glob("raw/ws/*/*/*.parquet"))
    files = [RawFile(r, WS_ENDPOINT, "chicago", DAY, os.path.getsize(lake.path(r))) for r in rels]
    fid = {r: i for i, r in enumerate(rels)}
    best, kept = float("inf"), 0
    for _ in range(3):
        db = RawDB(lake, fid, lambda p: None, memory_limit="2GB")
        try:
            db.set_threads(1)
            t0 = time.perf_counter()
            trades, lifecycle = parse_ws(db, files)
            best = min(best, time.perf_counter() - t0)
            kept = trades.height + lifecycle.height
        finally:
            db.close()
    return best, kept, sum(f.size for f in files)


def run(quick: bool = False) -> Iterator[dict[str, object]]:
    """The scan figures (``quick``: 100,000 frames instead of 1,000,000)."""
    yield from measure(100_000 if quick else 1_000_000)


def measure(frames: int) -> Iterator[dict[str, object]]:
    """The scan figures of a day of ``frames`` frames."""
    with tempfile.TemporaryDirectory(prefix="kalshi-bench-wsscan-") as tmp:
        root = Path(tmp)
        lake = Lake(str(root / "lake"))
        _record_day(lake, root / "journal", frames)
        mixed = Lake(str(root / "mixed"))
        _mixed_copy(lake, mixed)
        seconds, kept, size = _scan(lake)
        mixed_s, mixed_kept, mixed_size = _scan(mixed)
        paths = lake.glob("raw/ws/*/*/*.parquet")
        groups = sum(pq.ParquetFile(p).metadata.num_row_groups for p in paths)
    assert kept == mixed_kept, "both layouts hold the same frames"
    yield figure(
        "ws_scan_s",
        seconds,
        "s",
        mixed_row_groups_s=round(mixed_s, 4),
        frames=frames,
        rows_kept=kept,
        files=len(paths),
        row_groups=groups,
        mb=round(size / 2**20, 1),
        mixed_mb=round(mixed_size / 2**20, 1),
    )
