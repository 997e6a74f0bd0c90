"""The journal: records, durability, replay, torn tails, segments, one owner per folder."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kalshi_lake.errors import LockedError, StorageError
from kalshi_lake.live import FrameRecord, Journal
from kalshi_lake.live.records import HEADER, decode_payload, encode
from kalshi_lake.live.segments import MAGIC, list_segments, scan

Frame = Callable[..., FrameRecord]


def test_a_record_round_trips_byte_for_byte(frame: Frame) -> None:
    body = '{"type":"orderbook_delta","msg":{"price_dollars":"0.4500","x":"é\\"\\n\u2603"}}\r\n'
    for rec in (frame(7, body=body), frame(8, city=None), frame(9, date=None)):
        raw = encode(rec)
        length, _ = HEADER.unpack(raw[: HEADER.size])
        assert length == len(raw) - HEADER.size
        assert decode_payload(raw[HEADER.size :]) == rec
    # the body is stored as its UTF-8 bytes, untouched (no JSON escaping)
    assert body.encode() in encode(frame(7, body=body))


def test_partition_date_is_the_climate_date_else_the_utc_receive_date(frame: Frame) -> None:
    assert frame(1, date=dt.date(2026, 12, 5)).partition_date() == dt.date(2026, 12, 5)
    late = dt.datetime(2026, 12, 6, 23, 59, 59, 999999, tzinfo=dt.UTC)
    us = int(late.timestamp()) * 1_000_000 + 999999
    assert frame(1, city=None, recv_us=us).partition_date() == dt.date(2026, 12, 6)
    assert frame(1, city=None, recv_us=us + 1).partition_date() == dt.date(2026, 12, 7)


@pytest.mark.parametrize("city", ["", "a/b", "city=x"])
def test_a_city_that_cannot_be_a_partition_is_refused(frame: Frame, city: str) -> None:
    with pytest.raises(ValueError, match="city"):
        frame(1, city=city)


def test_an_unknown_direction_is_refused(frame: Frame) -> None:
    rec = frame(1)
    with pytest.raises(ValueError, match="direction"):
        FrameRecord(**{**{f: getattr(rec, f) for f in rec.__slots__}, "direction": "sideways"})


def test_replay_gives_every_record_in_append_order(tmp_path: Path, frame: Frame) -> None:
    recs = [frame(i, city=("chicago", "nyc", None)[i % 3]) for i in range(500)]
    with Journal(tmp_path / "j") as j:
        for r in recs:
            j.append(r)
        assert list(j.replay()) == recs
        assert j.stats.durable == 500 and j.pending == 0
    # and after a restart
    with Journal(tmp_path / "j") as j:
        assert list(j.replay()) == recs
        j.append(frame(500))
        assert list(j.replay()) == [*recs, frame(500)]


def test_appends_become_durable_in_batches_without_anyone_waiting(
    tmp_path: Path, frame: Frame
) -> None:
    with Journal(tmp_path / "j", durable_s=0.2) as j:
        for i in range(1000):
            j.append(frame(i))
        # Nobody calls sync: the writer's own timer makes them durable.
        deadline = time.monotonic() + 30
        while j.stats.durable < 1000 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert j.stats.durable == 1000
        assert j.stats.batches < 50  # batched: far fewer syncs than records
        assert sum(1 for _ in scan(j.segments()[-1].path)) == 1000


def test_a_torn_tail_is_cut_and_the_rest_replayed(tmp_path: Path, frame: Frame) -> None:
    recs = [frame(i) for i in range(50)]
    with Journal(tmp_path / "j") as j:
        for r in recs:
            j.append(r)
    (seg,) = list_segments(tmp_path / "j")
    whole = seg.path.stat().st_size
    # kill -9 in the middle of the next record's write: its header and half its payload
    half = encode(frame(50))
    with open(seg.path, "ab") as f:
        f.write(half[: len(half) // 2])
    with Journal(tmp_path / "j") as j:
        assert list(j.replay()) == recs
        assert seg.path.stat().st_size == whole  # cut where the whole records end
        j.append(frame(51))
        assert [r.frame_no for r in j.replay()] == [*range(50), 51]


@pytest.mark.parametrize("damage", ["zeros", "flipped byte", "header only"])
def test_a_corrupt_tail_is_cut_not_fatal(tmp_path: Path, frame: Frame, damage: str) -> None:
    with Journal(tmp_path / "j") as j:
        for i in range(20):
            j.append(frame(i))
    (seg,) = list_segments(tmp_path / "j")
    data = bytearray(seg.path.read_bytes())
    last = len(encode(frame(19)))
    if damage == "zeros":  # a power cut: the file's size grew, its blocks did not
        data += bytes(4096)
    elif damage == "flipped byte":
        data[-5] ^= 0xFF
    else:
        data = data[: len(data) - last + HEADER.size]
    seg.path.write_bytes(bytes(data))
    with Journal(tmp_path / "j") as j:
        want = 20 if damage == "zeros" else 19
        assert [r.frame_no for r in j.replay()] == list(range(want))


def test_a_segment_without_its_magic_holds_nothing(tmp_path: Path, frame: Frame) -> None:
    (tmp_path / "j").mkdir()
    # killed while creating a segment: the name exists, the magic does not (all of it)
    (tmp_path / "j" / "00000001-20261206T120000000000Z-0123456789abcdef.seg").write_bytes(MAGIC[:3])
    with Journal(tmp_path / "j") as j:
        assert list(j.replay()) == []
        j.append(frame(1))
        assert [r.frame_no for r in j.replay()] == [1]
        assert [s.n for s in j.segments()] == [1, 2]


def test_segments_close_at_each_period_and_at_their_size(tmp_path: Path, frame: Frame) -> None:
    now = [3600.0 * 1000]  # a period boundary
    with Journal(tmp_path / "j", segment_s=3600, clock=lambda: now[0]) as j:
        for hour in range(3):
            for i in range(5):
                j.append(frame(hour * 5 + i))
                j.sync()
                now[0] += 600  # 10 minutes per frame: 5 frames per segment... then the next hour
            now[0] += 600
        assert len(j.segments()) == 3
        assert [r.frame_no for r in j.replay()] == list(range(15))
    size = len(MAGIC) + 3 * len(encode(frame(10)))
    with Journal(tmp_path / "k", segment_bytes=size) as j:
        for i in range(10, 19):
            j.append(frame(i))
            j.sync()
        assert len(j.segments()) == 3
        assert [r.frame_no for r in j.replay()] == list(range(10, 19))


def test_one_process_owns_a_journal_folder(tmp_path: Path) -> None:
    with Journal(tmp_path / "j"), pytest.raises(LockedError, match="in use"):
        Journal(tmp_path / "j")
    Journal(tmp_path / "j").close()  # free again once closed


def test_append_after_close_is_an_error(tmp_path: Path, frame: Frame) -> None:
    j = Journal(tmp_path / "j")
    j.close()
    with pytest.raises(RuntimeError, match="closed"):
        j.append(frame(1))


def test_a_disk_that_does_not_keep_up_fails_appends_instead_of_growing_memory(
    tmp_path: Path, frame: Frame
) -> None:
    j = Journal(tmp_path / "j", max_pending=100, durable_s=0.05)
    j._io.acquire()  # the disk "stalls": the writer cannot write its batch
    try:
        for i in range(100):
            j.append(frame(i))
        deadline = time.monotonic() + 30
        while j._queue and time.monotonic() < deadline:  # the writer took them, waits on disk
            time.sleep(0.01)
        for i in range(100, 200):
            j.append(frame(i))
        with pytest.raises(StorageError, match="not keeping up"):
            j.append(frame(200))
    finally:
        j._io.release()
    j.close()
    with Journal(tmp_path / "j") as j2:
        assert [r.frame_no for r in j2.replay()] == list(range(200))


def test_appends_and_rolls_at_once_keep_every_frame_once(
    tmp_path: Path, lake_dir: Path, frame: Frame
) -> None:
    import threading

    import pyarrow as pa

    from kalshi_lake.lake import Lake

    lake = Lake(str(lake_dir))
    now = [3600.0 * 1000]
    stop = threading.Event()
    with Journal(tmp_path / "j", segment_s=60, clock=lambda: now[0], durable_s=0.02) as j:

        def roller() -> None:
            while not stop.is_set():
                j.roll(lake)
                time.sleep(0.01)

        t = threading.Thread(target=roller)
        t.start()
        for i in range(3000):
            j.append(frame(i, city=("chicago", "nyc", None)[i % 3]))
            if i % 100 == 99:
                now[0] += 30  # a new segment every 2 batches
                time.sleep(0.005)
        stop.set()
        t.join()
        j.roll(lake, older_than_s=0)
        assert j.stats.segments_opened > 5
    rows = pa.concat_tables(lake.read_table(p) for p in lake.glob("raw/ws/*/*/*.parquet"))
    assert sorted(rows["frame_no"].to_pylist()) == list(range(3000))
