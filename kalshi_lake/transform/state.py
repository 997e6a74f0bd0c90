"""The transform's memory of what it built: ``_state/transform/<city>.json`` (one per city).

::

    {"format": 1, "version": <TRANSFORM_VERSION>,
     "partitions": {"2026-10": {"inputs": "<sha256 of the sorted raw input paths>",
                                "files": <number of raw inputs>,
                                "bytes": <their total size>,
                                "tables": ["candles_1m", "markets", "trades", ...],
                                "curated": {"trades": {"size": <bytes>, "stamp": "<stamp>",
                                                       "sha256": "<of the bytes written>"}},
                                "unreadable": [<raw inputs unreadable at the last build>],
                                "partial": true}},
     "listings": {"raw/markets/city=chicago/date=2026-11-21/<f>.parquet": ["2026-10", "2026-11"]},
     "listings_format": 2}

``partitions`` says which raw files each curated month was last built from, so an incremental
run rebuilds exactly the months whose input set changed (a new page, a removed file, a file
whose size changed: raw files never change, so it was truncated or replaced), plus any
whose curated files are missing or unexpected. ``listings`` remembers which months each listing
file touches (a markets or events listing is filed under its fetch date but can hold markets of
any month), so listings are parsed once, not on every run. Before ``listings_format`` 2 an
unreadable listing was recorded with no months and never read again; such entries (no months)
of an older state are forgotten on load, so those files are indexed once more.

``curated`` records each curated file as written (size, the listing's change stamp, SHA-256), so
a truncated or overwritten file is found without reading the curated layer. ``unreadable``
(absent when empty) lists raw inputs the last build could not read: the partition is rebuilt on
every run until they are gone or read. ``partial`` says the curated files were built without
them; without it, they are the last good version, kept as they were.

The file is written atomically after every batch (one PUT on S3). It mostly saves work: deleting
it makes the next run rebuild everything, which yields the same rows (except that a partition
kept at its last good version is then rebuilt from its readable input). A process must hold the
city's transform lease to write it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kalshi_lake.lake.storage import Check, Lake
from kalshi_lake.log import get_logger

log = get_logger(__name__)

STATE_DIR = "_state/transform"
_FORMAT = 1
#: 2: an unreadable listing is never recorded (see the module docstring).
_LISTINGS_FORMAT = 2


def digest(paths: Iterable[str]) -> str:
    """A fingerprint of a set of raw file paths (order-independent)."""
    h = hashlib.sha256()
    for p in sorted(paths):
        h.update(p.encode())
        h.update(b"\n")
    return h.hexdigest()


@dataclass
class CityState:
    """What the last transforms of one city built."""

    city: str
    version: int
    partitions: dict[str, dict[str, Any]] = field(default_factory=dict)
    listings: dict[str, list[str]] = field(default_factory=dict)
    saved: bytes = b""  # what the file holds now (to skip rewriting an unchanged state)

    @property
    def rel(self) -> str:
        """Path of the state file relative to the lake root."""
        return f"{STATE_DIR}/{self.city}.json"

    @classmethod
    def load(cls, lake: Lake, city: str, version: int) -> CityState:
        """The saved state, or an empty one if there is none, it is unreadable, or it was
        written by a transform of another version (whose outputs must all be rebuilt)."""
        empty = cls(city=city, version=version)
        try:
            doc = json.loads(lake.read_bytes(empty.rel))
        except FileNotFoundError:
            return empty
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable transform state %s: %s", empty.rel, exc)
            return empty
        if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
            return empty
        listings = doc.get("listings") or {}
        if doc.get("version") != version:
            log.info(
                "transform version changed (%s -> %s): rebuilding %s",
                doc.get("version"),
                version,
                city,
            )
            return empty
        state = cls(
            city=city,
            version=version,
            partitions=dict(doc.get("partitions") or {}),
            listings={
                str(k): list(v)
                for k, v in listings.items()
                if v or doc.get("listings_format") == _LISTINGS_FORMAT
            },
        )
        state.saved = state.to_bytes()
        return state

    def to_bytes(self) -> bytes:
        """The state file's content."""
        doc = {
            "format": _FORMAT,
            "version": self.version,
            "partitions": dict(sorted(self.partitions.items())),
            "listings": dict(sorted(self.listings.items())),
            "listings_format": _LISTINGS_FORMAT,
        }
        return json.dumps(doc, sort_keys=True, indent=0).encode()

    def save(self, lake: Lake, check: Check | None = None) -> None:
        """Write the state atomically (nothing is written if it did not change); ``check``
        (the city lease's ``ensure``) runs just before the write becomes visible."""
        data = self.to_bytes()
        if data != self.saved:
            lake.write_bytes(data, self.rel, check=check)
            self.saved = data
