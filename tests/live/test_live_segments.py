"""Reading segments back by the chunk, and decoding a chunk into columns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import pytest

from kalshi_lake.lake.raw import CONNECTION_CITY, FRAME_SCHEMA
from kalshi_lake.live import FrameRecord, Journal
from kalshi_lake.live.records import HEADER, decode_chunk, decode_payload, encode
from kalshi_lake.live.segments import ScanEnd, chunks, list_segments

Frame = Callable[..., FrameRecord]


def _varied(frame: Frame, n: int) -> list[FrameRecord]:
    recs = []
    for i in range(n):
        city = ("chicago", "nyc", None)[i % 3]
        body = "x" * (i * 37 % 3000) + f'{{"i":{i},"s":"é☃"}}'
        rec = frame(i, city=city, date=dt.date(2026, 12, 5) if i % 4 else None, body=body)
        if i % 5 == 0:  # an event: no channel, type, sid or seq, but a market
            rec = FrameRecord(
                rec.recv_us, "run1-2", i, "event", None, None, None, None, "KXHIGHNY-X", "nyc",
                None, '{"event":"gap"}',
            )  # fmt: skip
        recs.append(rec)
    return recs


@pytest.mark.parametrize("size", [64, 1000, 1 << 20])
def test_chunks_of_any_size_give_every_record_once(tmp_path: Path, frame: Frame, size: int) -> None:
    recs = _varied(frame, 200)
    with Journal(tmp_path / "j") as j:
        for r in recs:
            j.append(r)
    (seg,) = list_segments(tmp_path / "j")
    end = ScanEnd()
    got = [
        decode_payload(c.buf[s : s + n])
        for c in chunks(seg.path, end, size=size)
        for s, n in zip(c.starts, c.lengths, strict=True)
    ]
    assert got == recs
    assert end.records == 200 and end.torn == 0 and end.good == seg.path.stat().st_size


def test_a_chunk_decodes_to_the_records_columns_and_partitions(
    tmp_path: Path, frame: Frame
) -> None:
    recs = _varied(frame, 300)
    buf = b"".join(encode(r) for r in recs)
    starts, lengths, off = [], [], 0
    while off < len(buf):
        length, _ = HEADER.unpack_from(buf, off)
        starts.append(off + HEADER.size)
        lengths.append(length)
        off += HEADER.size + length
    d = decode_chunk(buf, starts, lengths)
    assert d.table.schema == FRAME_SCHEMA
    rows = d.table.to_pylist()
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    for rec, row, city, date in zip(
        recs, rows, d.city.to_pylist(), d.date.to_pylist(), strict=True
    ):
        assert row == {
            "recv_at": epoch + dt.timedelta(microseconds=rec.recv_us),
            "conn_id": rec.conn_id,
            "frame_no": rec.frame_no,
            "direction": rec.direction,
            "channel": rec.channel,
            "msg_type": rec.msg_type,
            "sid": rec.sid,
            "seq": rec.seq,
            "market_ticker": rec.market_ticker,
            "body": rec.body,
        }
        assert city == (rec.city or CONNECTION_CITY)
        assert date == rec.partition_date().isoformat()
    empty = decode_chunk(b"", [], [])
    assert empty.table.num_rows == 0 and empty.table.schema == FRAME_SCHEMA
