"""run_transform(): raw pages in, curated partitions out, incremental and atomic.

A run, step by step (each step's module says how):

1. Take each city's transform lease (``transform/<city>``, :mod:`kalshi_lake.lake.lock`), so
   two transforms never write the same partitions (the second gets
   :class:`~kalshi_lake.errors.LockedError`).
2. List the raw and curated layers (:mod:`.inputs`), load each city's state
   (:mod:`.state`), index new listing files (:mod:`.listings`) and plan which ``(city, month)``
   partitions to rebuild or remove, in batches (:mod:`.plan`).
3. Run the batches through the pipeline (:mod:`.pipeline`): DuckDB parses a batch's pages
   (:mod:`.rawdb`, :mod:`.parse`), polars builds its tables (:mod:`.batch`: pure functions in
   trades/markets/candles), and each partition's table is swapped in (:mod:`.write`: one file,
   replaced atomically, so a reader sees the old rows or the new, never a mix or nothing). A
   batch's partitions enter the state only once all its files are swapped in.
4. Remove the partitions with no raw input left and save the states.

Before every durable commit (a partition swapped in or removed, a state saved) the city's
lease is checked (:meth:`Lease.ensure`): a transform paused past its lease's expiry, whose
lease another worker took over meanwhile, stops with LockedError instead of writing.

Determinism: every choice between copies of a row is made on (fetched_at, file path, the
page's row in its file, position in the page), never on processing order; everything is
computed within one partition; and every table is sorted by its key. So a full build, an
incremental one, or one resumed after ``kill -9`` write the same rows in the same order.

Bad input: a page whose body is not a JSON object or lacks its list is skipped, an item
missing a required field is dropped; each is reported with its file and page. A raw Parquet file
that cannot be read is skipped whole and reported, and a hole never hides:

- a partition with an unreadable input that has a good version (its last build used every
  input, and its curated files are what that build wrote) keeps it: nothing is published, and
  a ``kept`` problem names the partition and the file;
- a partition without one is built from the good input, and its state entry notes the file
  (``partial``);
- either way the state entry lists the unreadable files, so every later run, plain or
  incremental, rebuilds the partition, reports the file and exits 3 again, until the file is
  gone or reads (then the partition is rebuilt like any other). An unreadable listing never
  indexed is tried again on every run for the same reason (:mod:`.listings`).

The run finishes every partition it can, saves its states, and then raises
:class:`~kalshi_lake.transform.summary.TransformCorruptError` (or ``TransformSchemaError``),
exit 3, carrying the summary; its message names the first file and the fix (``kalshi-lake
repair --city <city>``, or remove the file).

Damaged output: each curated file's size, change stamp and SHA-256 are recorded when it is
written (:mod:`.write`); a plain run compares sizes and stamps from its listing, hashes only
files whose stamp moved, and rebuilds a partition whose file is not what was written (the
summary notes why). A no-op run reads no curated file.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass

import polars as pl

from kalshi_lake.cities import City
from kalshi_lake.config import Settings
from kalshi_lake.errors import BadDateError
from kalshi_lake.lake import curated_index
from kalshi_lake.lake.lock import DEFAULT_TTL_S, Lease, hold_all
from kalshi_lake.lake.storage import Lake
from kalshi_lake.log import get_logger
from kalshi_lake.schemas import TABLES
from kalshi_lake.transform import pipeline, plan
from kalshi_lake.transform.batch import Parsed, build_tables, parse_batch
from kalshi_lake.transform.decision_points import TABLE as DECISION_POINTS
from kalshi_lake.transform.decision_points import PointsEngine, batch_points
from kalshi_lake.transform.fastpaths import split_parts
from kalshi_lake.transform.inputs import cities_in, list_curated, list_raw
from kalshi_lake.transform.listings import Listings
from kalshi_lake.transform.plan import Key, RawFile, Record
from kalshi_lake.transform.rawdb import RawDB
from kalshi_lake.transform.state import CityState, digest
from kalshi_lake.transform.summary import KEPT, Problem, TransformSummary
from kalshi_lake.transform.write import curated_file, publish

log = get_logger(__name__)

#: Bump when a change to the transform changes its output: every partition is then rebuilt.
#: 2: markets settlement_bounds_type/settlement_floor; 3: `family` everywhere; 4: WebSocket
#: frames (trades first_seen/first_seen_at, market_events, markets updated by lifecycle);
#: 5: order books (book_deltas, book_snapshots, quotes); 6: decision_points (the decision rows
#: at the default instants, so the plain backtest views read them instead of computing them).
TRANSFORM_VERSION = 6

#: Default raw Parquet bytes per batch: about 0.35M trades in current-shape pages. Batches are
#: pipelined (parse of the next / build of this / writes of the last), so smaller batches keep
#: both cores busy for more of the run; with three in memory the peak RSS stays under 0.8 GiB
#: (48 MiB: 1.3-1.4 GiB and no faster; 8 MiB: no faster either; see the transform benchmark).
DEFAULT_BATCH_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class TransformOptions:
    """Tuning knobs of :func:`run_transform` (the defaults suit the CLI)."""

    batch_bytes: int = DEFAULT_BATCH_BYTES
    lease_ttl_s: float = DEFAULT_TTL_S
    duckdb_memory_limit: str = "1GB"


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
    whole). A scoped run leaves the partitions outside it as they are, even those whose listing
    input changed (listings hold markets of any month): it names them in ``summary.left_out``,
    and their state still names their old inputs, so the next plain run rebuilds them. Returns a
    :class:`TransformSummary`. Raises :class:`LockedError` (exit 2) if another
    transform holds one of the cities or took one over while this run was paused past its
    lease, and, after finishing everything it could,
    :class:`TransformCorruptError`/:class:`TransformSchemaError` (exit 3, with ``.summary``)
    if some raw input could not be used.
    """
    if start and end and start > end:
        raise BadDateError(f"start {start} is after end {end}")
    t0 = time.perf_counter()
    opts = options or TransformOptions()
    lake = Lake.of(settings)
    summary = TransformSummary(lake=lake.url, full=full)
    cities = cities_in(lake, city.name if city else None)
    if cities:
        names = [f"transform/{c}" for c in cities]
        with hold_all(lake, names, ttl_s=opts.lease_ttl_s, purpose="transform") as leases:
            by_city = {lease.name.split("/", 1)[1]: lease for lease in leases}
            _Run(lake, by_city, start, end, full, opts, summary).run()
    summary.elapsed_s = time.perf_counter() - t0
    summary.raise_for_problems()
    return summary


@dataclass
class _Pending:
    """A batch whose partition writes are in flight."""

    keys: list[Key]
    futures: list[tuple[Key, str, Future[Record | None]]]
    entries: dict[Key, dict[str, object]]
    kept: set[Key]  # partitions keeping their last good version (nothing written)


class _Run:
    """One transform run over the cities whose leases are held (see the module docstring)."""

    def __init__(
        self,
        lake: Lake,
        leases: Mapping[str, Lease],
        start: dt.date | None,
        end: dt.date | None,
        full: bool,
        opts: TransformOptions,
        summary: TransformSummary,
    ) -> None:
        self.lake = lake
        self.leases = leases
        self.cities = sorted(leases)
        self.start, self.end, self.full = start, end, full
        self.opts = opts
        self.summary = summary

    def run(self) -> None:
        """List, plan, build every dirty partition, remove the orphaned ones, save states."""
        lake = self.lake
        raw = list_raw(lake, self.cities, plan.scope_months(self.start, self.end))
        self.fid = {f.rel: i for i, f in enumerate(raw)}
        curated = list_curated(lake, self.cities)
        self.states = {c: CityState.load(lake, c, TRANSFORM_VERSION) for c in self.cities}
        with pipeline.write_pool() as pool:
            self.pool = pool
            self.db = db = RawDB(
                lake,
                self.fid,
                self.summary.problems.append,
                memory_limit=self.opts.duckdb_memory_limit,
            )
            self.points: PointsEngine | None = None  # opened by the first batch built
            try:
                self.listings = Listings(db, raw, self.states)
                known = {c: set(st.listings) for c, st in self.states.items()}
                self.listings.index(self.full)
                # A scoped run leaves other months alone: say which of them are now due.
                self.summary.left_out = plan.left_out_of_scope(
                    self.states, known, self.start, self.end
                )
                inputs = plan.partition_inputs(raw, self.states)
                todo = plan.plan_partitions(
                    inputs,
                    curated,
                    self.states,
                    start=self.start,
                    end=self.end,
                    full=self.full,
                    sha256=self._sha256,
                )
                self.todo = todo
                for (c, m), fresh in todo.records.items():
                    self.states[c].partitions[m].setdefault("curated", {}).update(fresh)
                for (c, m), why in sorted(todo.damaged.items()):
                    self.summary.notes.append(f"rebuilt {c} {m}: {why}")
                self.summary.skipped += todo.skipped
                self.listings.load(todo.dirty, inputs)
                pipeline.run_batches(
                    plan.batches(todo.dirty, inputs, self.opts.batch_bytes),
                    db,
                    lambda batch: parse_batch(db, batch),
                    lambda parsed: self._build(parsed, inputs),
                    self._finish,
                )
                for key in todo.removed:
                    self._remove(key)
                for st in self.states.values():
                    self._save(st)  # e.g. newly indexed listings (a no-op if unchanged)
            finally:
                db.close()
                if self.points is not None:
                    self.points.close()

    def _build(self, parsed: Parsed, inputs: Mapping[Key, list[RawFile]]) -> _Pending:
        """Build one parsed batch and submit its partition writes (not waited for).

        A partition with an unreadable input keeps its good version if it has one (nothing is
        written; its state entry notes the file, so every run tries again); one without is
        built from the good input, and its entry notes the file and that it is partial.
        """
        t0 = time.perf_counter()
        batch = parsed.batch
        outputs = build_tables(parsed, self.fid, self.listings, self.summary)
        # the decision rows, from the batch's own tables (every row of a partition depends only
        # on that partition), published with them
        if self.points is None:
            self.points = PointsEngine(self.opts.duckdb_memory_limit)
        outputs[DECISION_POINTS] = batch_points(self.points, outputs, batch.keys)
        bad = {
            key: sorted(f.rel for f in inputs[key] if f.rel in self.db.unreadable)
            for key in batch.keys
        }
        kept = {key for key in batch.keys if bad[key] and key in self.todo.good}
        for c, m in sorted(kept):
            for rel in bad[(c, m)]:
                self.summary.problems.append(
                    Problem(
                        KEPT,
                        rel,
                        None,
                        f"kept the last good version of {c} {m}: this input is unreadable",
                    )
                )
        written: dict[Key, list[str]] = {k: [] for k in batch.keys}
        # Parquet encoding is single-threaded per file: the write pool encodes two at a time.
        futures: list[tuple[Key, str, Future[Record | None]]] = []
        parts: dict[int, pl.DataFrame] = {}
        piece: pl.DataFrame | None = None
        for table, df in outputs.items():
            parts = split_parts(df)
            for i, key in enumerate(batch.keys):
                if key in kept:
                    continue
                piece = parts.get(i)
                futures.append((key, table, self.pool.submit(self._publish, key, table, piece)))
                if piece is not None and piece.height:
                    written[key].append(table)
                    self.summary.rows[table] = self.summary.rows.get(table, 0) + piece.height
            self.summary.rows.setdefault(table, 0)
        del outputs, parts, piece
        entries: dict[Key, dict[str, object]] = {}
        for key in batch.keys:
            c, m = key
            if key in kept:
                entries[key] = {**self.states[c].partitions[m], "unreadable": bad[key]}
                continue
            entries[key] = {
                "inputs": digest(f.rel for f in inputs[key]),
                "files": len(inputs[key]),
                "bytes": plan.sizes(inputs[key]),
                "tables": sorted(written[key]),
                "curated": {},
            }
            if bad[key]:
                entries[key].update(unreadable=bad[key], partial=True)
        log.info(
            "built %d partition(s) from %d raw files (%.1f MB): parsed in %.2fs, built in "
            "%.2fs; writing",
            len(batch.keys),
            len(batch.files),
            batch.nbytes / 1e6,
            parsed.seconds,
            time.perf_counter() - t0,
        )
        return _Pending(batch.keys, futures, entries, kept)

    def _finish(self, pending: _Pending) -> None:
        """Wait for a batch's writes, then record its partitions as built."""
        for key, table, fut in pending.futures:
            record = fut.result()  # every partition is swapped in before the state says so
            if record is not None:
                curated = pending.entries[key]["curated"]
                assert isinstance(curated, dict)
                curated[table] = record
        for key in pending.keys:
            c, m = key
            self.states[c].partitions[m] = pending.entries[key]
            if key not in pending.kept:
                self.summary.rebuilt.append(key)
        for c in sorted({k[0] for k in pending.keys}):
            self._save(self.states[c])

    def _publish(self, key: Key, table: str, df: pl.DataFrame | None) -> Record | None:
        return publish(self.lake, key, table, df, self.leases[key[0]].ensure)

    def _sha256(self, key: Key, table: str) -> str:
        try:
            return self.lake.sha256(curated_file(key, table))
        except OSError as exc:  # gone or unreadable since the listing: not what was written
            log.warning("cannot read %s: %s", curated_file(key, table), exc)
            return ""

    def _remove(self, key: Key) -> None:
        for table in TABLES:
            publish(self.lake, key, table, None, self.leases[key[0]].ensure)
        c, m = key
        self.states[c].partitions.pop(m, None)
        self._save(self.states[c])
        self.summary.removed.append(key)

    def _save(self, state: CityState) -> None:
        state.save(self.lake, check=self.leases[state.city].ensure)
        # After the state: the index vouches only for files the state records as published.
        curated_index.write_transformed(
            self.lake, state.city, state.partitions, self.leases[state.city].ensure
        )
