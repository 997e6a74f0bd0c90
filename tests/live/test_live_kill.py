"""kill -9: the journal loses at most the last durable_s, a restart replays the rest, and a roll
killed between writing raw files and retiring its segment writes nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from kalshi_lake.lake import Lake
from kalshi_lake.live import FrameRecord, Journal
from kalshi_lake.live.segments import list_segments

CHILD = Path(__file__).with_name("journal_child.py")
sys.path.insert(0, str(CHILD.parent))
from journal_child import frame as child_frame  # noqa: E402

#: The child's journal makes a record durable within this (the default).
DURABLE_S = 0.5

Frame = Callable[..., FrameRecord]


def _append_then_kill(folder: Path, conn_id: str, frames: int) -> tuple[dict[int, float], float]:
    """Run an appending child, SIGKILL it once it reported ``frames`` appends.

    Returns when the parent saw each frame_no reported (monotonic) and the kill's instant. A
    report comes after its append, so "seen before t" implies "appended before t".
    """
    proc = subprocess.Popen(
        [sys.executable, str(CHILD), "append", str(folder), conn_id],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: dict[int, float] = {}
    enough = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen[int(line)] = time.monotonic()
            if len(seen) >= frames:
                enough.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    if not enough.wait(120):
        proc.kill()
        raise AssertionError(f"child reported only {len(seen)} frames: {proc.stderr}")
    killed_at = time.monotonic()
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(30) == -signal.SIGKILL
    reader.join(10)
    return seen, killed_at


def _check_replay(
    replayed: list[FrameRecord], conn_id: str, seen: dict[int, float], kill: float
) -> None:
    nos = [r.frame_no for r in replayed if r.conn_id == conn_id]
    # a prefix of what was appended: in order, no holes, nothing invented
    assert nos == list(range(len(nos)))
    assert len(nos) <= max(seen) + 1
    old_enough = [n for n, t in seen.items() if t <= kill - DURABLE_S]
    assert old_enough, "the kill came too early to test anything"
    assert max(old_enough) < len(nos), (
        f"frame {max(old_enough)} was appended more than {DURABLE_S}s before the kill "
        f"but only {len(nos)} frames were replayed"
    )
    by_no = {r.frame_no: r for r in replayed if r.conn_id == conn_id}
    for n in nos:
        want = child_frame(conn_id, n)
        got = by_no[n]
        assert (got.body, got.city, got.market_ticker, got.direction) == (
            want.body,
            want.city,
            want.market_ticker,
            want.direction,
        )


def test_kill_9_loses_at_most_the_last_half_second_and_a_restart_never_duplicates(
    tmp_path: Path, lake_dir: Path
) -> None:
    folder = tmp_path / "journal"
    seen1, kill1 = _append_then_kill(folder, "run1-1", 600)
    with Journal(folder) as j:
        first = list(j.replay())
    _check_replay(first, "run1-1", seen1, kill1)
    # the recorder restarts, records more, and is killed again
    seen2, kill2 = _append_then_kill(folder, "run2-1", 300)
    lake = Lake(str(lake_dir))
    with Journal(folder) as j:
        second = list(j.replay())
        assert second[: len(first)] == first  # the first run's frames, once
        _check_replay(second, "run2-1", seen2, kill2)
        result = j.roll(lake, older_than_s=0)
        assert result.frames == len(second)
        assert list(j.replay()) == []
    # in the lake: every replayed frame exactly once (the frame identity is unique)
    rows = pa.concat_tables(lake.read_table(p) for p in lake.glob("raw/ws/*/*/*.parquet"))
    ids = list(zip(rows["conn_id"].to_pylist(), rows["frame_no"].to_pylist(), strict=True))
    assert len(ids) == len(set(ids)) == len(second)
    assert set(ids) == {(r.conn_id, r.frame_no) for r in second}


def test_kill_9_between_writing_raw_files_and_retiring_the_segment(
    tmp_path: Path, lake_dir: Path, frame: Frame
) -> None:
    folder = tmp_path / "journal"
    size = 2000  # a few segments of ~15 frames
    recs = [frame(i, city=("chicago", "nyc", None)[i % 3]) for i in range(60)]
    with Journal(folder, segment_bytes=size) as j:
        for r in recs:
            j.append(r)
            if r.frame_no % 10 == 9:
                j.sync()
    segments = list_segments(folder)
    assert len(segments) >= 3
    proc = subprocess.run(
        [sys.executable, str(CHILD), "roll-then-die", str(folder), str(lake_dir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    lake = Lake(str(lake_dir))
    # it died after the first segment's files were up and before that segment was deleted
    written = lake.glob("raw/ws/*/*/*.parquet")
    assert written and list_segments(folder) == segments
    with Journal(folder) as j:
        result = j.roll(lake, older_than_s=0)
    assert result.files_present == len(written)
    assert result.segments == len(segments) and list_segments(folder) == []
    rows = pa.concat_tables(lake.read_table(p) for p in lake.glob("raw/ws/*/*/*.parquet"))
    assert sorted(rows["frame_no"].to_pylist()) == list(range(60))
