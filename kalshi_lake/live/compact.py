"""Hourly compaction of ``raw/ws``: a past hour's minute files of a (city, date) become one file.

The recorder rolls a journal segment a minute (``segment_s = 60``) so the curated tables can
follow the stream within a minute; left alone that is 1,440 raw files a day per city. Once an
hour is over (plus :data:`GRACE_S`, so its last minute has been rolled), :func:`compact` merges
the files of each ``raw/ws/city=<c>/date=<d>`` folder whose segment opened in that hour into one
file, each frame (``conn_id``, ``frame_no``) once, a row group per message type in the order the
recorder saw the frames (as the roll writes them: :func:`~kalshi_lake.live.roll.write_by_type`),
so a day of a city stays a few dozen files.

A compaction deletes raw files, so it never runs beside a transform of the same city: it holds
the city's transform lease (``transform/<city>``) while it works, and a city whose lease is
taken is left for the next compaction.

Crash safety, in this order: the merged file is published whole (:meth:`Lake.open_atomic`: a
rename on disk, one PUT on S3), and only then are its inputs deleted. A crash between the two
leaves the merged file beside (some of) its inputs: every reader of ``raw/ws`` counts a frame
once by its identity, so nothing is duplicated, and the next compaction of that hour takes the
merged file and the leftovers as inputs again. The merged file's name is a digest of its inputs'
names, so a compaction repeated over the same inputs finds its output present and only deletes.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from kalshi_lake.errors import LockedError
from kalshi_lake.lake.lock import Lease
from kalshi_lake.lake.raw import FRAME_DICT_COLUMNS, FRAME_SCHEMA, WS_FOLDER
from kalshi_lake.lake.storage import PARQUET_KW, Lake
from kalshi_lake.live.roll import write_by_type
from kalshi_lake.log import get_logger

log = get_logger(__name__)

#: How long after an hour ends its files are compacted: the segment of its last minute is
#: rolled within the roll cadence (a minute) of closing.
GRACE_S = 300.0

#: A rolled file's name: ``<YYYYmmddTHH>MMSSffffffZ-<token>.parquet`` (its segment's opening
#: time); a merged one: ``<YYYYmmddTHH>-hour-<digest>.parquet``.
_ROLLED = re.compile(r"^(\d{8}T\d{2})\d{4}\d*Z-[0-9a-f]+\.parquet$")
_MERGED = re.compile(r"^(\d{8}T\d{2})-hour-[0-9a-f]+\.parquet$")


@dataclass
class CompactResult:
    """What one :func:`compact` did."""

    hours: int = 0  # (folder, hour) groups merged
    files_in: int = 0
    files_out: int = 0
    frames: int = 0
    duplicates: int = 0  # frames found in two inputs (an interrupted compaction), kept once
    locked: list[str] = field(default_factory=list)  # cities a transform was busy with
    elapsed_s: float = 0.0
    written: list[str] = field(default_factory=list)


def hour_of(name: str) -> str | None:
    """``YYYYmmddTHH`` of a raw/ws file name (rolled or merged), or None for another file."""
    m = _ROLLED.match(name) or _MERGED.match(name)
    return m.group(1) if m else None


def compact(
    lake: Lake,
    cities: list[str] | None = None,
    *,
    now: float | None = None,
    grace_s: float = GRACE_S,
) -> CompactResult:
    """Merge every past hour's files of each ``raw/ws`` (city, date) folder (of ``cities``,
    default all) into one, then delete them (see the module doc). ``now``: epoch seconds."""
    t0 = time.monotonic()
    now = time.time() if now is None else now
    limit = dt.datetime.fromtimestamp(now - grace_s, dt.UTC).strftime("%Y%m%dT%H")
    result = CompactResult()
    top = f"raw/{WS_FOLDER}"
    for city_dir in lake.ls_dirs(top):
        city = city_dir[len("city=") :]
        if not city_dir.startswith("city=") or (cities is not None and city not in cities):
            continue
        try:
            # The connection's frames feed no transform; a city's own lease otherwise.
            with Lease(lake, f"transform/{city}", purpose="compact raw/ws"):
                _compact_city(lake, f"{top}/{city_dir}", limit, result)
        except LockedError:
            result.locked.append(city)
    result.elapsed_s = time.monotonic() - t0
    return result


def _compact_city(lake: Lake, city_folder: str, limit: str, result: CompactResult) -> None:
    for date_dir in lake.ls_dirs(city_folder):
        folder = f"{city_folder}/{date_dir}"
        groups: dict[str, list[str]] = defaultdict(list)
        for path in lake.ls_files(folder):
            name = path.rsplit("/", 1)[-1]
            hour = hour_of(name)
            if hour is not None and hour < limit:  # the hour ended grace_s ago
                groups[hour].append(name)
        for hour, names in sorted(groups.items()):
            if len(names) > 1:
                _merge(lake, folder, hour, sorted(names, key=_order), result)


def _order(name: str) -> tuple[int, str]:
    """Merged files first (older frames), then rolled ones by their segment's opening time."""
    return (0 if _MERGED.match(name) else 1, name)


def _merge(lake: Lake, folder: str, hour: str, names: list[str], result: CompactResult) -> None:
    digest = hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
    out = f"{folder}/{hour}-hour-{digest}.parquet"
    if not lake.exists(out):
        tables = [lake.read_table(f"{folder}/{n}").cast(FRAME_SCHEMA) for n in names]
        merged = pl.from_arrow(pa.concat_tables(tables))
        assert isinstance(merged, pl.DataFrame)
        unique = merged.unique(subset=["conn_id", "frame_no"], keep="first", maintain_order=True)
        result.duplicates += merged.height - unique.height
        result.frames += unique.height
        table = unique.to_arrow().cast(FRAME_SCHEMA)
        with lake.open_atomic(out) as sink:
            opts = {**PARQUET_KW, "use_dictionary": FRAME_DICT_COLUMNS}
            with pq.ParquetWriter(sink, FRAME_SCHEMA, **opts) as writer:
                write_by_type(writer, table)
        result.written.append(out)
        result.files_out += 1
    # Only now, with the merged file durable, do the inputs go.
    lake.delete([f"{folder}/{n}" for n in names if f"{folder}/{n}" != out])
    result.files_in += len(names)
    result.hours += 1
    log.info("compacted %d file(s) of %s hour %s into one", len(names), folder, hour)
