"""One WebSocket frame as the recorder keeps it, and its byte encoding in the journal.

A :class:`FrameRecord` is what the live client hands the journal for every frame in either
direction (and for its own connection events). In a journal segment a record is stored as::

    <u32 payload length> <u32 CRC-32 of payload> <payload>
    payload = <meta: compact JSON array> NUL <body: UTF-8, byte for byte>

The metadata is JSON, so it never contains a raw NUL (JSON escapes control characters) and the
first NUL ends it; the body follows untouched (no escaping, no re-serialisation: the frame's text
is stored as it came). The CRC lets a reader tell a record cut by ``kill -9`` mid-write (or a
block of zeros after a power cut) from a whole one.
"""

from __future__ import annotations

import datetime as dt
import json
import struct
import zlib
from dataclasses import dataclass

#: "in": a server frame; "out": a command we sent; "event": our own JSON about the connection.
DIRECTIONS = ("in", "out", "event")

#: Record header: payload length and the payload's CRC-32, little-endian.
HEADER = struct.Struct("<II")

#: A record larger than this is not a record but garbage where a length should be (Kalshi frames
#: are a few KB; a full order book snapshot of a deep market well under a megabyte).
MAX_PAYLOAD = 64 * 1024 * 1024

_EPOCH = dt.date(1970, 1, 1)
_US_PER_DAY = 86_400_000_000


@dataclass(frozen=True, slots=True)
class FrameRecord:
    """One frame (or connection event) with its provenance, as it goes into ``raw/ws``."""

    recv_us: int  #: receive (or send) time, UTC microseconds since the epoch
    conn_id: str  #: one per connection attempt (run id + connect number)
    frame_no: int  #: monotonic per connection: with ``conn_id``, the frame's identity
    direction: str  #: one of :data:`DIRECTIONS`
    channel: str | None
    msg_type: str | None
    sid: int | None
    seq: int | None
    market_ticker: str | None
    city: str | None  #: partition; None = not about one market (acks, commands, connection)
    date: dt.date | None  #: the market's climate date; None -> the UTC receive date
    body: str  #: the frame's text, byte for byte (events: our JSON)

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise ValueError(f"unknown frame direction {self.direction!r}")
        if self.city is not None and (not self.city or "/" in self.city or "=" in self.city):
            # it becomes a path segment (city=<city>) when the record is rolled
            raise ValueError(f"bad city partition {self.city!r}")

    def partition_date(self) -> dt.date:
        """The ``date=`` partition: the climate date, else the UTC date of ``recv_us``."""
        if self.date is not None:
            return self.date
        return _EPOCH + dt.timedelta(days=self.recv_us // _US_PER_DAY)


def encode(rec: FrameRecord) -> bytes:
    """The record's bytes in a journal segment (header + payload)."""
    meta = json.dumps(
        [
            rec.recv_us,
            rec.conn_id,
            rec.frame_no,
            rec.direction,
            rec.channel,
            rec.msg_type,
            rec.sid,
            rec.seq,
            rec.market_ticker,
            rec.city,
            rec.date.isoformat() if rec.date is not None else None,
        ],
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode("ascii")
    payload = meta + b"\0" + rec.body.encode("utf-8")
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def decode_payload(payload: bytes) -> FrameRecord:
    """The record stored in ``payload`` (its CRC already checked)."""
    cut = payload.index(b"\0")
    m = json.loads(payload[:cut])
    return FrameRecord(
        recv_us=m[0],
        conn_id=m[1],
        frame_no=m[2],
        direction=m[3],
        channel=m[4],
        msg_type=m[5],
        sid=m[6],
        seq=m[7],
        market_ticker=m[8],
        city=m[9],
        date=dt.date.fromisoformat(m[10]) if m[10] is not None else None,
        body=payload[cut + 1 :].decode("utf-8"),
    )
