"""DuckDB connections over a lake: offline set-up, the lake's filesystem, every view and macro.

``connect(lake)`` returns an in-memory DuckDB connection on which every object of
``queries/views`` and ``queries/backtest`` exists. Three rules shape it:

- **Offline.** Extension auto-install and auto-load are off
  (:func:`kalshi_lake.lake.engines.duckdb_connect`, shared with the transform); only what the
  wheel links statically is used (parquet, json, icu). Nothing is ever downloaded, so a locked-down laptop
  behaves like CI.
- **One seam for storage.** A non-local lake (``s3://``) is read through the lake's own fsspec
  filesystem registered on the connection (:func:`attach_filesystem`); DuckDB's httpfs is not
  involved, so credentials and endpoints come from the same place as every other reader.
- **Cheap to open, whatever the lake's size.** A view over ``read_parquet(glob,
  union_by_name=true)`` is bound when it is created, which lists every file and reads every
  footer. So the source macros (``markets_in``, ``trades_in``, ...) are first created as empty
  typed stubs, the views and backtest macros are created on top of them, and only then are the
  sources replaced by their real ``read_parquet`` definitions. DuckDB re-binds views at query
  time, so the views read the lake (and pick up added columns) when queried. A source with no
  files yet keeps its empty typed stub, and a note says what to run.
- **Bounded.** A memory limit, a spill folder in the system temp directory (never DuckDB's
  default ``.tmp`` in the caller's current directory) and a cap on what may be spilled
  (:data:`MAX_TEMP_SIZE`); ``connect()`` takes other values, and ``SET`` changes them later.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from kalshi_lake import schemas
from kalshi_lake.config import Settings
from kalshi_lake.errors import ConfigError
from kalshi_lake.lake import curated_index
from kalshi_lake.lake.engines import duckdb_connect
from kalshi_lake.lake.raw import FRAME_SCHEMA, RAW_SCHEMA, WS_FOLDER, has_pages
from kalshi_lake.lake.storage import Lake
from kalshi_lake.log import get_logger
from kalshi_lake.sql import sqlfiles

log = get_logger(__name__)

#: Extensions the views need; all are statically linked into the duckdb wheel.
BUNDLED_EXTENSIONS = ("parquet", "json", "icu")

#: The most one SQL connection may spill: past it a query fails with DuckDB's out-of-memory
#: error instead of filling the disk (DuckDB's own cap is 90% of the free space).
MAX_TEMP_SIZE = "8GB"


@dataclass(frozen=True)
class Source:
    """A macro that reads files from the lake, its probe folder and its typed empty stub."""

    name: str
    probe: str  # folder (relative to the lake root) that holds the files it reads
    columns: tuple[tuple[str, str], ...]  # (name, DuckDB type) of its output
    hint: str  # what to run when it has no files
    #: Whether the lake holds files for it, when "any Parquet under probe" is too wide (the raw
    #: pages: raw/ws holds WebSocket frames, which their glob skips).
    has_files: Callable[[Lake], bool] | None = None

    def present(self, lake: Lake) -> bool:
        """True if ``lake`` holds files this source reads."""
        return self.has_files(lake) if self.has_files is not None else lake.has_files(self.probe)


def _columns(schema: pa.Schema, hive: Sequence[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    return curated_index.columns_of(schema) + tuple(hive)


_CURATED_HIVE = (("city", "VARCHAR"), ("month", "VARCHAR"))
_TRANSFORM_HINT = "run `kalshi-lake transform` (or `kalshi-lake backfill`)"
_BACKFILL_HINT = "run `kalshi-lake backfill --city NAME`"
_FOLLOW_HINT = "run `kalshi-lake follow --city NAME`"


def _has_heartbeats(lake: Lake) -> bool:
    return lake.has_files("_state", "live", suffix=".json")


#: The sources only ``kalshi-lake follow`` fills.
LIVE_ONLY = frozenset(
    {"ws_frames_in", "live_heartbeats_in", *(f"{t}_in" for t in schemas.LIVE_TABLES)}
)

#: Sources an ordinary lake may never have: never named as empty (``kalshi-lake reconcile``).
OPTIONAL = frozenset(
    {"report_rows_in", "reconciliation_in", "reconciliation_trades_in", "decision_points_in"}
)

_RECONCILE_HINT = "run `kalshi-lake reconcile --city NAME`"

#: Every macro that reads files, keyed by name. Their .sql files live in queries/views.
SOURCES: dict[str, Source] = {
    **{
        f"{table}_in": Source(
            f"{table}_in",
            f"curated/{table}",
            _columns(schema, _CURATED_HIVE),
            _TRANSFORM_HINT,
        )
        for table, schema in schemas.TABLES.items()
    },
    "raw_pages_in": Source(
        "raw_pages_in",
        "raw",
        _columns(RAW_SCHEMA, (("city", "VARCHAR"), ("date", "DATE"))),
        _BACKFILL_HINT,
        has_pages,
    ),
    "raw_trades_in": Source(
        "raw_trades_in",
        "raw/trades",
        (
            ("city", "VARCHAR"),
            ("date", "DATE"),
            ("tier", "VARCHAR"),
            ("fetched_at", "TIMESTAMPTZ"),
            ("run_id", "VARCHAR"),
            ("page_number", "INTEGER"),
            ("trade_id", "VARCHAR"),
            ("market_ticker", "VARCHAR"),
            ("created_time", "VARCHAR"),
        ),
        _BACKFILL_HINT,
    ),
    "ws_frames_in": Source(
        "ws_frames_in",
        f"raw/{WS_FOLDER}",
        _columns(FRAME_SCHEMA, (("city", "VARCHAR"), ("date", "DATE"))),
        _FOLLOW_HINT,
    ),
    "live_heartbeats_in": Source(
        "live_heartbeats_in",
        "_state/live",
        (
            ("city", "VARCHAR"),
            ("family", "VARCHAR"),
            ("run_id", "VARCHAR"),
            ("host", "VARCHAR"),
            ("pid", "BIGINT"),
            ("stream", "VARCHAR"),
            ("books", "VARCHAR"),
            ("every_s", "DOUBLE"),
            ("updated_at", "TIMESTAMPTZ"),
            ("connected_since", "TIMESTAMPTZ"),
            ("stopped", "BOOLEAN"),
            ("gaps", "BIGINT"),
            ("resyncs", "BIGINT"),
            ("disconnects", "BIGINT"),
        ),
        _FOLLOW_HINT,
        _has_heartbeats,
    ),
    "report_rows_in": Source(
        "report_rows_in",
        "raw/daily_reports",
        (
            ("kind", "VARCHAR"),
            ("report_date", "DATE"),
            ("source_key", "VARCHAR"),
            ("etag", "VARCHAR"),
            ("fetched_at", "TIMESTAMPTZ"),
            ("row_no", "BIGINT"),
            ("ticker_name", "VARCHAR"),
            ("report_ticker", "VARCHAR"),
            ("family", "VARCHAR"),
            ("body", "VARCHAR"),
            ("city", "VARCHAR"),
            ("date", "DATE"),
        ),
        _RECONCILE_HINT,
    ),
    # Not file readers themselves, but everything they read of the lake (trades, candles) only
    # matters once a report is stored: without one they stay empty typed stubs, so `validate`
    # and the report never bind the lake's trades for them.
    "reconciliation_in": Source(
        "reconciliation_in",
        "raw/daily_reports",
        (
            ("city", "VARCHAR"),
            ("family", "VARCHAR"),
            ("report_date", "DATE"),
            ("month", "VARCHAR"),
            ("market_ticker", "VARCHAR"),
            ("event_ticker", "VARCHAR"),
            ("status", "VARCHAR"),
            ("flag", "VARCHAR"),
            ("differences", "VARCHAR[]"),
            ("report_trades", "BIGINT"),
            ("lake_trades", "BIGINT"),
            ("report_contracts", "DECIMAL(18, 2)"),
            ("lake_contracts", "DECIMAL(18, 2)"),
            ("report_daily_volume", "DECIMAL(18, 2)"),
            ("report_high", "DECIMAL(10, 6)"),
            ("lake_high", "DECIMAL(10, 6)"),
            ("report_low", "DECIMAL(10, 6)"),
            ("lake_low", "DECIMAL(10, 6)"),
            ("report_open_interest", "DECIMAL(18, 2)"),
            ("lake_open_interest", "DECIMAL(18, 2)"),
            ("trades_missing", "BIGINT"),
            ("trades_extra", "BIGINT"),
        ),
        _RECONCILE_HINT,
    ),
    "reconciliation_trades_in": Source(
        "reconciliation_trades_in",
        "raw/daily_reports",
        (
            ("city", "VARCHAR"),
            ("family", "VARCHAR"),
            ("report_date", "DATE"),
            ("market_ticker", "VARCHAR"),
            ("event_ticker", "VARCHAR"),
            ("traded_second", "TIMESTAMPTZ"),
            ("price", "DECIMAL(10, 6)"),
            ("contracts", "DECIMAL(18, 2)"),
            ("report_trades", "BIGINT"),
            ("lake_trades", "BIGINT"),
            ("missing", "BIGINT"),
            ("extra", "BIGINT"),
        ),
        _RECONCILE_HINT,
    ),
}

_SIGNATURE = re.compile(
    r"CREATE\s+OR\s+REPLACE\s+MACRO\s+(\w+)\s*\((.*?)\)\s+AS\s+TABLE", re.IGNORECASE | re.DOTALL
)


def new_connection(
    database: str = ":memory:",
    *,
    read_only: bool = False,
    config: Mapping[str, Any] | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection that never downloads or auto-loads an extension, times in UTC,
    bounded in memory and spill (see :func:`kalshi_lake.lake.engines.bounded_config`;
    ``config`` overrides)."""
    con = duckdb_connect(
        database,
        read_only=read_only,
        config={"max_temp_directory_size": MAX_TEMP_SIZE, **(config or {})},
    )
    for ext in BUNDLED_EXTENSIONS:
        try:
            con.load_extension(ext)
        except duckdb.Error as exc:  # pragma: no cover - only on a wheel built without them
            raise ConfigError(
                f"DuckDB extension {ext!r} is not bundled in this duckdb build ({exc}); "
                "kalshi-lake needs parquet, json and icu linked in (the PyPI wheels have them)"
            ) from None
    # Storage is UTC; showing TIMESTAMPTZ in the machine's zone would only confuse.
    con.execute("SET TimeZone = 'UTC'")
    return con


def attach_filesystem(con: duckdb.DuckDBPyConnection, lake: Lake) -> None:
    """Make ``lake``'s files readable by ``con``: object stores go through the lake's fsspec.

    Local lakes need nothing. For ``s3://`` (and ``memory://``) the lake's own fsspec filesystem
    is registered, so DuckDB reads with the same credentials, endpoint and options as every
    other reader of the lake, and no DuckDB extension (httpfs) is needed.
    """
    lake.duckdb_register(con)


def _stub_sql(source: Source, signature: str) -> str:
    cols = ", ".join(f"CAST(NULL AS {typ}) AS {name}" for name, typ in source.columns)
    return (
        f"CREATE OR REPLACE MACRO {source.name}({signature}) AS TABLE\nSELECT {cols}\nWHERE false"
    )


def _schema_map(cols: curated_index.Columns) -> str:
    """``cols`` as read_parquet's ``schema`` map (name -> {name, type, default_value})."""
    q = sqlfiles.sql_quote_inner
    return (
        "map {"
        + ", ".join(
            f"'{q(n)}': {{name: '{q(n)}', type: '{q(t)}', default_value: NULL}}" for n, t in cols
        )
        + "}"
    )


def _render_columns(
    f: sqlfiles.SqlFile, uri: str, indexed: Mapping[str, curated_index.Columns]
) -> str:
    """``lake_curated_columns`` with one WHEN per curated table (read_parquet's ``schema`` map):
    the index's columns where it covers the table, else the table's own schema."""
    q = sqlfiles.sql_quote_inner
    whens = [
        f"WHEN '{q(table)}' THEN {_schema_map(cols)}"
        for table, cols in sorted(
            {
                **{t: curated_index.columns_of(sc) for t, sc in schemas.TABLES.items()},
                **indexed,
            }.items()
        )
    ]
    return "".join(
        ln
        if ln.lstrip().startswith("--")
        else ln.replace("{curated_columns}", "\n        ".join(whens))
        for ln in f.render(uri).splitlines(keepends=True)
    )


def _read_indexed(sql: str, table: str, cols: curated_index.Columns) -> str:
    """Source macro ``sql`` (``<table>_in``) reading through ``lake_indexed_in`` with the
    index's columns written in as a literal. Not ``lake_curated_columns(tbl)``: that CASE binds
    every table's map in every query, ~6 ms of CPU per source, three sources per
    decision_quotes."""
    call = f"lake_curated_in('{table}',"
    if sql.count(call) != 1:
        raise ConfigError(f"{table}_in: expected one {call} ...) to read the partition index with")
    return sql.replace(call, f"lake_indexed_in('{table}', {_schema_map(cols)},")


def _references(files: Sequence[sqlfiles.SqlFile]) -> dict[str, set[str]]:
    """The objects each file's SQL refers to by name (comments excluded)."""
    names = {f.name for f in files}
    deps: dict[str, set[str]] = {}
    for f in files:
        body = "\n".join(ln for ln in f.text.splitlines() if not ln.lstrip().startswith("--"))
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", body))
        deps[f.name] = (words & names) - {f.name}
    return deps


def uses(files: Sequence[sqlfiles.SqlFile], name: str) -> set[str]:
    """``name`` and every object of ``files`` it refers to, directly or not."""
    deps = _references(files)
    out, todo = set(), [name]
    while todo:
        n = todo.pop()
        if n not in out:
            out.add(n)
            todo.extend(deps.get(n, ()))
    return out


def dependency_order(files: Sequence[sqlfiles.SqlFile]) -> list[sqlfiles.SqlFile]:
    """``files`` sorted so that every object comes after the objects its SQL refers to.

    References are found by name in the SQL (comments excluded); ties keep file order, so the
    order is deterministic. A cycle is a :class:`ConfigError`.
    """
    deps = _references(files)
    done: list[sqlfiles.SqlFile] = []
    placed: set[str] = set()
    pending = list(files)
    while pending:
        ready = [f for f in pending if deps[f.name] <= placed]
        if not ready:
            raise ConfigError(
                f"SQL objects depend on each other in a cycle: {[f.name for f in pending]}"
            )
        for f in ready:
            done.append(f)
            placed.add(f.name)
        pending = [f for f in pending if f.name not in placed]
    return done


def create_objects(
    con: duckdb.DuckDBPyConnection,
    files: Sequence[sqlfiles.SqlFile],
    uri: str,
    indexed: Mapping[str, curated_index.Columns] | None = None,
) -> None:
    """Create the objects of ``files`` on ``con``: the sources (:data:`SOURCES`) as typed empty
    stubs, then everything else in dependency order (``lake_root()`` is ``uri``; ``indexed``:
    the partition index's columns, see :func:`_render_columns`)."""
    by_name = {f.name: f for f in files}
    for name, source in SOURCES.items():
        m = _SIGNATURE.search(by_name[name].text)
        if m is None or m.group(1) != name:
            raise ConfigError(
                f"{by_name[name].path}: expected 'CREATE OR REPLACE MACRO {name}(...) AS TABLE'"
            )
        con.execute(_stub_sql(source, m.group(2)))
    for f in dependency_order([f for f in files if f.name not in SOURCES]):
        try:
            if f.name == "lake_curated_columns":
                con.execute(_render_columns(f, uri, indexed or {}))
            else:
                con.execute(f.render(uri))
        except duckdb.Error as exc:
            raise ConfigError(f"cannot create SQL object {f.name!r} from {f.path}: {exc}") from None


def register_views(con: duckdb.DuckDBPyConnection, lake: Lake) -> list[str]:
    """Create every view and macro of ``queries/views`` and ``queries/backtest`` on ``con``.

    Returns notes for the user (one per source that has no files yet and is therefore empty).
    The objects read the lake through ``lake_root()``: the lake's absolute path (or ``s3://``
    URL), except in a file named ``kalshi.duckdb``, which reads the lake folder it sits in.
    """
    uri = lake.uri()
    if any(ch in uri for ch in "*?[]{}"):
        # the views build glob patterns from the lake location
        raise ConfigError(f"lake location {uri!r} must not contain glob characters (* ? [ ] {{ }})")
    files = [*sqlfiles.load("views"), *sqlfiles.load("backtest")]
    by_name = {f.name: f for f in files}
    missing = [name for name in SOURCES if name not in by_name]
    if missing:
        raise ConfigError(f"queries/views lacks the source macros {missing}")
    present = {name: source.present(lake) for name, source in SOURCES.items()}
    # A curated table the partition index covers reads through lake_indexed_in: no footer is
    # read when a query is bound, so the plain views prune like the _for forms.
    curated = [t for t in schemas.TABLES if present[f"{t}_in"]]
    # listed once, here, only where decision_points may be read (its partitions are compared)
    listing = lake.walk_stats("curated") if present[f"{DECISION_POINTS}_in"] else None
    indexed = curated_index.table_columns(lake, curated, listing) if curated else {}
    # 1. typed empty stubs for the sources, so creating the views reads no files; 2. the rest
    create_objects(con, files, uri, indexed)
    # 3. the real sources, where there are files to read
    empty: dict[str, list[str]] = {}  # hint -> folders without files
    # A lake that was never followed is the usual case, not something to point out on every
    # connection: the live sources are mentioned only once the lake holds some live data.
    followed = present["ws_frames_in"] or present["live_heartbeats_in"]
    for name, source in SOURCES.items():
        if present[name]:
            sql = by_name[name].render(uri)
            table = name.removesuffix("_in")
            if table in indexed:
                sql = _read_indexed(sql, table, indexed[table])
            con.execute(sql)
        elif name not in OPTIONAL and (followed or name not in LIVE_ONLY):
            empty.setdefault(source.hint, []).append(f"{source.probe}/")
    # 4. the book side of decision_quotes and event_ladder, on a lake without book snapshots
    if not present["book_snapshots_in"]:
        con.execute(empty_book_side(con, by_name[BOOK_SIDE]))
    # 5. the decision rows at the default instants: the table where it is current, else computed
    if not materialized(present, indexed, listing, lake):
        compute_decision_points(con, files)
    return [
        f"no files yet under {', '.join(folders)}, so their views are empty ({hint})"
        for hint, folders in empty.items()
    ]


#: The book side of decision_quotes and event_ladder: its rows start from book_snapshots_in.
BOOK_SIDE = "decision_books_computed_for"

#: The curated table of decision rows at the default instants (written by the transform).
DECISION_POINTS = "decision_points"

#: The tables decision_points is computed from (besides the static cities view).
DECISION_INPUTS = ("markets", "candles_1m", "trades", "book_snapshots", "book_deltas")

#: The macros that read the decision_points table, and their bodies when it is not current:
#: the computed form, alone (the UNION ALL of decision_points_for and decision_books_for would
#: otherwise bind it twice).
COMPUTED_FORMS = {
    "decision_points_in": (
        "SELECT * FROM decision_points_computed_for(city, start_date, end_date)"
    ),
    "decision_points_for": (
        "SELECT * FROM decision_points_computed_for(city, start_date, end_date, instants := instants)"
    ),
    "decision_books_for": (
        "SELECT * FROM decision_books_computed_for(city, start_date, end_date, instants := instants)"
    ),
}


def compute_decision_points(
    con: duckdb.DuckDBPyConnection, files: Sequence[sqlfiles.SqlFile] | None = None
) -> None:
    """Make the decision_points readers of ``con`` compute their rows (:data:`COMPUTED_FORMS`)
    instead of reading the table; ``files``: the SQL files (default: ``queries/backtest`` and
    ``queries/views``)."""
    if files is None:
        files = [*sqlfiles.load("views"), *sqlfiles.load("backtest")]
    by_name = {f.name: f for f in files}
    for name, body in COMPUTED_FORMS.items():
        m = _SIGNATURE.search(by_name[name].text)
        if m is None or m.group(1) != name:
            raise ConfigError(
                f"{by_name[name].path}: expected 'CREATE OR REPLACE MACRO {name}(...) AS TABLE'"
            )
        con.execute(f"CREATE OR REPLACE MACRO {name}({m.group(2)}) AS TABLE\n{body}")


def reads_decision_points(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether ``con``'s views read the decision_points table (else they compute its rows)."""
    [(body,)] = con.execute(
        "SELECT macro_definition FROM duckdb_functions() WHERE function_name = ?",
        ["decision_points_in"],
    ).fetchall()
    return "decision_points_computed_for" not in str(body)


_PARTITION = re.compile(r"^curated/(?P<table>[^/]+)/city=(?P<city>[^/]+)/month=(?P<month>[^/]+)/")


def materialized(
    present: Mapping[str, bool],
    indexed: Mapping[str, curated_index.Columns],
    listing: Mapping[str, Any] | None,
    lake: Lake,
) -> bool:
    """Whether the views may read the decision_points table instead of computing its rows.

    The speed trick of the plain decision_quotes and event_ladder (PERF, 10M-trade benchmark
    lake: planning the computed form lists and prunes every file of markets, candles_1m, trades
    and the book tables, ~10-15 ms each, and running it reads a city's candles and trades; the
    table is one small file per partition). Only when it is exact: the partition index vouches
    for the table and for every table it is computed from (each file is what the transform
    wrote, together with the rest of its partition), and the (city, month) partitions of
    decision_points are exactly those of markets (every partition with markets has its
    decision rows, and none is left over).
    """
    if listing is None or DECISION_POINTS not in indexed:
        return False
    inputs = [t for t in DECISION_INPUTS if present[f"{t}_in"]]
    if any(t not in indexed for t in inputs):
        return False
    parts: dict[str, set[tuple[str, str]]] = {DECISION_POINTS: set(), "markets": set()}
    for path in listing:
        m = _PARTITION.match(lake.rel(path))
        if m and m["table"] in parts:
            parts[m["table"]].add((m["city"], m["month"]))
    return parts[DECISION_POINTS] == parts["markets"]


def empty_book_side(con: duckdb.DuckDBPyConnection, f: sqlfiles.SqlFile) -> str:
    """``decision_books_computed_for`` (``f``) as an empty macro of the same parameters and
    columns.

    On a lake without book snapshots it has no rows, yet DuckDB plans its whole body (a dozen
    joins and windows) inside every decision_quotes and event_ladder query: about half of their
    planning (PERF: 136 -> 62 ms CPU to plan decision_quotes_for on the 20-city benchmark lake).
    Its columns are bound once, here.
    """
    m = _SIGNATURE.search(f.text)
    if m is None or m.group(1) != f.name:
        raise ConfigError(f"{f.path}: expected 'CREATE OR REPLACE MACRO {f.name}(...) AS TABLE'")
    rel = con.sql(f"SELECT * FROM {f.name}()")
    cols = ", ".join(
        f'CAST(NULL AS {typ}) AS "{name.replace(chr(34), chr(34) * 2)}"'
        for name, typ in zip(rel.columns, rel.types, strict=True)
    )
    return f"CREATE OR REPLACE MACRO {f.name}({m.group(2)}) AS TABLE\nSELECT {cols}\nWHERE false"


def connect(
    lake: str | Path | Lake | Settings = "lake",
    *,
    database: str = ":memory:",
    storage_options: Mapping[str, Any] | None = None,
    threads: int | None = None,
    memory_limit: str | None = None,
    temp_directory: str | Path | None = None,
    max_temp_directory_size: str | None = None,
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with every view of the lake registered (local or ``s3://``).

    ``lake`` is a URL or path (default ``lake``), a :class:`Lake` or :class:`Settings`.
    A lake whose tables have no files yet still connects: those views are empty and typed,
    and a warning names what to run. A local lake folder that does not exist is an error.
    ``memory_limit`` (default :data:`~kalshi_lake.lake.engines.DEFAULT_MEMORY_LIMIT`),
    ``temp_directory`` (default: a fresh folder in the system temp directory, removed on close)
    and ``max_temp_directory_size`` (default :data:`MAX_TEMP_SIZE`) bound what a query may use.
    """
    lk = Lake.of(lake, storage_options)
    if lk.is_local and not Path(lk.root).is_dir():
        raise ConfigError(
            f"no lake at {lk.root}: pass --lake (or KALSHI_LAKE) or run `kalshi-lake backfill` first"
        )
    con = new_connection(
        database,
        config={
            "memory_limit": memory_limit or None,
            "temp_directory": str(temp_directory) if temp_directory else None,
            "max_temp_directory_size": max_temp_directory_size or MAX_TEMP_SIZE,
        },
    )
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    attach_filesystem(con, lk)
    notes = register_views(con, lk)
    if notes:
        # One line, not one per table: a fresh or partial lake is normal, not alarming.
        log.warning("%s: %s", lk.url, "; ".join(notes))
    return con
