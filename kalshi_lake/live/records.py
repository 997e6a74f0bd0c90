"""One WebSocket frame as the recorder keeps it, and its byte encoding in the journal.

A :class:`FrameRecord` is what the live client hands the journal for every frame in either
direction (and for its own connection events). In a journal segment a record is stored as::

    <u32 payload length> <u32 CRC-32 of payload> <payload>
    payload = <i64 recv_us> <i64 frame_no> <i64 sid> <i64 seq> <u8 null mask> <u16 ids length>
              conn_id US direction US channel US msg_type US market_ticker US city US date
              <body: UTF-8, byte for byte>

(US is the unit separator 0x1F, never inside an identifier: checked when a record is made; the
null mask says which of sid, seq, channel, msg_type, market_ticker, city and date are None.)
The body follows untouched: no escaping, no re-serialisation, the frame's text as it came. The
CRC lets a reader tell a record cut by ``kill -9`` mid-write (or zeros after a power cut) from a
whole one.

The roll reads records by the chunk (:func:`decode_chunk`): numpy gathers the fixed parts, and
the identifiers and bodies become Arrow arrays cut out of the chunk's bytes, so the only Python
loop per record left is the framing (length and CRC, in
:func:`~kalshi_lake.live.segments.chunks`).

PERF (``python -m kalshi_lake.bench --only journal``, 50,000 frames of 245 bytes, one pinned
core of a shared 2-core machine): a binary header, not JSON, since ``json.dumps`` with options
builds an encoder per call (the metadata cost 14 us a record to encode that way, 4 us like
this); and the roll went from 15,000 frames/s (a JSON decode and a tuple per record) to
50,000 (binary, a tuple per record) to 170,000 (columns).
"""

from __future__ import annotations

import datetime as dt
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from kalshi_lake.lake.raw import CONNECTION_CITY, FRAME_SCHEMA
from kalshi_lake.log import get_logger

log = get_logger(__name__)

#: "in": a server frame; "out": a command we sent; "event": our own JSON about the connection.
DIRECTIONS = ("in", "out", "event")

#: Record header: payload length and the payload's CRC-32, little-endian.
HEADER = struct.Struct("<II")

#: The payload's fixed part: recv_us, frame_no, sid, seq, null mask, length of the identifiers.
FIXED = struct.Struct("<qqqqBH")

_FIXED_DTYPE = np.dtype(
    [
        ("recv_us", "<i8"),
        ("frame_no", "<i8"),
        ("sid", "<i8"),
        ("seq", "<i8"),
        ("mask", "u1"),
        ("ids_len", "<u2"),
    ]
)
assert _FIXED_DTYPE.itemsize == FIXED.size

#: Identifiers longer than this (all of them together, UTF-8) are refused: they are tickers,
#: channel names and our connection id, never more than a few dozen bytes.
MAX_IDS = 4096

_SEP = "\x1f"

#: A record larger than this is not a record but garbage where a length should be (Kalshi frames
#: are a few KB; a full order book snapshot of a deep market well under a megabyte).
MAX_PAYLOAD = 64 * 1024 * 1024

EPOCH = dt.date(1970, 1, 1)
US_PER_DAY = 86_400_000_000


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
        ids = f"{self.conn_id}{self.channel or ''}{self.msg_type or ''}{self.market_ticker or ''}"
        if _SEP in ids or _SEP in (self.city or ""):
            raise ValueError(f"identifiers of frame {self.frame_no} hold a control character")
        if len(ids) > MAX_IDS:
            raise ValueError(f"identifiers of frame {self.frame_no} are too long")

    def partition_date(self) -> dt.date:
        """The ``date=`` partition: the climate date, else the UTC date of ``recv_us``."""
        if self.date is not None:
            return self.date
        return EPOCH + dt.timedelta(days=self.recv_us // US_PER_DAY)


def encode(rec: FrameRecord) -> bytes:
    """The record's bytes in a journal segment (header + payload)."""
    mask = (
        (rec.sid is None)
        | (rec.seq is None) << 1
        | (rec.channel is None) << 2
        | (rec.msg_type is None) << 3
        | (rec.market_ticker is None) << 4
        | (rec.city is None) << 5
        | (rec.date is None) << 6
    )
    ids = _SEP.join(
        (
            rec.conn_id,
            rec.direction,
            rec.channel or "",
            rec.msg_type or "",
            rec.market_ticker or "",
            rec.city or "",
            rec.date.isoformat() if rec.date is not None else "",
        )
    ).encode("utf-8")
    try:
        body = rec.body.encode("utf-8")
    except UnicodeEncodeError:
        # A str with lone surrogates has no UTF-8 bytes (a WebSocket text frame never holds
        # one: only a bug upstream makes it). Keep the frame, marked by U+FFFD, rather than stop
        # recording.
        log.warning(
            "frame %s/%s: body is not valid Unicode; kept with U+FFFD", rec.conn_id, rec.frame_no
        )
        body = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in rec.body).encode()
    payload = (
        FIXED.pack(rec.recv_us, rec.frame_no, rec.sid or 0, rec.seq or 0, mask, len(ids))
        + ids
        + body
    )
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def decode_payload(payload: bytes) -> FrameRecord:
    """The record stored in ``payload`` (its CRC already checked)."""
    recv_us, frame_no, sid, seq, mask, ids_len = FIXED.unpack_from(payload)
    cut = FIXED.size + ids_len
    conn_id, direction, channel, msg_type, ticker, city, date = (
        payload[FIXED.size : cut].decode("utf-8").split(_SEP)
    )
    return FrameRecord(
        recv_us=recv_us,
        conn_id=conn_id,
        frame_no=frame_no,
        direction=direction,
        channel=None if mask & 4 else channel,
        msg_type=None if mask & 8 else msg_type,
        sid=None if mask & 1 else sid,
        seq=None if mask & 2 else seq,
        market_ticker=None if mask & 16 else ticker,
        city=None if mask & 32 else city,
        date=None if mask & 64 else dt.date.fromisoformat(date),
        body=payload[cut:].decode("utf-8"),
    )


def decode_chunk(buf: bytes, starts: Sequence[int], lengths: Sequence[int]) -> Decoded:
    """The records whose payloads sit at ``starts`` (with ``lengths``) in ``buf``, as columns.

    Returns the rows in :data:`~kalshi_lake.lake.raw.FRAME_SCHEMA` and, per row, its partition:
    the city (``_connection`` for none) and the date (the climate date, else the UTC receive
    date) as ``YYYY-MM-DD`` text.
    """
    n = len(starts)
    if n == 0:
        empty = pa.array([], pa.string())
        return Decoded(FRAME_SCHEMA.empty_table(), empty, empty)
    # The fixed parts, gathered by numpy: no Python loop over the records.
    at = np.asarray(starts, dtype=np.int64)
    raw = np.frombuffer(buf, dtype=np.uint8)[at[:, None] + np.arange(FIXED.size)]
    fixed = raw.view(_FIXED_DTYPE).reshape(n)
    ids_at = at + FIXED.size
    body_at = ids_at + fixed["ids_len"].astype(np.int64)
    # Offsets into buf of, per record: its identifiers, its body, and the gap up to the next
    # record's identifiers (the next header). One binary array over all of buf then holds every
    # field, and two takes pick the identifiers and the bodies.
    offsets = np.stack([ids_at, body_at, at + np.asarray(lengths, dtype=np.int64)], axis=1)
    fields = pa.Array.from_buffers(
        pa.large_binary(),
        3 * n - 1,
        [None, pa.py_buffer(offsets.ravel().tobytes()), pa.py_buffer(buf)],
    )
    recv = fixed["recv_us"]
    frame_no = fixed["frame_no"]
    sid = fixed["sid"]
    seq = fixed["seq"]
    mask = fixed["mask"]
    every = pa.array(range(0, 3 * n, 3), pa.int64())
    ids = fields.take(every).cast(pa.large_string())
    bodies = fields.take(pc.add(every, 1)).cast(pa.large_string())
    parts = pc.split_pattern(ids, _SEP)

    def field(k: int, bit: int | None) -> pa.Array:
        values = pc.list_element(parts, k).cast(pa.string())
        if bit is None:
            return values
        return pc.if_else(pa.array((mask & bit) != 0), pa.scalar(None, pa.string()), values)

    def ints(values: np.ndarray, bit: int) -> pa.Array:
        return pa.array(values, pa.int64(), mask=(mask & bit) != 0)

    table = pa.Table.from_arrays(
        [
            pa.array(recv, pa.int64()).cast(FRAME_SCHEMA.field("recv_at").type),
            field(0, None),
            pa.array(frame_no, pa.int64()),
            field(1, None),
            field(2, 4),
            field(3, 8),
            ints(sid, 1),
            ints(seq, 2),
            field(4, 16),
            bodies,
        ],
        schema=FRAME_SCHEMA,
    )
    city = pc.fill_null(field(5, 32), CONNECTION_CITY)
    recv_date = pa.array(recv // US_PER_DAY, pa.int32()).cast(pa.date32()).cast(pa.string())
    date = pc.coalesce(field(6, 64), recv_date)
    return Decoded(table, city, date)


@dataclass(frozen=True)
class Decoded:
    """A chunk of records as columns (:func:`decode_chunk`)."""

    table: pa.Table  # FRAME_SCHEMA
    city: pa.Array  # the city= partition of each row
    date: pa.Array  # the date= partition of each row, YYYY-MM-DD
