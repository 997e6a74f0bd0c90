"""The transform's IO: raw pages in, curated partitions out, incremental and atomic.

Plan of a run (:func:`run_transform`):

1. List the raw layer (``raw/<endpoint>/city=<c>/date=<d>/*.parquet``) and take each city's
   transform lease (``transform/<city>``, :mod:`kalshi_lake.lake.lock`), so two transforms never
   write the same partitions (the second gets :class:`~kalshi_lake.errors.LockedError`).
2. Map raw files to curated partitions ``(city, month)``. Event- and market-scoped endpoints
   (``trades``, ``candlesticks``, ``event_candlesticks``, ``batch_candlesticks``, ``event``,
   ``market``) are filed under the event's climate date: the month of that date. Listings
   (``markets``, ``events``) are filed under their fetch date and may hold markets of any month:
   each is parsed once and the months it touches are remembered in the state
   (:mod:`kalshi_lake.transform.state`). ``series``, ``cutoff`` and ``orderbook`` pages feed no
   curated table.
3. A partition is rebuilt when its set of raw input files differs from the one it was last
   built from, when its curated files are not exactly the ones that build wrote, or always with
   ``full``. Partitions with no raw input left are removed.
4. Dirty partitions are processed in batches of about ``batch_bytes`` of raw Parquet (a month
   at a time across cities), so memory stays bounded whatever the lake's size: DuckDB parses
   the batch's pages (:mod:`~kalshi_lake.transform.parse`), polars builds the tables (pure
   functions in trades/markets/candles), and each partition's table is swapped in with
   :meth:`Lake.replace_partition` (one file, replaced atomically: a reader sees the old rows or
   the new, never a mix or nothing). The stages are pipelined: while polars builds batch N,
   a parse thread has DuckDB parse batch N+1 and two write threads encode batch N-1; a
   batch's partitions enter the state only once all its files are swapped in.

Determinism: every choice between copies of a row is made on (fetched_at, file path, the
page's row in its file, position in the page), never on processing order; everything is
computed within one partition; and every table is sorted by its key. So a full build, an
incremental one, or one resumed after ``kill -9`` write the same rows in the same order.

Bad input: a raw Parquet file that cannot be read is skipped whole, a page whose body is not a
JSON object or lacks its list is skipped, an item missing a required field is dropped; each is
reported with its file and page. The run finishes every partition with the good input, saves
its state, and then raises :class:`~kalshi_lake.transform.summary.TransformCorruptError` (or
``TransformSchemaError``), exit 3, carrying the summary. A later incremental run does not
report them again unless the partition is rebuilt (new raw input, or ``--full``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import socket
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import duckdb
import polars as pl
import pyarrow as pa

from kalshi_lake.cities import CITIES, City
from kalshi_lake.config import Settings
from kalshi_lake.errors import BadDateError
from kalshi_lake.lake.lock import DEFAULT_TTL_S, Lease, LeaseInfo
from kalshi_lake.lake.raw import ENDPOINTS
from kalshi_lake.lake.storage import PARTITION_FILE, Lake
from kalshi_lake.log import get_logger
from kalshi_lake.schemas import TABLES
from kalshi_lake.transform import candles, frames, markets, parse, trades
from kalshi_lake.transform.state import CityState, digest
from kalshi_lake.transform.summary import (
    CORRUPT_FILE,
    CORRUPT_PAGE,
    SCHEMA,
    Problem,
    TransformSummary,
)

log = get_logger(__name__)

#: Bump when a change to the transform changes its output: every partition is then rebuilt.
TRANSFORM_VERSION = 1

#: Raw endpoints per parse group (each group is one DuckDB view over its files).
GROUPS: dict[str, frozenset[str]] = {
    "trades": frozenset({"trades"}),
    "candles": frozenset({"candlesticks", "event_candlesticks", "batch_candlesticks"}),
    "markets": frozenset({"event", "market"}),
}
DATE_SCOPED = frozenset().union(*GROUPS.values())
LISTINGS = markets.LISTING_ENDPOINTS
INPUT_ENDPOINTS = DATE_SCOPED | LISTINGS

#: Default raw Parquet bytes per batch: about 0.35M trades in current-shape pages. Batches are
#: pipelined (parse of the next / build of this / writes of the last), so smaller batches keep
#: both cores busy for more of the run; with three in memory the peak RSS stays under 0.8 GiB
#: (48 MiB: 1.3-1.4 GiB and no faster; 8 MiB: no faster either; see the transform benchmark).
DEFAULT_BATCH_BYTES = 16 * 1024 * 1024

_CITY_SERIES = {c.name: c.series_ticker for c in CITIES}

#: Parquet options of each curated table (on top of the lake's zstd defaults). Dictionary
#: encoding only where values repeat (ids and prices would just cost time), statistics on the
#: columns queries filter on, and zstd level 1: curated files are rebuilt often and are
#: derived data, so encoding speed wins over the last ~6% of size (PERF: half the CPU).
_DICT = {
    "markets": ("event_ticker", "series_ticker", "date", "strike_type", "status", "result",
                "settlement_source", "tier"),
    "trades": ("market_ticker", "event_ticker", "date", "taker_side", "is_block_trade", "tier",
               "fetched_at"),
    "candles_1m": ("market_ticker", "event_ticker", "date", "source", "period_minutes"),
    "candles_5m": ("market_ticker", "event_ticker", "date", "source", "period_minutes"),
}  # fmt: skip
_STATS = {
    "markets": ("market_ticker", "event_ticker", "series_ticker", "date", "close_time"),
    "trades": ("market_ticker", "event_ticker", "date", "traded_at"),
    "candles_1m": ("market_ticker", "event_ticker", "date", "source", "bucket_start"),
    "candles_5m": ("market_ticker", "event_ticker", "date", "source", "bucket_start"),
}
#: Encodings (Parquet v2, read by DuckDB, polars, pyarrow, Spark and Trino) where they are both
#: faster and smaller than PLAIN: the 36-byte trade ids (the bulk of a trades file) skip the
#: per-value lengths (PERF: 45% less encode CPU for the column, 6% smaller), and candle bucket
#: times and counts are near-sorted integers that delta-encode into half the bytes.
_ENCODING = {
    "markets": {},
    "trades": {"trade_id": "DELTA_LENGTH_BYTE_ARRAY"},
    "candles_1m": {"bucket_start": "DELTA_BINARY_PACKED", "trade_count": "DELTA_BINARY_PACKED"},
    "candles_5m": {"bucket_start": "DELTA_BINARY_PACKED", "trade_count": "DELTA_BINARY_PACKED"},
}
WRITE_OPTIONS: dict[str, dict[str, object]] = {
    t: {
        "use_dictionary": list(_DICT[t]),
        "write_statistics": list(_STATS[t]),
        "compression_level": 1,
        # No Arrow schema in the footer: the Parquet types alone read back as the curated
        # schema (UTC timestamps, decimals, int16, date32, strings) in pyarrow, polars and
        # DuckDB, and the string-view columns we write (frames.to_arrow) read as plain strings.
        "store_schema": False,
        **({"column_encoding": _ENCODING[t]} if _ENCODING[t] else {}),
    }
    for t in TABLES
}


def write_options(table: str, arrow: pa.Table) -> dict[str, object]:
    """:data:`WRITE_OPTIONS` of ``table`` for the rows of ``arrow``: a column with no values
    (book sides of trade candles, say) is stored uncompressed. It holds only its null levels,
    a few bytes, so zstd would add a compressor setup per column and save nothing."""
    empty = {c for c, col in zip(arrow.column_names, arrow.columns, strict=True)
             if col.null_count == len(col)}  # fmt: skip
    opts = dict(WRITE_OPTIONS[table])
    if empty and arrow.num_rows:
        opts["compression"] = {c: "none" if c in empty else "zstd" for c in arrow.column_names}
        opts["compression_level"] = {
            c: opts["compression_level"] for c in arrow.column_names if c not in empty
        }
    return opts


_RAW_COLUMNS = (
    "tier",
    "page_number",
    "fetched_at",
    "series_ticker",
    "event_ticker",
    "market_ticker",
    "request_params",
    "http_status",
    "body",
)


@dataclass(frozen=True)
class TransformOptions:
    """Tuning knobs of :func:`run_transform` (the defaults suit the CLI)."""

    batch_bytes: int = DEFAULT_BATCH_BYTES
    lease_ttl_s: float = DEFAULT_TTL_S
    duckdb_memory_limit: str = "1GB"


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


Key = tuple[str, str]  # (city, month)


def run_transform(
    settings: Settings,
    *,
    city: City | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    full: bool = False,
    options: TransformOptions | None = None,
) -> TransformSummary:
    """Rebuild the curated tables from the raw layer; never touches the network.

    Incremental by default: only the ``(city, month)`` partitions whose raw input changed are
    rebuilt; ``full`` rebuilds every partition in scope. ``city`` limits the run to one city,
    ``start``/``end`` (event dates) to the months that overlap them (a month is always rebuilt
    whole). Returns a :class:`TransformSummary`. Raises :class:`LockedError` (exit 2) if another
    transform holds one of the cities, and, after finishing everything it could,
    :class:`TransformCorruptError`/:class:`TransformSchemaError` (exit 3, with ``.summary``)
    if some raw input could not be used.
    """
    if start and end and start > end:
        raise BadDateError(f"start {start} is after end {end}")
    t0 = time.perf_counter()
    opts = options or TransformOptions()
    lake = Lake.from_settings(settings)
    only = city.name if city else None
    summary = TransformSummary(lake=lake.url, full=full)
    cities = _cities(lake, only)
    if cities:
        with _hold(lake, cities, opts.lease_ttl_s):
            job = _Job(lake, cities, start, end, full, opts, summary)
            job.run()
    summary.elapsed_s = time.perf_counter() - t0
    summary.raise_for_problems()
    return summary


# --- listing -----------------------------------------------------------------------------------


def _cities(lake: Lake, only: str | None) -> list[str]:
    """Cities with raw input or curated output (or just ``only``)."""
    if only:
        return [only]
    found: set[str] = set()
    for top in ("raw", "curated"):
        for sub in lake.ls_dirs(top):
            found.update(
                d.split("=", 1)[1] for d in lake.ls_dirs(top, sub) if d.startswith("city=")
            )
    return sorted(found)


def list_raw(
    lake: Lake, cities: Sequence[str], months: Collection[str] | None = None
) -> list[RawFile]:
    """Every raw input file of ``cities``, sorted by path.

    With ``months`` (``YYYY-MM``), event- and market-scoped endpoints are listed only in the
    ``date=`` folders of those months: a transform scoped to a date range then lists a
    constant slice of the lake, not all of it. Listings (``markets``, ``events``) are filed by
    fetch date and may hold any month, so they are always listed whole.
    """
    out: list[RawFile] = []
    dates: dict[str, dt.date | None] = {}  # folder name -> date (few distinct; parse once)
    for endpoint in lake.ls_dirs("raw"):
        if endpoint not in INPUT_ENDPOINTS:
            continue
        for c in cities:
            prefix = f"raw/{endpoint}/city={c}/"
            if months is not None and endpoint in DATE_SCOPED:
                bases = [
                    lake.path(prefix + d)
                    for d in lake.ls_dirs(prefix)
                    if d.startswith("date=") and d[len("date=") : len("date=YYYY-MM")] in months
                ]
            else:
                bases = [lake.path(prefix)]
            for base in bases:
                for path, size in _files(lake, base).items():
                    tail = lake.rel(path)[len(prefix) :].split("/")  # [date=YYYY-MM-DD, name]
                    if (
                        len(tail) != 2
                        or not tail[1].endswith(".parquet")
                        or tail[1].startswith((".", "_"))
                    ):
                        continue
                    folder = tail[0]
                    if folder not in dates:
                        dates[folder] = _folder_date(folder)
                    date = dates[folder]
                    if date is None:
                        log.warning(
                            "ignoring raw file with a bad date folder: %s%s", prefix, folder
                        )
                        continue
                    out.append(RawFile(prefix + folder + "/" + tail[1], endpoint, c, date, size))
    assert all(f.endpoint in ENDPOINTS for f in out)
    return sorted(out, key=lambda f: f.rel)


def _folder_date(folder: str) -> dt.date | None:
    """The date of a ``date=YYYY-MM-DD`` folder name, or None."""
    if not folder.startswith("date="):
        return None
    try:
        return dt.date.fromisoformat(folder[len("date=") :])
    except ValueError:
        return None


def _files(lake: Lake, base: str) -> dict[str, int]:
    """Every file under ``base`` (an fsspec path) with its size; empty if it does not exist.

    Local lakes are walked with ``os.scandir`` (about 10x faster than fsspec's ``find``, which
    matters because an incremental run lists the whole raw layer); other lakes use ``find``.
    """
    if not lake.is_local:
        try:
            found = lake.fs.find(base, detail=True)
        except FileNotFoundError:
            return {}
        return {str(p): int(info.get("size") or 0) for p, info in found.items()}
    out: dict[str, int] = {}
    stack = [base]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for e in entries:
            if e.is_dir(follow_symlinks=False):
                stack.append(e.path)
            elif e.is_file():
                out[e.path] = e.stat().st_size
    return out


def list_curated(lake: Lake, cities: Sequence[str]) -> dict[Key, dict[str, list[str]]]:
    """``(city, month) -> table -> file names`` of the curated layer (temp files excluded)."""
    out: dict[Key, dict[str, list[str]]] = defaultdict(dict)
    for table in TABLES:
        for c in cities:
            for path in _files(lake, lake.path("curated", table, f"city={c}")):
                parts = lake.rel(path).split("/")
                if (
                    len(parts) != 5
                    or not parts[3].startswith("month=")
                    or parts[4].endswith(".tmp")
                ):
                    continue
                out[(c, parts[3][len("month=") :])].setdefault(table, []).append(parts[4])
    return dict(out)


# --- leases ------------------------------------------------------------------------------------


def _clear_dead_holder(lease: Lease) -> None:
    """Free a local lease whose holder was a process of this host that no longer exists.

    Leases otherwise expire only after their TTL; on one machine we can tell at once that the
    holder is gone (``kill -9``), so a re-run right after a crash need not wait. The check and
    the removal run under the lease's own guard lock, so a live holder is never removed.
    """
    if not lease.lake.is_local:
        return
    with lease._guard():  # the lease module's flock guard for read-modify-write
        try:
            info = LeaseInfo.from_json(lease.lake.read_bytes(lease.rel))
        except (FileNotFoundError, OSError):
            return
        if info is None or info.host != socket.gethostname() or info.pid == os.getpid():
            return
        try:
            os.kill(info.pid, 0)
        except ProcessLookupError:
            log.info("transform lease %s: holder pid %d is gone, taking over", lease.name, info.pid)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lease.path)
        except PermissionError:
            return


@contextlib.contextmanager
def _hold(lake: Lake, cities: Sequence[str], ttl_s: float) -> Iterator[list[Lease]]:
    """Hold ``transform/<city>`` for every city (taken in sorted order)."""
    with contextlib.ExitStack() as stack:
        leases = []
        for c in sorted(set(cities)):
            lease = Lease(lake, f"transform/{c}", ttl_s=ttl_s, purpose=f"transform {c}")
            _clear_dead_holder(lease)
            leases.append(stack.enter_context(lease))
        yield leases


# --- the job -----------------------------------------------------------------------------------


@dataclass
class _Batch:
    keys: list[Key]
    files: list[RawFile]
    nbytes: int = 0


@dataclass
class _Parsed:
    """A batch's pages parsed into good rows (problems already reported)."""

    batch: _Batch
    rows: dict[str, pl.DataFrame]  # markets, trades, pages, candles
    seconds: float

    def take(self, name: str) -> pl.DataFrame:
        """Hand over one frame: the build frees each as soon as it is done with it (the next
        batch's parse is in memory at the same time)."""
        return self.rows.pop(name)


@dataclass
class _Pending:
    """A batch whose partition writes are in flight."""

    keys: list[Key]
    futures: list[Future[None]]
    entries: dict[Key, dict[str, object]]


@dataclass
class _Job:
    lake: Lake
    cities: list[str]
    start: dt.date | None
    end: dt.date | None
    full: bool
    opts: TransformOptions
    summary: TransformSummary
    raw: list[RawFile] = field(default_factory=list)
    fid: dict[str, int] = field(default_factory=dict)
    states: dict[str, CityState] = field(default_factory=dict)
    con: duckdb.DuckDBPyConnection | None = None
    pool: ThreadPoolExecutor | None = None
    listing_markets: pl.DataFrame | None = None
    listing_events: pl.DataFrame | None = None
    _parsed_listings: set[str] = field(default_factory=set)
    _listing_market_parts: list[pl.DataFrame] = field(default_factory=list)
    _listing_event_parts: list[pl.DataFrame] = field(default_factory=list)
    _empty: dict[str, pl.DataFrame] = field(default_factory=dict)

    # --- top level ---------------------------------------------------------------------------
    def run(self) -> None:
        self.raw = list_raw(self.lake, self.cities, self._scope_months())
        self.fid = {f.rel: i for i, f in enumerate(self.raw)}
        curated = list_curated(self.lake, self.cities)
        self.states = {c: CityState.load(self.lake, c, TRANSFORM_VERSION) for c in self.cities}
        # DuckDB creates its spill folder only if it spills and removes it on close, so a
        # killed transform leaves nothing behind unless it was spilling at that moment.
        spill = os.path.join(tempfile.gettempdir(), f"kalshi-lake-transform-{secrets.token_hex(6)}")
        with ThreadPoolExecutor(
            max_workers=2, thread_name_prefix="transform-write", initializer=_lower_priority
        ) as pool:
            self.con = self._connect(spill)
            self.pool = pool
            try:
                self._index_listings()
                inputs = self._inputs()
                dirty, removed = self._plan(inputs, curated)
                self._load_listing_rows(dirty, inputs)
                self._run_batches(self._batches(dirty, inputs), inputs)
                for key in removed:
                    self._remove(key)
                for st in self.states.values():
                    st.save(self.lake)  # e.g. newly indexed listings (a no-op if unchanged)
            finally:
                self.con.close()
                self.con = None

    def _connect(self, spill: str) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(
            config={
                "autoinstall_known_extensions": False,
                "autoload_known_extensions": False,
                "memory_limit": self.opts.duckdb_memory_limit,
                "temp_directory": spill,
            }
        )
        # Order of pages is irrelevant (we sort); not preserving it lets DuckDB stream freely.
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")
        # Strings leave DuckDB as Arrow string views, polars' own layout: no re-encoding of
        # every trade id and ticker on the way into the build (PERF: ~3% of the transform).
        con.execute("SET arrow_output_version = '1.5'")
        con.execute("SET produce_arrow_string_view = true")
        self.lake.duckdb_register(con)
        parse.prepare(con)
        return con

    def _scope_months(self) -> set[str] | None:
        """The months a ``start``/``end`` scope covers (None: every month)."""
        if self.start is None or self.end is None:
            return None
        months, d = set(), self.start.replace(day=1)
        while d <= self.end:
            months.add(d.strftime("%Y-%m"))
            d = (d + dt.timedelta(days=32)).replace(day=1)
        return months

    def _in_scope(self, month: str) -> bool:
        lo = self.start.strftime("%Y-%m") if self.start else None
        hi = self.end.strftime("%Y-%m") if self.end else None
        return (lo is None or month >= lo) and (hi is None or month <= hi)

    # --- listings ----------------------------------------------------------------------------
    def _index_listings(self) -> None:
        """Make sure every listing file's set of months is known (parsing new ones)."""
        present = {f.rel for f in self.raw if f.endpoint in LISTINGS}
        for st in self.states.values():
            st.listings = {k: v for k, v in st.listings.items() if k in present}
        todo = [
            f
            for f in self.raw
            if f.endpoint in LISTINGS and (self.full or f.rel not in self.states[f.city].listings)
        ]
        if not todo:
            return
        mk, ev = self._parse_listings(todo)
        months: dict[str, set[str]] = {f.rel: set() for f in todo}
        rel_of = {self.fid[f.rel]: f.rel for f in todo}
        for df in (mk, ev):
            if df.height:
                for fid, month in df.select("fid", "month").unique().iter_rows():
                    months[rel_of[fid]].add(month)
        for f in todo:
            self.states[f.city].listings[f.rel] = sorted(months[f.rel])

    def _parse_listings(self, files: list[RawFile]) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Parse listing files; keep their rows for the build and return them."""
        files = [f for f in files if f.rel not in self._parsed_listings]
        self._parsed_listings.update(f.rel for f in files)
        eps = {f.endpoint for f in files}
        mk, ev = self._query(
            "listing_pages",
            files,
            _only(parse.parse_markets, eps),
            parse.parse_events,
        )
        mk, probs = parse.split_problems(mk)
        self._report(probs)
        ev, _ = parse.split_problems(ev)  # the same pages: already reported above
        mk = markets.listing_dates(mk).with_columns(month=pl.col("date").dt.strftime("%Y-%m"))
        ev = markets.listing_dates(ev, "event_ticker").with_columns(
            month=pl.col("date").dt.strftime("%Y-%m")
        )
        # Keep only the latest copy per (city, month, ticker): the markets table wants the
        # latest state, so older listing copies can never matter (this keeps memory small).
        if mk.height:
            self._listing_market_parts.append(
                trades.latest_per_key(mk, ["city", "month", "market_ticker"])
            )
        if ev.height:
            self._listing_event_parts.append(
                trades.latest_per_key(ev, ["city", "month", "event_ticker"])
            )
        return mk, ev

    def _load_listing_rows(self, dirty: list[Key], inputs: dict[Key, list[RawFile]]) -> None:
        """Parse the listing files the dirty partitions need (not parsed yet) and reduce."""
        need = {f.rel: f for k in dirty for f in inputs[k] if f.endpoint in LISTINGS}
        todo = [need[r] for r in sorted(need) if r not in self._parsed_listings]
        if todo:
            self._parse_listings(todo)
        if self._listing_market_parts:
            mk = pl.concat(self._listing_market_parts, how="vertical_relaxed")
            self.listing_markets = trades.latest_per_key(mk, ["city", "month", "market_ticker"])
        if self._listing_event_parts:
            ev = pl.concat(self._listing_event_parts, how="vertical_relaxed")
            self.listing_events = trades.latest_per_key(ev, ["city", "month", "event_ticker"])
        self._listing_market_parts, self._listing_event_parts = [], []

    # --- planning ----------------------------------------------------------------------------
    def _inputs(self) -> dict[Key, list[RawFile]]:
        inputs: dict[Key, list[RawFile]] = defaultdict(list)
        for f in self.raw:
            if f.endpoint in DATE_SCOPED:
                inputs[(f.city, f.month)].append(f)
            elif f.endpoint in LISTINGS:
                for m in self.states[f.city].listings.get(f.rel, []):
                    inputs[(f.city, m)].append(f)
        return dict(inputs)

    def _plan(
        self, inputs: dict[Key, list[RawFile]], curated: dict[Key, dict[str, list[str]]]
    ) -> tuple[list[Key], list[Key]]:
        keys = set(inputs) | set(curated)
        for c, st in self.states.items():
            keys.update((c, m) for m in st.partitions)
        dirty, removed = [], []
        for key in sorted(keys):
            c, m = key
            if c not in self.states or not self._in_scope(m):
                continue
            files = inputs.get(key)
            if not files:
                if key in curated or m in self.states[c].partitions:
                    removed.append(key)
                continue
            entry = self.states[c].partitions.get(m)
            if (
                self.full
                or entry is None
                or entry.get("inputs") != digest(f.rel for f in files)
                or not _curated_matches(curated.get(key, {}), entry.get("tables", []))
            ):
                dirty.append(key)
            else:
                self.summary.skipped += 1
        return dirty, removed

    def _batches(self, dirty: list[Key], inputs: dict[Key, list[RawFile]]) -> Iterator[_Batch]:
        # Month-major order: a batch holds neighbouring partitions of one time slice.
        order = sorted(dirty, key=lambda k: (k[1], k[0]))
        batch = _Batch([], [])
        for key in order:
            files = [f for f in inputs[key] if f.endpoint in DATE_SCOPED]
            size = sum(f.size for f in files)
            if batch.keys and batch.nbytes + size > self.opts.batch_bytes:
                yield batch
                batch = _Batch([], [])
            batch.keys.append(key)
            batch.files.extend(files)
            batch.nbytes += size
        if batch.keys:
            yield batch

    # --- batches -----------------------------------------------------------------------------
    def _run_batches(self, batches: Iterator[_Batch], inputs: dict[Key, list[RawFile]]) -> None:
        """Parse, build and write ``batches``, three deep.

        Pipelined: while the main thread builds batch N with polars, a parse thread has DuckDB
        parse batch N+1's pages and the write pool encodes batch N-1's partitions (DuckDB,
        polars and Arrow all release the GIL, so the stages share the two cores instead of
        taking turns). A batch's state is saved once its writes are done. Only the parse
        thread touches the DuckDB connection while batches run, and problems are reported in
        the parse stage, in batch order.
        """
        # DuckDB parses on the parse thread alone: the build and the writes keep the other
        # core busy, and a second DuckDB worker only competed with them (PERF: 9% less CPU,
        # 5% faster end to end, 15% less memory). The listing pre-pass keeps both threads.
        assert self.con is not None
        self.con.execute("SET threads = 1")
        # The parse pool is shut down (waiting for a parse in flight) before the caller
        # closes the connection, also when the build raises.
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="transform-parse") as parser:
            ahead: Future[_Parsed] | None = None
            batch = next(batches, None)
            if batch is not None:
                ahead = parser.submit(self._parse, batch)
            pending: _Pending | None = None
            while ahead is not None:
                parsed = ahead.result()
                batch = next(batches, None)
                ahead = parser.submit(self._parse, batch) if batch is not None else None
                submitted = self._build(parsed, inputs)
                del parsed
                if pending is not None:
                    self._finish(pending)
                pending = submitted
            if pending is not None:
                self._finish(pending)

    def _parse(self, batch: _Batch) -> _Parsed:
        """Parse one batch's raw pages into good rows (runs in the parse thread)."""
        t0 = time.perf_counter()
        by_group = {g: [f for f in batch.files if f.endpoint in eps] for g, eps in GROUPS.items()}
        eps = {g: {f.endpoint for f in files} for g, files in by_group.items()}
        [mk] = self._query(
            "pages_markets", by_group["markets"], _only(parse.parse_markets, eps["markets"])
        )
        mk = self._good(mk)
        tr, pages = self._query(
            "pages_trades", by_group["trades"], parse.parse_trades, parse.parse_pages
        )
        tr = self._good(tr)
        [cd] = self._query(
            "pages_candles", by_group["candles"], _only(parse.parse_candles, eps["candles"])
        )
        cd = self._good(cd)
        rows = {"markets": mk, "trades": tr, "pages": pages, "candles": cd}
        return _Parsed(batch, rows, time.perf_counter() - t0)

    def _build(self, parsed: _Parsed, inputs: dict[Key, list[RawFile]]) -> _Pending:
        """Build one parsed batch and submit its partition writes (not waited for)."""
        t0 = time.perf_counter()
        batch = parsed.batch
        part_of_key = {k: i for i, k in enumerate(batch.keys)}
        fid_part = {self.fid[f.rel]: part_of_key[(f.city, f.month)] for f in batch.files}
        self.summary.raw_files += len(batch.files)

        # markets and events (date-scoped pages + the reduced listing rows of these months)
        mk = parsed.take("markets")
        # Event pages name their event's series; the markets parsed from them carry it as
        # parent_* (one scan of the small, numerous event files instead of two).
        ev = mk.filter(pl.col("parent_event_ticker").is_not_null()).select(
            "city", "date", "endpoint", "fid", "row", "page_number", "idx", "tier", "fetched_at",
            event_ticker="parent_event_ticker", series_ticker="parent_series_ticker",
        )  # fmt: skip
        mk = _with_part(mk, fid_part)
        ev = _with_part(ev, fid_part)
        keys = pl.DataFrame(
            {
                "city": [k[0] for k in batch.keys],
                "month": [k[1] for k in batch.keys],
                "part": pl.Series(range(len(batch.keys)), dtype=pl.Int32),
            }
        )
        if self.listing_markets is not None:
            lm = self.listing_markets.join(keys, on=["city", "month"], how="inner").drop("month")
            mk = pl.concat([mk, lm.select(mk.columns)], how="vertical_relaxed")
        if self.listing_events is not None:
            le = self.listing_events.join(keys, on=["city", "month"], how="inner").drop("month")
            ev = pl.concat([ev, le.select(ev.columns)], how="vertical_relaxed")
        market_table = markets.build_markets(mk, ev, _CITY_SERIES)
        market_events = market_table.select("part", "market_ticker", "event_ticker")
        del mk, ev

        # trades and trade candles
        tr = _with_part(parsed.take("trades"), fid_part)
        trade_table = trades.build_trades(tr, market_events, parsed.take("pages"))
        self.summary.trades_read += tr.height
        self.summary.duplicates += tr.height - trade_table.height
        del tr
        t1m, t5m = candles.trade_candles(trade_table)

        # api candles
        cd = _with_part(parsed.take("candles"), fid_part)
        a1m, a5m = candles.api_candles(cd, market_events)
        del cd

        outputs = {
            "markets": market_table,
            "trades": trade_table,
            "candles_1m": _merge_candles(a1m, t1m),
            "candles_5m": _merge_candles(a5m, t5m),
        }
        del t1m, t5m, a1m, a5m
        written: dict[Key, list[str]] = {k: [] for k in batch.keys}
        # Parquet encoding is single-threaded per file: write two partitions at a time.
        assert self.pool is not None
        futures = []
        for table, df in outputs.items():
            parts = _split_parts(df)
            for i, key in enumerate(batch.keys):
                piece = parts.get(i)
                futures.append(self.pool.submit(self._publish, key, table, piece))
                if piece is not None and piece.height:
                    written[key].append(table)
                    self.summary.rows[table] = self.summary.rows.get(table, 0) + piece.height
            self.summary.rows.setdefault(table, 0)
        del outputs, parts, piece
        entries = {
            key: {
                "inputs": digest(f.rel for f in inputs[key]),
                "files": len(inputs[key]),
                "tables": sorted(written[key]),
            }
            for key in batch.keys
        }
        log.info(
            "built %d partition(s) from %d raw files (%.1f MB): parsed in %.2fs, built in "
            "%.2fs; writing",
            len(batch.keys),
            len(batch.files),
            batch.nbytes / 1e6,
            parsed.seconds,
            time.perf_counter() - t0,
        )
        return _Pending(batch.keys, futures, entries)

    def _finish(self, pending: _Pending) -> None:
        """Wait for a batch's writes, then record its partitions as built."""
        for fut in pending.futures:
            fut.result()  # every partition is swapped in before the state says so
        for key in pending.keys:
            c, m = key
            self.states[c].partitions[m] = pending.entries[key]
            self.summary.rebuilt.append(key)
        for c in sorted({k[0] for k in pending.keys}):
            self.states[c].save(self.lake)

    def _publish(self, key: Key, table: str, df: pl.DataFrame | None) -> None:
        folder = f"curated/{table}/city={key[0]}/month={key[1]}"
        if df is None or df.height == 0:
            self.lake.drop_partition(folder)
        else:
            arrow = frames.to_arrow(df, table, string_views=True)
            self.lake.replace_partition(folder, arrow, **write_options(table, arrow))
        self._clean_tmp(folder)
        if df is None or df.height == 0:
            self._rmdir(folder)

    def _clean_tmp(self, folder: str) -> None:
        """Remove temp files a killed transform left in ``folder``.

        ``replace_partition`` only sweeps old ones (a live writer may own a young one); we hold
        the city's transform lease, so no other writer of this partition can be running.
        """
        if not self.lake.is_local:
            return  # object stores: writes are single PUTs, nothing is left behind
        with contextlib.suppress(FileNotFoundError):
            for name in os.listdir(self.lake.path(folder)):
                if name.endswith(".tmp"):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(self.lake.path(folder, name))

    def _remove(self, key: Key) -> None:
        for table in TABLES:
            self._publish(key, table, None)
        c, m = key
        self.states[c].partitions.pop(m, None)
        self.states[c].save(self.lake)
        self.summary.removed.append(key)

    def _rmdir(self, folder: str) -> None:
        """Remove an empty local partition folder (object stores have no folders)."""
        if self.lake.is_local:
            with contextlib.suppress(OSError):
                os.rmdir(self.lake.path(folder))

    # --- DuckDB over raw files ---------------------------------------------------------------
    def _query(
        self,
        name: str,
        files: list[RawFile],
        *fns: Callable[[duckdb.DuckDBPyConnection, str], pl.DataFrame],
    ) -> list[pl.DataFrame]:
        """``[fn(con, pages) for fn in fns]`` over the raw pages of ``files``.

        ``pages`` is a view over the files (:meth:`_view`). A file DuckDB cannot read is found,
        reported and left out, and the queries re-run.
        """
        assert self.con is not None
        con = self.con
        files = list(files)
        if not files:
            # Same typed empty frames every time; no need to plan the queries per batch.
            out = []
            for fn in fns:
                key = getattr(fn, "__name__", repr(fn))
                if key not in self._empty:
                    self._view(name, [])
                    self._empty[key] = fn(con, name)
                out.append(self._empty[key])
            return out
        while True:
            t0 = time.perf_counter()
            try:
                # Creating the view reads every footer; the queries read the pages.
                self._view(name, files)
                out = [fn(con, name) for fn in fns]
                log.debug(
                    "%s: %d files, %d rows in %.2fs",
                    name,
                    len(files),
                    sum(df.height for df in out),
                    time.perf_counter() - t0,
                )
                return out
            except duckdb.Error as exc:
                bad = self._unreadable(files)
                if not bad:
                    raise
                log.warning(
                    "skipping %d unreadable raw file(s): %s", len(bad), str(exc).splitlines()[0]
                )
                files = [f for f in files if f.rel not in bad]

    def _view(self, name: str, files: list[RawFile]) -> None:
        """A view ``name`` of the raw pages of ``files`` with :data:`parse.PAGE_COLUMNS`.

        The file's id, city, date and endpoint are looked up per page from lists held in
        session variables (a join on the file name would make DuckDB buffer the pages).
        """
        assert self.con is not None
        con = self.con
        with contextlib.suppress(duckdb.Error):
            con.unregister(name)
        con.execute(f"DROP VIEW IF EXISTS {name}")
        if not files:
            con.register(name, parse.pages_table([]))
            return
        uris = [self.lake.uri(f.rel) for f in files]
        for var, values in (
            ("uri", uris),
            ("fid", [self.fid[f.rel] for f in files]),
            ("city", [f.city for f in files]),
            ("date", [f.date.isoformat() for f in files]),
            ("endpoint", [f.endpoint for f in files]),
        ):
            con.execute(f"SET VARIABLE {name}_{var} = ?", [values])
        cols = ", ".join(_RAW_COLUMNS)
        # No union_by_name: every raw file has RAW_SCHEMA, and reading each footer twice
        # costs more than the page parse for small files; a file that does not match is
        # reported as unreadable like any other.
        con.execute(
            f"CREATE VIEW {name} AS SELECT "
            f"CAST(getvariable('{name}_fid')[kl_pos] AS INTEGER) AS fid, "
            f"getvariable('{name}_city')[kl_pos] AS city, "
            f"CAST(getvariable('{name}_date')[kl_pos] AS DATE) AS date, "
            f"getvariable('{name}_endpoint')[kl_pos] AS endpoint, row, {cols} "
            f"FROM (SELECT list_position(getvariable('{name}_uri'), filename) AS kl_pos, "
            f"file_row_number AS row, {cols} "
            f"FROM read_parquet({_sql_list(uris)}, filename = true, file_row_number = true))"
        )

    def _unreadable(self, files: list[RawFile]) -> set[str]:
        """Paths of files DuckDB cannot read whole; each is reported."""
        assert self.con is not None
        bad: set[str] = set()
        checks = ", ".join(
            f"count({c})"
            if c in ("page_number", "fetched_at", "http_status")
            else f"sum(length({c}))"
            for c in _RAW_COLUMNS
        )
        for f in files:
            try:
                self.con.execute(
                    f"SELECT {checks} FROM read_parquet({_sql_str(self.lake.uri(f.rel))})"
                ).fetchall()
            except duckdb.Error as exc:
                bad.add(f.rel)
                reason = str(exc).splitlines()[0][:200]
                self.summary.problems.append(
                    Problem(
                        CORRUPT_FILE, f.rel, None, f"unreadable Parquet file, skipped: {reason}"
                    )
                )
        return bad

    def _good(self, df: pl.DataFrame, report: bool = True) -> pl.DataFrame:
        good, problems = parse.split_problems(df)
        if report:
            self._report(problems)
        return good

    def _report(self, problems: pl.DataFrame) -> None:
        if problems.height == 0:
            return
        for fid, page, msg, items in problems.iter_rows():
            kind = CORRUPT_PAGE if msg.startswith("corrupt body") else SCHEMA
            self.summary.problems.append(Problem(kind, self.raw[fid].rel, page, msg, int(items)))


def _only(
    fn: Callable[..., pl.DataFrame], endpoints: set[str]
) -> Callable[[duckdb.DuckDBPyConnection, str], pl.DataFrame]:
    """``fn`` restricted to the endpoints present (parsers that take ``endpoints``)."""

    def run(con: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
        return fn(con, name, endpoints)

    run.__name__ = f"{fn.__name__}:{','.join(sorted(endpoints))}"
    return run


def _merge_candles(api: pl.DataFrame, own: pl.DataFrame) -> pl.DataFrame:
    """api and trade candles (each sorted by part, market, bucket) in the table's order."""
    if api.height == 0:
        return own
    if own.height == 0:
        return api
    return trades.sort_by_ticker(
        pl.concat([api, own]), ["part", "market_ticker", "source", "bucket_start"]
    )


#: Niceness added to the write threads (Linux applies it per thread).
WRITER_NICE = 5


def _lower_priority() -> None:
    """Run the calling write thread at a lower CPU priority than the parse and build threads.

    Four threads share two cores, and the parse thread is the pipeline's critical path: the
    writes of a batch have until the next batch is built to finish. Left equal, the scheduler
    splits a core between a writer and the parse, and everything waits for the parse (PERF:
    with the writers at nice 5, 4% faster end to end and 3% less CPU, interleaved runs).
    Only the pool's own threads are reniced, and they end with the transform.
    """
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WRITER_NICE)


def _split_parts(df: pl.DataFrame) -> dict[int, pl.DataFrame]:
    """``df``'s rows per ``part`` value, in their order.

    Every output table is sorted by ``part`` first, so each part is a run of rows and its
    piece is a zero-copy slice (PERF: ``partition_by`` gathers every column, about 4% of the
    transform). An unsorted frame still goes through ``partition_by``.
    """
    if df.height == 0:
        return {}
    part = df["part"]
    if part.null_count() or not part.is_sorted():
        split = df.partition_by("part", as_dict=True, maintain_order=True)
        return {int(k[0]): v for k, v in split.items()}  # type: ignore[call-overload]
    runs = part.rle().struct.unnest()
    out, offset = {}, 0
    for length, value in zip(runs["len"].to_list(), runs["value"].to_list(), strict=True):
        out[int(value)] = df.slice(offset, length)
        offset += length
    return out


def _with_part(df: pl.DataFrame, fid_part: dict[int, int]) -> pl.DataFrame:
    """Add ``part`` (the batch's partition index) from each row's file."""
    return df.with_columns(
        part=pl.col("fid").replace_strict(fid_part, default=None, return_dtype=pl.Int32)
    )


def _curated_matches(found: dict[str, list[str]], expected: Sequence[str]) -> bool:
    """True if the curated folders hold exactly the files the last build wrote."""
    if set(found) != set(expected):
        return False
    return all(names == [PARTITION_FILE] for names in found.values())


def _sql_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(_sql_str(i) for i in items) + "]"


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"
