"""The transform's plan: which curated partitions to rebuild or remove, and in which batches.

Pure: it takes the raw input files (:class:`RawFile`, listed by :mod:`.inputs`), the curated
files found, and each city's :class:`~kalshi_lake.transform.state.CityState`, and returns lists.

- Raw files map to curated partitions ``(city, month)``. Event- and market-scoped endpoints
  (:data:`DATE_SCOPED`) are filed under the event's climate date: the month of that date.
  Listings (``markets``, ``events``) are filed under their fetch date and may hold markets of
  any month; the state remembers the months each touches. REST order book polls
  (``orderbooks``) go to the months of the days around their fetch date
  (:func:`poll_months`). ``series``, ``cutoff`` and ``orderbook`` pages feed no curated table.
- A partition is rebuilt when its set of raw input files (or their total size) differs from
  the one it was last built from, when its last build met an unreadable input (until that
  file is gone or reads), when its curated files are not exactly the ones that build wrote,
  or always with ``full``. Partitions with no raw input left are removed.
- "Exactly the ones written" is checked without reading the curated layer: each file's size
  and change stamp (free from the listing) are compared with those recorded when it was
  written (:mod:`.write`); only a file whose stamp changed at the same size is hashed, and its
  new stamp recorded if the bytes are the same (the way git's index trusts file times).
- A partition has a *good version* when its last build used every input (none unreadable)
  and its curated files are intact: :mod:`.build` keeps that version rather than publish one
  built without an unreadable input.
- Dirty partitions are grouped into batches of about ``batch_bytes`` of raw Parquet, a month
  at a time across cities, so memory stays bounded whatever the lake's size.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from kalshi_lake.lake.storage import PARTITION_FILE, FileStat
from kalshi_lake.transform.markets import LISTING_ENDPOINTS
from kalshi_lake.transform.state import CityState, digest

#: Raw endpoints per parse group (each group is one DuckDB view over its files).
GROUPS: dict[str, frozenset[str]] = {
    "trades": frozenset({"trades"}),
    "candles": frozenset({"candlesticks", "event_candlesticks", "batch_candlesticks"}),
    "markets": frozenset({"event", "market"}),
    # Recorded WebSocket frames (raw/ws: another schema, parsed by ws_frames), filed under
    # the market's climate date like the event-scoped pages.
    "ws": frozenset({"ws"}),
    # REST order book polls (the live recorder's), filed under their UTC fetch date; their
    # markets' climate dates lie within a day or two of it (see ORDERBOOK_DAYS).
    "orderbooks": frozenset({"orderbooks"}),
}

#: Days from a poll's fetch date to the climate dates of the markets it may hold: a raw/orderbooks
#: file is an input of the months of its date shifted by each of these.
ORDERBOOK_DAYS = (-1, 0, 1, 2)
DATE_SCOPED = frozenset().union(*GROUPS.values())
LISTINGS = LISTING_ENDPOINTS
INPUT_ENDPOINTS = DATE_SCOPED | LISTINGS

Key = tuple[str, str]  # (city, month)

#: ``sha256(key, table)``: the SHA-256 of a live curated file (hex; "" if it cannot be read).
Hasher = Callable[[Key, str], str]

#: A curated file's record in the state: ``{"size": n, "stamp": s, "sha256": h}``.
Record = dict[str, object]


@dataclass(frozen=True)
class RawFile:
    """One raw Parquet file and what its path says about it."""

    rel: str
    endpoint: str
    city: str
    date: dt.date
    size: int

    @property
    def month(self) -> str:
        """``YYYY-MM`` of the folder date."""
        return self.date.strftime("%Y-%m")


@dataclass
class Batch:
    """Neighbouring dirty partitions processed together, with their date-scoped raw files."""

    keys: list[Key]
    files: list[RawFile]
    nbytes: int = 0


@dataclass
class Plan:
    """Partitions to rebuild (``dirty``) and to remove, and how many are up to date."""

    dirty: list[Key] = field(default_factory=list)
    removed: list[Key] = field(default_factory=list)
    skipped: int = 0
    #: Partitions whose last build is whole and whose curated files are intact.
    good: set[Key] = field(default_factory=set)
    #: Why a partition's curated files no longer are what its last build wrote.
    damaged: dict[Key, str] = field(default_factory=dict)
    #: Curated file records to save: same bytes under a new stamp, or first recorded.
    records: dict[Key, dict[str, Record]] = field(default_factory=dict)


def scope_months(start: dt.date | None, end: dt.date | None) -> set[str] | None:
    """The months a ``start``/``end`` scope covers (None: every month)."""
    if start is None or end is None:
        return None
    months, d = set(), start.replace(day=1)
    while d <= end:
        months.add(d.strftime("%Y-%m"))
        d = (d + dt.timedelta(days=32)).replace(day=1)
    return months


def in_scope(month: str, start: dt.date | None, end: dt.date | None) -> bool:
    """True if ``month`` (``YYYY-MM``) overlaps ``start``..``end`` (either may be open)."""
    lo = start.strftime("%Y-%m") if start else None
    hi = end.strftime("%Y-%m") if end else None
    return (lo is None or month >= lo) and (hi is None or month <= hi)


def left_out_of_scope(
    states: Mapping[str, CityState],
    known_listings: Mapping[str, Collection[str]],
    start: dt.date | None,
    end: dt.date | None,
) -> list[Key]:
    """Partitions a ``start``/``end``-scoped run leaves behind although their input changed:
    months outside the scope that a listing file new to this run touches, or that a listing
    touches and no build has recorded yet. The run does not rebuild them (it did not even list
    their event-scoped files); their state entry still names the old inputs, so the next plain
    transform finds them changed and rebuilds them. Empty for an unscoped run."""
    if start is None and end is None:
        return []
    out: set[Key] = set()
    for c, st in states.items():
        for rel, months in st.listings.items():
            new = rel not in known_listings.get(c, ())
            out.update(
                (c, m)
                for m in months
                if not in_scope(m, start, end) and (new or m not in st.partitions)
            )
    return sorted(out)


def poll_months(day: dt.date) -> list[str]:
    """The months (``YYYY-MM``) of the markets a REST order book poll of ``day`` may hold."""
    months = {(day + dt.timedelta(days=k)).strftime("%Y-%m") for k in ORDERBOOK_DAYS}
    return sorted(months)


def partition_inputs(
    raw: Sequence[RawFile], states: Mapping[str, CityState]
) -> dict[Key, list[RawFile]]:
    """The raw input files of each partition (listings: the months their state records)."""
    inputs: dict[Key, list[RawFile]] = defaultdict(list)
    for f in raw:
        if f.endpoint == "orderbooks":
            for m in poll_months(f.date):
                inputs[(f.city, m)].append(f)
        elif f.endpoint in DATE_SCOPED:
            inputs[(f.city, f.month)].append(f)
        elif f.endpoint in LISTINGS:
            for m in states[f.city].listings.get(f.rel, []):
                inputs[(f.city, m)].append(f)
    return dict(inputs)


def plan_partitions(
    inputs: Mapping[Key, list[RawFile]],
    curated: Mapping[Key, dict[str, dict[str, FileStat]]],
    states: Mapping[str, CityState],
    *,
    start: dt.date | None,
    end: dt.date | None,
    full: bool,
    sha256: Hasher,
) -> Plan:
    """Which partitions of the cities in ``states`` (within ``start``..``end``) to rebuild and
    which to remove; ``curated`` is ``(city, month) -> table -> file name -> stat`` as listed,
    and ``sha256`` hashes a live curated file (called only when a stamp changed)."""
    keys = set(inputs) | set(curated)
    for c, st in states.items():
        keys.update((c, m) for m in st.partitions)
    plan = Plan()
    for key in sorted(keys):
        c, m = key
        if c not in states or not in_scope(m, start, end):
            continue
        files = inputs.get(key)
        if not files:
            if key in curated or m in states[c].partitions:
                plan.removed.append(key)
            continue
        entry = states[c].partitions.get(m)
        nbytes = sizes(files)
        damage = None
        if entry is not None:
            damage, fresh = check_curated(key, curated.get(key, {}), entry, sha256)
            if fresh:
                plan.records[key] = fresh
            if damage is not None:
                plan.damaged[key] = damage
            elif not entry.get("partial"):
                plan.good.add(key)
        if (
            full
            or entry is None
            or entry.get("unreadable")
            or entry.get("inputs") != digest(f.rel for f in files)
            or entry.get("bytes", nbytes) != nbytes
            or damage is not None
        ):
            plan.dirty.append(key)
        else:
            plan.skipped += 1
    return plan


def sizes(files: Sequence[RawFile]) -> int:
    """The bytes of a partition's raw inputs: raw files never change, so a different total
    for the same paths means one was truncated or replaced (cheap: sizes come with the
    listing)."""
    return sum(f.size for f in files)


def check_curated(
    key: Key,
    found: Mapping[str, Mapping[str, FileStat]],
    entry: Mapping[str, object],
    sha256: Hasher,
) -> tuple[str | None, dict[str, Record]]:
    """Whether the curated folders of ``key`` hold exactly the files its last build wrote.

    Returns ``(damage, fresh)``: ``damage`` says what differs (None: nothing), ``fresh`` the
    records to save for files whose bytes are unchanged under a new stamp, or that were written
    before files were recorded (adopted as they are).
    """
    expected = set(entry.get("tables") or [])  # type: ignore[call-overload]
    if set(found) != expected:
        missing, extra = sorted(expected - set(found)), sorted(set(found) - expected)
        if missing:
            return f"curated {', '.join(missing)} file(s) missing", {}
        return f"unexpected curated {', '.join(extra)} file(s)", {}
    records: Mapping[str, Record] = entry.get("curated") or {}  # type: ignore[assignment]
    fresh: dict[str, Record] = {}
    for table in sorted(found):
        names = found[table]
        if list(names) != [PARTITION_FILE]:
            return f"curated {table} folder holds {', '.join(sorted(names))}", {}
        st = names[PARTITION_FILE]
        rec = records.get(table)
        if rec is None:
            fresh[table] = {"size": st.size, "stamp": st.stamp, "sha256": sha256(key, table)}
        elif rec.get("size") != st.size:
            return (
                f"curated {table} file changed since it was written "
                f"({st.size:,} bytes, was {int(str(rec.get('size') or 0)):,})",
                {},
            )
        elif rec.get("stamp") != st.stamp:
            if sha256(key, table) != rec.get("sha256"):
                return f"curated {table} file changed since it was written (same size)", {}
            fresh[table] = {**rec, "stamp": st.stamp}
    return None, fresh


def batches(
    dirty: Sequence[Key], inputs: Mapping[Key, list[RawFile]], batch_bytes: int
) -> Iterator[Batch]:
    """``dirty`` in batches of about ``batch_bytes`` of date-scoped raw files (at least one
    partition each), month-major: a batch holds neighbouring partitions of one time slice."""
    order = sorted(dirty, key=lambda k: (k[1], k[0]))
    batch = Batch([], [])
    seen: set[str] = set()
    for key in order:
        files = [f for f in inputs[key] if f.endpoint in DATE_SCOPED]
        size = sum(f.size for f in files)
        if batch.keys and batch.nbytes + size > batch_bytes:
            yield batch
            batch = Batch([], [])
            seen = set()
        batch.keys.append(key)
        # a poll file may be the input of two neighbouring months: listed once
        batch.files.extend(f for f in files if f.rel not in seen)
        seen.update(f.rel for f in files)
        batch.nbytes += size
    if batch.keys:
        yield batch
