"""`kalshi-lake repair`: find unreadable raw files, set them aside, fetch their data again.

A raw file that cannot be read whole (truncated by a full disk, overwritten, bit rot) is a hole
the transform can only report. Per city, holding its backfill lease (``backfill/<city>``, so no
backfill runs meanwhile; held elsewhere: :class:`LockedError`, exit 2):

1. **Scan**: every raw file of the city (:meth:`Lake.walk_files`) is read whole with pyarrow,
   every column decoded; a file that fails, or lacks the columns the transform reads, is bad.
2. **Record** what is to be done (``_state/repair/city=<c>``, a :class:`StateStore`) before
   touching anything, so a run killed or cut short anywhere is finished by the next ``repair``.
3. **Quarantine**: each bad file is moved, bytes unchanged, to
   ``_quarantine/<run id>/<its path>`` inside the lake (nothing is deleted before its copy is
   written). The transform no longer sees it.
4. **Reset** exactly the saved backfill progress its pages proved
   (:func:`~kalshi_lake.backfill.keys.keys_covering`): a date-scoped file is filed under its
   event's climate date, so the trades or candles units of that date's markets and their
   events; a listing (``markets``, ``events``; filed under the fetch date) is the city's
   listing for the ranges of the backfill runs that were active when it was written, so the
   event records of those ranges (their markets are listed again).
5. **Re-fetch** through :func:`~kalshi_lake.backfill.run_backfill` over the span of the
   affected dates (finished events in it are skipped; its lease, limiter and summary as usual),
   then **transform** the city like ``backfill`` does.

Exit: 0 repaired (or nothing unreadable), 3 when the re-fetch or the transform was incomplete
(:class:`RepairIncomplete`; a re-run resumes from the saved record), 2 on usage errors.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pyarrow as pa

from kalshi_lake.backfill import BackfillSummary, run_backfill
from kalshi_lake.backfill.keys import EVENT_PREFIX, keys_covering
from kalshi_lake.cities import City, get_city
from kalshi_lake.config import Settings
from kalshi_lake.errors import FetchIncompleteError, LockedError, RunIncomplete, UnknownCityError
from kalshi_lake.lake.lock import Lease
from kalshi_lake.lake.raw import RAW_SCHEMA
from kalshi_lake.lake.state import StateStore, new_run_id, read_run_records
from kalshi_lake.lake.storage import Lake
from kalshi_lake.log import get_logger

log = get_logger(__name__)

#: Where bad raw files are moved: ``_quarantine/<repair run id>/raw/...``. The leading ``_``
#: keeps engines that read whole folders (Spark, Hive, Athena) out of it.
QUARANTINE_DIR = "_quarantine"
#: Endpoints filed under the fetch date (README "The lake"): one file stands for what a whole
#: run listed. ``markets`` also holds one event's listing, filed under that event's date.
FETCH_DATED = frozenset({"markets", "events", "series", "cutoff"})
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


@dataclass(frozen=True)
class BadFile:
    """A raw file that cannot be read whole, why, and where it was moved."""

    file: RawFileRef
    reason: str
    quarantined: str = ""
    reset: bool = False  # the saved progress its pages proved was reset

    def to_state(self) -> dict[str, Any]:
        """JSON-able record."""
        f = self.file
        return {
            "rel": f.rel,
            "endpoint": f.endpoint,
            "city": f.city,
            "date": f.date.isoformat(),
            "size": f.size,
            "reason": self.reason,
            "quarantined": self.quarantined,
            "reset": self.reset,
        }

    @classmethod
    def from_state(cls, rec: dict[str, Any]) -> BadFile:
        """From :meth:`to_state`."""
        ref = RawFileRef(
            str(rec["rel"]),
            str(rec["endpoint"]),
            str(rec["city"]),
            dt.date.fromisoformat(str(rec["date"])),
            int(rec.get("size") or 0),
        )
        return cls(
            ref,
            str(rec.get("reason", "")),
            str(rec.get("quarantined", "")),
            bool(rec.get("reset")),
        )


@dataclass
class CityRepair:
    """What the repair of one city found and did."""

    city: str
    scanned: int = 0
    bad: list[BadFile] = field(default_factory=list)
    resumed: int = 0  # bad files of an earlier, unfinished repair
    reset_keys: int = 0
    span: tuple[dt.date, dt.date] | None = None
    backfill: BackfillSummary | None = None
    fetch_error: str = ""
    transform: Any = None  # TransformSummary
    transform_error: str = ""
    transform_note: str = ""


@dataclass
class RepairSummary:
    """The outcome of :func:`run_repair`, per city."""

    lake: str
    run_id: str
    cities: list[CityRepair] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def scanned(self) -> int:
        """Raw files probed."""
        return sum(c.scanned for c in self.cities)

    @property
    def unreadable(self) -> int:
        """Unreadable raw files found by this run or left by an unfinished earlier one."""
        return sum(len(c.bad) for c in self.cities)

    @property
    def complete(self) -> bool:
        """True when every re-fetch and transform finished."""
        return not any(c.fetch_error or c.transform_error for c in self.cities)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "lake": self.lake,
            "run_id": self.run_id,
            "scanned": self.scanned,
            "unreadable": self.unreadable,
            "elapsed_s": self.elapsed_s,
            "cities": [
                {
                    "city": c.city,
                    "scanned": c.scanned,
                    "unreadable": [b.to_state() for b in c.bad],
                    "reset_keys": c.reset_keys,
                    "span": [d.isoformat() for d in c.span] if c.span else None,
                    "backfill": c.backfill.as_dict() if c.backfill else None,
                    "fetch_error": c.fetch_error,
                    "transform": c.transform.as_dict() if c.transform is not None else None,
                    "transform_error": c.transform_error,
                }
                for c in self.cities
            ],
        }

    def render(self) -> str:
        """A short report: what was unreadable, where it went, what was fetched again."""
        n_cities = len(self.cities)
        lines = [
            f"repair {self.lake}: {self.scanned:,} raw file(s) of {n_cities} city(ies) read, "
            f"{self.unreadable} unreadable ({self.elapsed_s:.1f}s)"
        ]
        if not self.unreadable:
            lines.append("  nothing unreadable: nothing to repair")
            return "\n".join(lines)
        for c in self.cities:
            if not c.bad:
                continue
            earlier = f" ({c.resumed} left by an earlier repair)" if c.resumed else ""
            lines.append(f"  {c.city}: {len(c.bad)} unreadable file(s){earlier}")
            for b in c.bad:
                lines.append(f"    - {b.file.rel}: {b.reason}")
                if b.quarantined:
                    lines.append(f"      quarantined to {b.quarantined}")
            if c.span:
                lo, hi = c.span
                lines.append(
                    f"    re-fetched event dates {lo}..{hi}: {c.reset_keys} saved unit(s) reset"
                )
            if c.backfill is not None:
                lines.extend("    " + line for line in c.backfill.render().splitlines())
            if c.fetch_error:
                lines.append(f"    RE-FETCH INCOMPLETE: {c.fetch_error}")
            if c.transform is not None:
                lines.extend("    " + line for line in c.transform.render().splitlines())
            if c.transform_note:
                lines.append(f"    note: {c.transform_note}")
            if c.transform_error:
                lines.append(f"    TRANSFORM INCOMPLETE: {c.transform_error}")
        return "\n".join(lines)


class RepairIncomplete(RunIncomplete):
    """The repair set the bad files aside but could not fetch or transform everything (exit 3);
    re-running ``repair`` resumes."""

    summary: RepairSummary

    def __init__(self, message: str, summary: RepairSummary) -> None:
        super().__init__(message, summary)


# --- scanning ---------------------------------------------------------------------------------


def raw_files(lake: Lake, city: str) -> list[RawFileRef]:
    """Every raw Parquet file of ``city`` (any endpoint), sorted by path."""
    out: list[RawFileRef] = []
    for endpoint in lake.ls_dirs("raw"):
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


class _ScanProgress:
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

    def __enter__(self) -> _ScanProgress:
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


def find_unreadable(
    lake: Lake, files: Sequence[RawFileRef], advance: Callable[[], None] | None = None
) -> list[BadFile]:
    """The files of ``files`` that cannot be read whole, in path order."""
    bad: list[BadFile] = []

    def one(f: RawFileRef) -> tuple[RawFileRef, str | None]:
        return f, probe(lake, f.rel)

    with ThreadPoolExecutor(max_workers=PROBE_THREADS) as pool:
        for f, reason in pool.map(one, files):
            if advance is not None:
                advance()
            if reason is not None:
                bad.append(BadFile(f, reason))
    return bad


# --- what the bad files held ------------------------------------------------------------------


def listing_ranges(lake: Lake, city: str, f: RawFileRef) -> list[tuple[dt.date, dt.date]]:
    """The event-date ranges of the backfill runs of ``city`` active when ``f`` was written
    (from its name; else on its folder's date)."""
    at = f.written_at
    out: list[tuple[dt.date, dt.date]] = []
    for rec in read_run_records(lake):
        if rec.get("command") != "backfill" or rec.get("city") != city:
            continue
        try:
            began = dt.datetime.fromisoformat(str(rec["started_at"]))
            ended = dt.datetime.fromisoformat(str(rec.get("finished_at") or rec["started_at"]))
            rng = (dt.date.fromisoformat(str(rec["start"])), dt.date.fromisoformat(str(rec["end"])))
        except (KeyError, ValueError):
            continue
        if rec.get("status") == "running":
            ended = dt.datetime.now(dt.UTC)
        if at is not None:
            active = began - dt.timedelta(seconds=5) <= at <= ended + dt.timedelta(seconds=5)
        else:
            active = began.date() <= f.date <= ended.date()
        if active:
            out.append(rng)
    return out


def lost_dates(
    lake: Lake, city: str, bad: Iterable[BadFile], state: StateStore
) -> dict[dt.date, set[str]]:
    """Event date -> endpoints whose pages of that date were in the bad files.

    A date-scoped file holds pages of its folder's date. A file filed under its fetch date
    (:data:`FETCH_DATED`) stands for every event date of the backfill runs active when it was
    written (or, with no such run, of every event the state knows); a ``markets`` file whose
    folder date is a known event date may also be that event's own listing.
    """
    lost: dict[dt.date, set[str]] = {}
    known = sorted(
        {
            dt.date.fromisoformat(str(r["date"]))
            for _, r in state.items(EVENT_PREFIX)
            if r.get("date")
        }
    )
    for b in bad:
        f = b.file
        if f.endpoint not in FETCH_DATED:
            lost.setdefault(f.date, set()).add(f.endpoint)
            continue
        ranges = listing_ranges(lake, city, f)
        if not ranges and known:
            ranges = [(known[0], known[-1])]
        if (f.endpoint == "markets" and f.date in known) or not ranges:
            lost.setdefault(f.date, set()).add(f.endpoint)
        for lo, hi in ranges:
            # The range's ends too: the re-fetch spans them even where no event was recorded.
            for d in {lo, hi, *(d for d in known if lo <= d <= hi)}:
                lost.setdefault(d, set()).add(f.endpoint)
    return lost


# --- the run ----------------------------------------------------------------------------------


def run_repair(
    settings: Settings,
    city: City | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    transform: bool = True,
) -> RepairSummary:
    """Repair ``city`` (or every city with raw files) of ``settings.lake``; see the module
    docstring. Returns the summary; raises :class:`LockedError` (exit 2) when a backfill of a
    city holds its lease, :class:`RepairIncomplete` (exit 3, with the summary) when a re-fetch
    or transform did not finish. ``transport`` replaces the network (tests)."""
    t0 = time.monotonic()
    lake = Lake.of(settings)
    summary = RepairSummary(lake=lake.url, run_id=new_run_id())
    names = [city.name] if city else _cities(lake)
    for name in names:
        try:
            the_city = get_city(name)
        except UnknownCityError:
            log.warning("skipping raw/*/city=%s: not a city of the registry", name)
            continue
        done = _repair_city(settings, lake, the_city, summary, transport)
        summary.cities.append(done)
        # Not after an incomplete re-fetch: the curated tables keep what they had until the
        # pages are back (the next repair transforms).
        if transform and done.bad and not done.fetch_error:
            _transform(settings, done)
    summary.elapsed_s = time.monotonic() - t0
    if not summary.complete:
        first = next(c for c in summary.cities if c.fetch_error or c.transform_error)
        head = f"repair of {first.city} set {len(first.bad)} unreadable file(s) aside"
        if first.fetch_error:
            msg = (
                f"{head} but could not fetch all they held ({first.fetch_error}); "
                "re-run `kalshi-lake repair` to finish"
            )
        else:
            msg = f"{head} and fetched them again, but the transform: {first.transform_error}"
        raise RepairIncomplete(msg, summary)
    return summary


def _cities(lake: Lake) -> list[str]:
    """Cities with raw files, or with an unfinished repair."""
    found: set[str] = set()
    for endpoint in lake.ls_dirs("raw"):
        found |= {d[5:] for d in lake.ls_dirs("raw", endpoint) if d.startswith("city=")}
    found |= {d[5:] for d in lake.ls_dirs("_state", "repair") if d.startswith("city=")}
    return sorted(found)


def _repair_city(
    settings: Settings,
    lake: Lake,
    city: City,
    summary: RepairSummary,
    transport: httpx.AsyncBaseTransport | None,
) -> CityRepair:
    """Scan and set aside under the city's lease, then re-fetch (the backfill takes it again)."""
    out = CityRepair(city.name)
    pending = StateStore(lake, f"repair/city={city.name}")
    lease = Lease(
        lake,
        f"backfill/{city.name}",
        ttl_s=settings.lease_ttl_s,
        purpose=f"repair run {summary.run_id}",
    )
    with lease:
        pending.load()
        files = raw_files(lake, city.name)
        out.scanned = len(files)
        with _ScanProgress(
            settings.progress, len(files), city.name, settings.progress_interval_s
        ) as shown:
            found = find_unreadable(lake, files, shown.advance)
        _set_aside(lake, city.name, found, pending, lease, summary.run_id, out)
    if out.span is None:
        return out
    try:
        out.backfill = run_backfill(
            settings,
            city,
            out.span[0],
            out.span[1],
            candle_window=_last_candle_window(lake, city.name),
            transport=transport,
        )
    except FetchIncompleteError as exc:
        out.backfill = exc.summary  # type: ignore[assignment]
        out.fetch_error = str(exc)
        return out
    # Done: forget the record (the quarantined bytes stay).
    pending.load()
    pending.commit({k: None for k, _ in pending.items()}, run_id=summary.run_id)
    return out


def _set_aside(
    lake: Lake,
    city: str,
    found: list[BadFile],
    pending: StateStore,
    lease: Lease,
    run_id: str,
    out: CityRepair,
) -> None:
    """Record, quarantine and reset (module docstring, steps 2-4); fills ``out.bad``,
    ``out.span`` (None: nothing to do) and ``out.reset_keys``."""
    # An earlier repair's files are moved and reset already, unless found here again (it
    # stopped before moving them: this run moves and resets them).
    again = {b.file.rel for b in found}
    earlier = [
        BadFile.from_state(r) for _, r in pending.items("file/") if r.get("rel") not in again
    ]
    if not found and not earlier:
        return
    state = StateStore(lake, f"backfill/city={city}").load()
    lost = lost_dates(lake, city, [*earlier, *found], state)
    lo, hi = min(lost), max(lost)
    if prev := pending.get("span"):
        lo = min(lo, dt.date.fromisoformat(prev["start"]))
        hi = max(hi, dt.date.fromisoformat(prev["end"]))
    found = [BadFile(b.file, b.reason, f"{QUARANTINE_DIR}/{run_id}/{b.file.rel}") for b in found]
    # Record first: a run stopped anywhere below is finished by the next repair.
    lease.ensure()
    pending.commit(
        {
            **{f"file/{b.file.rel}": b.to_state() for b in found},
            "span": {"start": lo.isoformat(), "end": hi.isoformat()},
        },
        run_id=run_id,
    )
    for b in found:
        _quarantine(lake, b, lease)
    # Reset the progress the lost pages proved, once per file (recorded): resetting again
    # after an earlier repair's re-fetch began would throw away what it got.
    todo = [*[b for b in earlier if not b.reset], *found]
    if todo:
        reset = keys_covering(state.items(), lost_dates(lake, city, todo, state))
        lease.ensure()
        state.commit({k: None for k in reset}, repair_run=run_id)
        out.reset_keys = len(reset)
        done = {b.file.rel: BadFile(b.file, b.reason, b.quarantined, reset=True) for b in todo}
        pending.commit({f"file/{rel}": b.to_state() for rel, b in done.items()})
        earlier = [done.get(b.file.rel, b) for b in earlier]
        found = [done[b.file.rel] for b in found]
    out.bad = [*earlier, *found]
    out.resumed = len(earlier)
    out.span = (lo, hi)


def _quarantine(lake: Lake, bad: BadFile, lease: Lease) -> None:
    """Move ``bad`` to its quarantine path: copy its bytes, then remove the original."""
    data = lake.read_bytes(bad.file.rel)
    lake.write_bytes(data, bad.quarantined, check=lease.ensure)
    lease.ensure()
    lake.delete([bad.file.rel])
    log.info("quarantined %s (%d bytes) to %s", bad.file.rel, len(data), bad.quarantined)


def _last_candle_window(lake: Lake, city: str) -> str:
    """The ``--candle-window`` of the city's latest backfill (``full`` if none)."""
    runs = [
        r
        for r in read_run_records(lake)
        if r.get("command") == "backfill" and r.get("city") == city and r.get("candle_window")
    ]
    runs.sort(key=lambda r: str(r.get("started_at", "")))
    return str(runs[-1]["candle_window"]) if runs else "full"


def _transform(settings: Settings, out: CityRepair) -> None:
    """The city's transform, as ``backfill`` runs it after fetching (the whole city: a file
    that left may have fed any month)."""
    from kalshi_lake.transform import TransformIncomplete, run_transform

    try:
        out.transform = run_transform(settings, city=get_city(out.city))
    except TransformIncomplete as exc:
        out.transform = exc.summary
        out.transform_error = str(exc)
    except LockedError as exc:
        out.transform_note = f"transform left to the other worker: {exc}"
