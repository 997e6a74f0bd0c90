"""Rolling the journal into raw/ws: layout, contents, never twice, bounded files per day, S3."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from kalshi_lake.errors import StorageError
from kalshi_lake.lake import Lake
from kalshi_lake.lake.raw import CONNECTION_CITY, FRAME_SCHEMA
from kalshi_lake.live import FrameRecord, Journal
from kalshi_lake.live import roll as roll_mod
from kalshi_lake.live.roll import RollResult, roll_segment
from kalshi_lake.live.segments import list_segments

Frame = Callable[..., FrameRecord]


def _frames_in(lake: Lake) -> pa.Table:
    paths = lake.glob("raw/ws/*/*/*.parquet")
    tables = []
    for p in paths:
        t = lake.read_table(p)
        city, date = lake.rel(p).split("/")[2:4]
        tables.append(
            t.append_column("city", pa.array([city[5:]] * t.num_rows)).append_column(
                "date", pa.array([date[5:]] * t.num_rows)
            )
        )
    return pa.concat_tables(tables) if tables else pa.table({})


def _mixed(frame: Frame, n: int) -> list[FrameRecord]:
    cities = ("chicago", "nyc", None)
    dates = (dt.date(2026, 12, 5), dt.date(2026, 12, 6))
    return [frame(i, city=cities[i % 3], date=dates[(i // 3) % 2]) for i in range(n)]


def test_roll_writes_one_file_per_city_and_date_with_every_frame(
    tmp_path: Path, lake_dir: Path, frame: Frame
) -> None:
    lake = Lake(str(lake_dir))
    recs = _mixed(frame, 600)
    with Journal(tmp_path / "j") as j:
        for r in recs:
            j.append(r)
        result = j.roll(lake, older_than_s=0)
        assert list(j.replay()) == []  # rolled: nothing left to replay
        assert list_segments(tmp_path / "j") == []  # and the segment is gone
    assert result.segments == 1 and result.frames == 600 and result.files_present == 0
    got = _frames_in(lake)
    parts = Counter(zip(got["city"].to_pylist(), got["date"].to_pylist(), strict=True))
    # connection frames: city=_connection, dated by their UTC receive date (2026-12-06)
    assert parts == {
        ("chicago", "2026-12-05"): 100,
        ("chicago", "2026-12-06"): 100,
        ("nyc", "2026-12-05"): 100,
        ("nyc", "2026-12-06"): 100,
        (CONNECTION_CITY, "2026-12-06"): 200,
    }
    assert result.files_written == len(lake.glob("raw/ws/*/*/*.parquet")) == 5
    assert lake.read_table(lake.glob("raw/ws/*/*/*.parquet")[0]).schema == FRAME_SCHEMA
    # every frame, byte for byte, with its provenance, in append order within a file
    by_no = {r["frame_no"]: r for r in got.to_pylist()}
    assert sorted(by_no) == list(range(600))
    for rec in recs:
        row = by_no[rec.frame_no]
        assert row["body"] == rec.body and row["conn_id"] == rec.conn_id
        assert row["recv_at"] == dt.datetime.fromtimestamp(0, dt.UTC) + dt.timedelta(
            microseconds=rec.recv_us
        )
        assert (row["direction"], row["channel"], row["msg_type"], row["sid"], row["seq"]) == (
            rec.direction,
            rec.channel,
            rec.msg_type,
            rec.sid,
            rec.seq,
        )
        assert row["market_ticker"] == rec.market_ticker
    for p in lake.glob("raw/ws/*/*/*.parquet"):
        nos = lake.read_table(p, columns=["frame_no"])["frame_no"].to_pylist()
        assert nos == sorted(nos)


def test_big_partitions_are_written_in_row_groups(
    tmp_path: Path, lake_dir: Path, frame: Frame, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(roll_mod, "ROW_GROUP_ROWS", 100)
    lake = Lake(str(lake_dir))
    with Journal(tmp_path / "j") as j:
        for i in range(1050):
            j.append(frame(i))
        j.roll(lake, older_than_s=0)
    (path,) = lake.glob("raw/ws/*/*/*.parquet")
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == 11 and meta.num_rows == 1050
    assert lake.read_table(path)["frame_no"].to_pylist() == list(range(1050))


def test_the_active_segment_is_rolled_only_when_its_period_is_over(
    tmp_path: Path, lake_dir: Path, frame: Frame
) -> None:
    lake = Lake(str(lake_dir))
    now = [3600.0 * 1000 + 10]
    with Journal(tmp_path / "j", clock=lambda: now[0]) as j:
        j.append(frame(1))
        j.sync()
        assert j.roll(lake).segments == 0  # the hour is not over
        assert j.roll(lake, older_than_s=60).segments == 0  # nor 60 s old
        now[0] += 3590
        assert j.roll(lake).segments == 1  # next hour: closed and rolled
        assert lake.glob("raw/ws/*/*/*.parquet")


def test_a_roll_repeated_after_a_crash_before_retiring_writes_nothing_twice(
    tmp_path: Path, lake_dir: Path, frame: Frame
) -> None:
    lake = Lake(str(lake_dir))
    recs = _mixed(frame, 300)
    with Journal(tmp_path / "j") as j:
        for r in recs:
            j.append(r)
    (seg,) = list_segments(tmp_path / "j")
    # The crashed roll: the segment's files written, the segment not deleted. Then one of them
    # is lost too (a crash between two files of the segment).
    first = RollResult()
    roll_segment(lake, seg, first)
    assert first.files_written == 5
    lost = lake.glob("raw/ws/city=nyc/*/*.parquet")[0]
    lake.delete([lost])
    with Journal(tmp_path / "j") as j:
        result = j.roll(lake, older_than_s=0)
    assert (result.files_written, result.files_present) == (1, 4)
    assert result.frames == 300 and result.frames_present == 250
    got = _frames_in(lake)
    assert got.num_rows == 300
    assert sorted(got["frame_no"].to_pylist()) == list(range(300))


def test_a_day_of_one_city_is_tens_of_files(tmp_path: Path, lake_dir: Path, frame: Frame) -> None:
    # A frame every simulated 20 s for 24 h in 3 cities, a roll every simulated 5 minutes (as
    # follow would): hourly segments give 24 files per city and day, not one per roll.
    lake = Lake(str(lake_dir))
    day0 = dt.datetime(2026, 12, 6, tzinfo=dt.UTC).timestamp()
    now = [day0]
    cities = ("chicago", "nyc", "miami")
    with Journal(tmp_path / "j", clock=lambda: now[0]) as j:
        for step in range(24 * 180):
            us = int(now[0] * 1e6)
            j.append(frame(step, city=cities[step % 3], recv_us=us))
            if step % 15 == 14:
                j.roll(lake)  # makes the appended frames durable first
            now[0] += 20
        j.roll(lake, older_than_s=0)
    files = Counter(lake.rel(p).split("/")[2] for p in lake.glob("raw/ws/*/*/*.parquet"))
    assert files == {"city=chicago": 24, "city=nyc": 24, "city=miami": 24}
    assert _frames_in(lake).num_rows == 24 * 180


@pytest.mark.s3
def test_roll_to_an_s3_lake(tmp_path: Path, s3_lake: Callable[[], Lake], frame: Frame) -> None:
    lake = s3_lake()
    recs = _mixed(frame, 120)
    with Journal(tmp_path / "j") as j:  # the journal stays on local disk
        for r in recs:
            j.append(r)
        j.sync()
        (seg,) = j.segments()
    # a crashed roll first (files up, segment kept), then the real one: still one copy
    roll_segment(lake, seg, RollResult())
    with Journal(tmp_path / "j") as j:
        result = j.roll(lake, older_than_s=0)
    assert (result.files_written, result.files_present) == (0, 5)
    got = _frames_in(lake)
    assert sorted(got["frame_no"].to_pylist()) == list(range(120))
    assert sorted(got["body"].to_pylist()) == sorted(r.body for r in recs)
    assert list_segments(tmp_path / "j") == []


def test_a_lake_that_cannot_be_written_keeps_the_segments(
    tmp_path: Path, lake_dir: Path, frame: Frame
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    bad = Lake(str(tmp_path / "a-file" / "lake"))
    with Journal(tmp_path / "j") as j:
        for i in range(30):
            j.append(frame(i))
        with pytest.raises(StorageError, match="could not roll the journal"):
            j.roll(bad, older_than_s=0)
        assert len(j.segments()) == 1 and [r.frame_no for r in j.replay()] == list(range(30))
        assert j.roll(Lake(str(lake_dir))).frames == 30


def _types_of_row_groups(path: str) -> list[tuple[str | None, int]]:
    """(msg_type, rows) of each row group of a raw/ws file, from its statistics alone."""
    import pyarrow.parquet as pq

    meta = pq.ParquetFile(path).metadata
    col = meta.schema.names.index("msg_type")
    out: list[tuple[str | None, int]] = []
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        stats = group.column(col).statistics
        if stats.null_count == group.num_rows:
            out.append((None, group.num_rows))
            continue
        assert stats.null_count == 0 and stats.min == stats.max  # one type per row group
        out.append((stats.min, group.num_rows))
    return out


TYPES = ("orderbook_delta", "trade", "ticker", "market_lifecycle_v2", None)


def test_frames_are_written_a_row_group_per_message_type(
    tmp_path: Path, lake_dir: Path, frame: Frame, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A reader filtering on msg_type (the transform wants trade and lifecycle frames) skips
    # the other row groups by their statistics; within a type the frames keep their order.
    import dataclasses

    monkeypatch.setattr(roll_mod, "ROW_GROUP_ROWS", 100)
    lake = Lake(str(lake_dir))
    recs = [dataclasses.replace(frame(i), msg_type=TYPES[(i * 7) % 5]) for i in range(1000)]
    with Journal(tmp_path / "j") as j:
        for r in recs:
            j.append(r)
        j.roll(lake, older_than_s=0)
    (path,) = lake.glob("raw/ws/*/*/*.parquet")
    groups = _types_of_row_groups(path)
    # 200 frames of each type: two row groups each, types sorted, null last
    assert groups == [(t, 100) for t in sorted(TYPES[:4]) for _ in range(2)] + [(None, 100)] * 2
    rows = lake.read_table(path).to_pylist()
    assert sorted(r["frame_no"] for r in rows) == list(range(1000))
    for kind in TYPES:
        nos = [r["frame_no"] for r in rows if r["msg_type"] == kind]
        assert nos == [rec.frame_no for rec in recs if rec.msg_type == kind]
