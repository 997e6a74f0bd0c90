"""Journal segment files: their names, and reading their records back (a torn tail cut, not fatal).

A segment is one append-only local file of encoded :class:`~kalshi_lake.live.records.FrameRecord`
records behind an 8-byte magic::

    <journal dir>/<n:08d>-<opened: YYYYmmddTHHMMSSffffffZ>-<16 hex>.seg

``n`` orders the segments of one journal (one more than the highest present when a segment
opens, so a restart continues the order); the opening time and the random part make the name
unique across journals and machines. The raw files a segment becomes are named after it
(:func:`raw_name`), which is what makes a roll repeated after a crash write nothing twice.

``kill -9`` in the middle of a write leaves a partial record at the end of the newest segment;
a power cut may leave zeros. :func:`scan` stops at the first record whose length or CRC is wrong
and says where the good bytes end; :func:`truncate_torn` cuts the file there.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from kalshi_lake.live.records import HEADER, MAX_PAYLOAD, FrameRecord, decode_payload
from kalshi_lake.log import get_logger

log = get_logger(__name__)

#: The first bytes of every segment ("kalshi-lake journal", format 1).
MAGIC = b"KLJRNL1\n"

SUFFIX = ".seg"

_NAME = re.compile(r"^(\d{8})-(\d{8}T\d{12}Z-[0-9a-f]{16})\.seg$")


@dataclass(frozen=True, slots=True)
class Segment:
    """A segment file: its order number and path."""

    n: int
    path: Path

    @property
    def stem(self) -> str:
        """The unique part of the name (opening time and random part)."""
        m = _NAME.match(self.path.name)
        assert m is not None
        return m.group(2)


def new_segment(folder: Path, n: int, opened_us: int) -> Segment:
    """A fresh segment name (the file is created by the writer)."""
    when = dt.datetime.fromtimestamp(opened_us / 1e6, dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return Segment(n, folder / f"{n:08d}-{when}-{secrets.token_hex(8)}{SUFFIX}")


def list_segments(folder: Path) -> list[Segment]:
    """The segments in ``folder``, oldest first (anything else is ignored)."""
    out = []
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    for name in names:
        m = _NAME.match(name)
        if m is not None:
            out.append(Segment(int(m.group(1)), folder / name))
    return sorted(out, key=lambda s: (s.n, s.path.name))


def raw_name(seg: Segment) -> str:
    """The file name every raw file rolled from ``seg`` gets (one per city and date)."""
    return f"{seg.stem}.parquet"


@dataclass
class ScanEnd:
    """Where a :func:`scan` stopped: ``good`` bytes are whole records (with the magic)."""

    good: int = 0
    size: int = 0
    records: int = 0

    @property
    def torn(self) -> int:
        """Bytes after the last whole record (0 for a clean segment)."""
        return self.size - self.good


def scan(path: Path, end: ScanEnd | None = None, *, limit: int | None = None) -> Iterator[bytes]:
    """The payloads of the whole records of a segment, in order, up to ``limit`` bytes.

    Stops without error at the first torn or corrupt record; ``end`` (if given) then says how
    many bytes were good. A file shorter than the magic holds nothing.
    """
    end = end if end is not None else ScanEnd()
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size if limit is None else limit
        end.size = size
        if size < len(MAGIC) or f.read(len(MAGIC)) != MAGIC:
            end.good = 0
            return
        pos = len(MAGIC)
        end.good = pos
        hsize = HEADER.size
        while pos + hsize <= size:
            length, crc = HEADER.unpack(f.read(hsize))
            # A zero length is no record (its CRC would be 0: zeros left by a power cut).
            if length == 0 or length > MAX_PAYLOAD or pos + hsize + length > size:
                break
            payload = f.read(length)
            if len(payload) != length or zlib.crc32(payload) != crc:
                break
            pos += hsize + length
            end.good = pos
            end.records += 1
            yield payload


def read_records(path: Path, *, limit: int | None = None) -> Iterator[FrameRecord]:
    """The whole records of a segment, decoded, in append order."""
    for payload in scan(path, limit=limit):
        yield decode_payload(payload)


def truncate_torn(seg: Segment) -> ScanEnd:
    """Cut a torn tail off ``seg`` (durably); returns what the scan found.

    A segment without even its magic is left at zero length (it then holds nothing).
    """
    end = ScanEnd()
    for _ in scan(seg.path, end):
        pass
    if end.torn:
        log.warning(
            "journal segment %s: cut a torn tail of %d bytes after %d whole records",
            seg.path.name,
            end.torn,
            end.records,
        )
        with open(seg.path, "r+b") as f:
            f.truncate(end.good)
            f.flush()
            os.fsync(f.fileno())
    return end
