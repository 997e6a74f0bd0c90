"""Step 1 of a repair: list a city's raw files and find those that cannot be read whole."""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from kalshi_lake.lake.raw import RAW_SCHEMA, page_endpoints
from kalshi_lake.lake.storage import Lake

#: The columns the transform reads from every raw file (the rest is provenance).
REQUIRED_COLUMNS = frozenset(RAW_SCHEMA.names) - {
    "endpoint",
    "request_path",
    "cursor_in",
    "cursor_out",
    "run_id",
    "body_sha256",
}
#: Files probed at once (pyarrow decodes outside the GIL).
PROBE_THREADS = 4


@dataclass(frozen=True)
class RawFileRef:
    """One raw file and what its path says: ``raw/<endpoint>/city=<c>/date=<d>/<name>``."""

    rel: str
    endpoint: str
    city: str
    date: dt.date
    size: int

    @property
    def written_at(self) -> dt.datetime | None:
        """When the file was written, from its name (``20261121T120301123456Z-<hex>``)."""
        stamp = self.rel.rsplit("/", 1)[-1].split("-", 1)[0]
        try:
            return dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S%fZ").replace(tzinfo=dt.UTC)
        except ValueError:
            return None


def find_unreadable(
    lake: Lake, files: Sequence[RawFileRef], advance: Callable[[], None] | None = None
) -> list[tuple[RawFileRef, str]]:
    """The files of ``files`` that cannot be read whole, with why, in path order."""
    bad: list[tuple[RawFileRef, str]] = []

    def one(f: RawFileRef) -> tuple[RawFileRef, str | None]:
        return f, probe(lake, f.rel)

    with ThreadPoolExecutor(max_workers=PROBE_THREADS) as pool:
        for f, reason in pool.map(one, files):
            if advance is not None:
                advance()
            if reason is not None:
                bad.append((f, reason))
    return bad


def raw_files(lake: Lake, city: str) -> list[RawFileRef]:
    """Every raw page file of ``city`` (any endpoint; never WebSocket frames: a frame cannot be
    fetched again), sorted by path."""
    out: list[RawFileRef] = []
    for endpoint in page_endpoints(lake):
        prefix = f"raw/{endpoint}/city={city}/"
        for path, size in lake.walk_files(prefix).items():
            rel = lake.rel(path)
            tail = rel[len(prefix) :].split("/")
            if len(tail) != 2 or not tail[1].endswith(".parquet") or tail[1].startswith("."):
                continue
            try:
                date = dt.date.fromisoformat(tail[0].removeprefix("date="))
            except ValueError:
                continue
            out.append(RawFileRef(rel, endpoint, city, date, size))
    return sorted(out, key=lambda f: f.rel)


def probe(lake: Lake, rel: str) -> str | None:
    """Why ``rel`` cannot be read whole (every column decoded), or None if it can."""
    try:
        table = lake.read_table(rel)
    except FileNotFoundError:
        return None  # gone since it was listed: nothing to repair
    except (OSError, pa.ArrowException, ValueError) as exc:
        return f"unreadable Parquet file: {str(exc).splitlines()[0][:200]}"
    missing = REQUIRED_COLUMNS - set(table.schema.names)
    if missing:
        return f"not a raw page file: no column {', '.join(sorted(missing))}"
    return None


class ScanProgress:
    """A bar on a terminal; off a terminal, a line every ``interval_s`` (big lakes take a while)."""

    def __init__(self, enabled: bool, total: int, city: str, interval_s: float) -> None:
        self.total = total
        self.city = city
        self.interval_s = interval_s
        self.enabled = enabled and total > 0
        self.tty = sys.stderr.isatty()
        self._bar: Any = None
        self._task: Any = None
        self._last = time.monotonic()
        self.done = 0

    def __enter__(self) -> ScanProgress:
        if self.enabled and self.tty:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._bar = Progress(
                TextColumn(f"repair {self.city}: reading raw files"),
                BarColumn(),
                MofNCompleteColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.start()
            self._task = self._bar.add_task("scan", total=self.total)
        return self

    def advance(self) -> None:
        """One more file read."""
        self.done += 1
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(self._task, completed=self.done)
        elif time.monotonic() - self._last >= self.interval_s:
            self._last = time.monotonic()
            print(
                f"repair {self.city}: read {self.done:,}/{self.total:,} raw files",
                file=sys.stderr,
                flush=True,
            )

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()
