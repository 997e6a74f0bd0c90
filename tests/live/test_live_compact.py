"""Hourly compaction of raw/ws: a past hour's minute files become one, crash-safe."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest

from kalshi_lake.lake import Lake
from kalshi_lake.lake.lock import Lease
from kalshi_lake.live import FrameRecord, Journal
from kalshi_lake.live.compact import compact, hour_of

Frame = Callable[..., FrameRecord]
T0 = 1_796_558_400.0  # 2026-12-06T12:00:00Z
DAY = dt.date(2026, 12, 6)


def _record(tmp_path: Path, lake: Lake, frame: Frame, minutes: int, per_minute: int = 3) -> int:
    """Frames of chicago over ``minutes`` minutes from T0 in minute segments, rolled as they
    close (as ``follow`` does); returns the number of frames."""
    now = [T0]
    n = 0
    with Journal(tmp_path / "j", segment_s=60, clock=lambda: now[0]) as j:
        for m in range(minutes):
            now[0] = T0 + m * 60 + 1
            for _ in range(per_minute):
                j.append(frame(n, city="chicago", date=DAY, recv_us=int(now[0] * 1e6) + n))
                n += 1
            j.sync()
            j.roll(lake)
        now[0] = T0 + minutes * 60 + 1
        j.roll(lake, older_than_s=0)
    return n


def _folder(lake: Lake) -> str:
    return f"raw/ws/city=chicago/date={DAY.isoformat()}"


def _frames(lake: Lake) -> pl.DataFrame:
    files = lake.ls_files(_folder(lake))
    frames = [pl.from_arrow(lake.read_table(f)) for f in files]
    return pl.concat([f for f in frames if isinstance(f, pl.DataFrame)])


def test_past_hours_become_one_file_each_with_every_frame_once(
    tmp_path: Path, frame: Frame
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    n = _record(tmp_path, lake, frame, minutes=150)  # 12:00 .. 14:30
    names = [f.rsplit("/", 1)[1] for f in lake.ls_files(_folder(lake))]
    assert len(names) == 150 and {hour_of(x) for x in names} == {
        "20261206T12", "20261206T13", "20261206T14"
    }  # fmt: skip
    before = _frames(lake)
    result = compact(lake, now=T0 + 150 * 60 + 60)  # 14:31: hour 14 is not over
    assert (result.hours, result.files_in, result.files_out) == (2, 120, 2)
    names = [f.rsplit("/", 1)[1] for f in lake.ls_files(_folder(lake))]
    assert len(names) == 2 + 30
    after = _frames(lake)
    assert after.height == n and after.select("conn_id", "frame_no").is_unique().all()
    # the same frames in the same order, byte for byte
    assert after.sort("recv_at").equals(before.sort("recv_at"))
    assert after.head(120)["frame_no"].to_list() == list(range(120 * 3))[:120]
    # repeated: nothing to do
    again = compact(lake, now=T0 + 150 * 60 + 60)
    assert again.hours == 0
    # the last hour once it is over (and the grace after it)
    assert compact(lake, now=T0 + 3 * 3600 + 100).hours == 0
    assert compact(lake, now=T0 + 3 * 3600 + 400).hours == 1
    assert len(lake.ls_files(_folder(lake))) == 3
    assert _frames(lake).height == n


@pytest.mark.parametrize("deleted", [0, 30])
def test_a_crash_between_publish_and_delete_duplicates_nothing(
    tmp_path: Path, frame: Frame, monkeypatch: pytest.MonkeyPatch, deleted: int
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    n = _record(tmp_path, lake, frame, minutes=60)
    real = Lake.delete

    def crash(self: Lake, paths: list[str]) -> None:
        real(self, paths[:deleted])
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(Lake, "delete", crash)
    with pytest.raises(KeyboardInterrupt):
        compact(lake, now=T0 + 7200)
    monkeypatch.setattr(Lake, "delete", real)
    files = lake.ls_files(_folder(lake))
    assert len(files) == 60 - deleted + 1  # the merged file beside the inputs left
    frames = _frames(lake)
    assert frames.height == 2 * n - deleted * 3  # duplicates on disk...
    assert frames.select("conn_id", "frame_no").n_unique() == n  # ...one identity each
    result = compact(lake, now=T0 + 7200)  # the next compaction finishes the job
    assert result.hours == 1 and result.duplicates == n - deleted * 3
    [only] = lake.ls_files(_folder(lake))
    assert _frames(lake).height == n
    assert "-hour-" in only


def test_a_city_being_transformed_is_left_for_the_next_compaction(
    tmp_path: Path, frame: Frame
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    _record(tmp_path, lake, frame, minutes=60)
    with Lease(lake, "transform/chicago", purpose="transform"):
        result = compact(lake, now=T0 + 7200)
    assert result.locked == ["chicago"] and result.hours == 0
    assert len(lake.ls_files(_folder(lake))) == 60  # the transform's inputs are all there
    assert compact(lake, now=T0 + 7200).hours == 1


def test_a_merged_hour_keeps_a_row_group_per_message_type(tmp_path: Path, frame: Frame) -> None:
    import dataclasses

    import pyarrow.parquet as pq

    types = ("trade", "orderbook_delta", "market_lifecycle_v2")
    lake = Lake(str(tmp_path / "lake"))
    now = [T0]
    with Journal(tmp_path / "j", segment_s=60, clock=lambda: now[0]) as j:
        for n in range(60 * 4):
            now[0] = T0 + (n // 4) * 60 + 1
            rec = frame(n, city="chicago", date=DAY, recv_us=int(now[0] * 1e6) + n)
            j.append(dataclasses.replace(rec, msg_type=types[n % 3]))
            if n % 4 == 3:
                j.sync()
                j.roll(lake)
        j.roll(lake, older_than_s=0)
    assert compact(lake, now=T0 + 3600 + 400).hours == 1
    (path,) = lake.ls_files(_folder(lake))
    meta = pq.ParquetFile(path).metadata  # a local lake: fsspec paths are file paths
    col = meta.schema.names.index("msg_type")
    stats = [meta.row_group(g).column(col).statistics for g in range(meta.num_row_groups)]
    assert [(s.min, s.max) for s in stats] == [(t, t) for t in sorted(types)]
    got = _frames(lake)
    assert got.height == 240
    for kind in types:  # in the order the recorder saw them within a type
        nos = got.filter(pl.col("msg_type") == kind)["frame_no"].to_list()
        assert nos == [n for n in range(240) if types[n % 3] == kind]
