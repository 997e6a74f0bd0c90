"""The transform's DuckDB: one connection over the raw pages, views of them, unreadable files.

:class:`RawDB` opens the offline connection (:func:`kalshi_lake.lake.engines.duckdb_connect`)
with the transform's own settings, makes a view of the pages of a list of raw files, runs the
parsers of :mod:`~kalshi_lake.transform.parse` over it, and finds, reports and leaves out any
file DuckDB cannot read (then re-runs the queries without it), remembering it in
:attr:`RawDB.unreadable` so the build knows which partitions lack an input;
:meth:`RawDB.good` reports the pages and items the parsers could not use.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence

import duckdb
import polars as pl

from kalshi_lake.lake.engines import duckdb_connect
from kalshi_lake.lake.storage import Lake
from kalshi_lake.log import get_logger
from kalshi_lake.transform import parse
from kalshi_lake.transform.plan import RawFile
from kalshi_lake.transform.summary import CORRUPT_FILE, CORRUPT_PAGE, SCHEMA, Problem

log = get_logger(__name__)

#: A parser run over a view of raw pages: ``fn(con, view_name) -> rows``.
Parser = Callable[[duckdb.DuckDBPyConnection, str], pl.DataFrame]

#: The columns read from each raw file: the parsers' page columns less those the view derives
#: from the file's path (``fid``, ``row``, ``city``, ``date``, ``endpoint``).
_RAW_COLUMNS = tuple(
    c for c in parse.PAGE_COLUMNS if c not in ("fid", "row", "city", "date", "endpoint")
)


class RawDB:
    """A DuckDB connection over ``lake``'s raw files; ``fid`` numbers the files (path order)
    and ``on_problem`` receives each unreadable file (once), which :attr:`unreadable` keeps
    (path -> reason). Close it with :meth:`close`."""

    def __init__(
        self,
        lake: Lake,
        fid: Mapping[str, int],
        on_problem: Callable[[Problem], None],
        *,
        memory_limit: str,
    ) -> None:
        self.lake = lake
        self.fid = fid
        self.on_problem = on_problem
        self._rel = {i: rel for rel, i in fid.items()}
        self._empty: dict[str, pl.DataFrame] = {}
        self.unreadable: dict[str, str] = {}
        # DuckDB creates its spill folder only if it spills and removes it on close, so a
        # killed transform leaves nothing behind unless it was spilling at that moment.
        spill = os.path.join(tempfile.gettempdir(), f"kalshi-lake-transform-{secrets.token_hex(6)}")
        con = duckdb_connect(
            lake=lake, config={"memory_limit": memory_limit, "temp_directory": spill}
        )
        # Order of pages is irrelevant (we sort); not preserving it lets DuckDB stream freely.
        con.execute("SET preserve_insertion_order = false")
        con.execute("SET enable_progress_bar = false")
        # Strings leave DuckDB as Arrow string views, polars' own layout: no re-encoding of
        # every trade id and ticker on the way into the build (PERF: ~3% of the transform).
        con.execute("SET arrow_output_version = '1.5'")
        con.execute("SET produce_arrow_string_view = true")
        parse.prepare(con)
        self.con = con

    def path_of(self, fid: int) -> str:
        """The lake-relative path of the file numbered ``fid``."""
        return self._rel[fid]

    def set_threads(self, n: int) -> None:
        """DuckDB's worker threads (see :mod:`~kalshi_lake.transform.pipeline` for why)."""
        self.con.execute(f"SET threads = {int(n)}")

    def close(self) -> None:
        """Close the connection (DuckDB removes its spill folder)."""
        self.con.close()

    def query(self, name: str, files: Sequence[RawFile], *fns: Parser) -> list[pl.DataFrame]:
        """``[fn(con, pages) for fn in fns]`` over the raw pages of ``files``.

        ``pages`` is a view over the files (:meth:`_view`). A file DuckDB cannot read is found,
        reported and left out, and the queries re-run.
        """
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
            except Exception as exc:
                # Not only duckdb.Error: a file DuckDB reaches while the result streams out
                # (after its first Arrow batch) fails inside pyarrow as an OSError, or as
                # another type. Whatever the type, the probe decides: a file it cannot read is
                # reported and left out; if every file reads, the error is ours and goes on.
                bad = self._unreadable(files)
                if not bad:
                    raise
                log.warning(
                    "skipping %d unreadable raw file(s): %s", len(bad), str(exc).splitlines()[0]
                )
                files = [f for f in files if f.rel not in bad]

    def good(self, df: pl.DataFrame, report: bool = True) -> pl.DataFrame:
        """The good rows of a parser's output; its problem rows are reported (unless not
        ``report``: the same pages already were) as one :class:`Problem` per page and reason."""
        good, problems = parse.split_problems(df)
        if report and problems.height:
            for fid, row, page, msg, items in problems.iter_rows():
                kind = CORRUPT_PAGE if msg.startswith("corrupt body") else SCHEMA
                self.on_problem(Problem(kind, self._rel[fid], page, msg, int(items), row=row))
        return good

    def _view(self, name: str, files: list[RawFile]) -> None:
        """A view ``name`` of the raw pages of ``files`` with :data:`parse.PAGE_COLUMNS`.

        The file's id, city, date and endpoint are looked up per page from lists held in
        session variables (a join on the file name would make DuckDB buffer the pages).
        """
        con = self.con
        with contextlib.suppress(duckdb.Error):
            con.unregister(name)
        con.execute(f"DROP VIEW IF EXISTS {name}")
        if not files:
            con.register(name, parse.pages_table([]))
            return
        # No union_by_name: every raw file has RAW_SCHEMA, and reading each footer twice
        # costs more than the page parse for small files; a file that does not match is
        # reported as unreadable like any other.
        rows = self.file_rows_sql(name, files, ", ".join(_RAW_COLUMNS), endpoint=True)
        con.execute(f"CREATE VIEW {name} AS {rows}")

    def file_rows_sql(
        self,
        name: str,
        files: Sequence[RawFile],
        columns: str,
        *,
        where: str = "",
        endpoint: bool = False,
    ) -> str:
        """A SELECT of ``columns`` (SQL) from the Parquet ``files`` (``where``: an SQL
        condition on their rows), each row led by its file's ``fid``, its ``row`` number in
        the file, and the file's ``city`` and ``date`` (and ``endpoint`` when asked).

        The file's attributes are looked up per row from lists held in session variables
        ``<name>_*`` (a join on the file name would make DuckDB buffer the rows); ``name``
        keeps the variables of two views apart.
        """
        uris = [self.lake.uri(f.rel) for f in files]
        tags: list[tuple[str, list[object]]] = [
            ("uri", list(uris)),
            ("fid", [self.fid[f.rel] for f in files]),
            ("city", [f.city for f in files]),
            ("date", [f.date.isoformat() for f in files]),
        ]
        if endpoint:
            tags.append(("endpoint", [f.endpoint for f in files]))
        for var, values in tags:
            self.con.execute(f"SET VARIABLE {name}_{var} = ?", [values])
        ep = f"getvariable('{name}_endpoint')[kl_pos] AS endpoint, " if endpoint else ""
        cond = f" WHERE {where}" if where else ""
        return (
            f"SELECT CAST(getvariable('{name}_fid')[kl_pos] AS INTEGER) AS fid, row, "
            f"getvariable('{name}_city')[kl_pos] AS city, "
            f"CAST(getvariable('{name}_date')[kl_pos] AS DATE) AS date, {ep}{columns} "
            f"FROM (SELECT list_position(getvariable('{name}_uri'), filename) AS kl_pos, "
            f"file_row_number AS row, {columns} "
            f"FROM read_parquet({_sql_list(uris)}, filename = true, file_row_number = true)"
            f"{cond})"
        )

    def _unreadable(self, files: list[RawFile]) -> set[str]:
        """Paths of raw page files DuckDB cannot read whole; each is reported once."""
        checks = ", ".join(
            f"count({c})"
            if c in ("page_number", "fetched_at", "http_status")
            else f"sum(length({c}))"
            for c in _RAW_COLUMNS
        )
        return self.probe_unreadable(files, checks)

    def probe_unreadable(self, files: Sequence[RawFile], checks: str) -> set[str]:
        """Paths of ``files`` DuckDB cannot read whole: ``SELECT checks`` (SQL aggregates that
        touch every column that matters) fails on them. Each is reported once and kept in
        :attr:`unreadable`."""
        bad: set[str] = set()
        for f in files:
            try:
                self.con.execute(
                    f"SELECT {checks} FROM read_parquet({_sql_str(self.lake.uri(f.rel))})"
                ).fetchall()
            except duckdb.Error as exc:
                bad.add(f.rel)
                if f.rel in self.unreadable:
                    continue
                reason = str(exc).splitlines()[0][:200]
                self.unreadable[f.rel] = reason
                self.on_problem(
                    Problem(
                        CORRUPT_FILE, f.rel, None, f"unreadable Parquet file, skipped: {reason}"
                    )
                )
        return bad


def only(fn: Callable[..., pl.DataFrame], endpoints: set[str]) -> Parser:
    """``fn`` restricted to the endpoints present (parsers that take ``endpoints``)."""

    def run(con: duckdb.DuckDBPyConnection, name: str) -> pl.DataFrame:
        return fn(con, name, endpoints)

    run.__name__ = f"{fn.__name__}:{','.join(sorted(endpoints))}"
    return run


def _sql_list(items: Sequence[str]) -> str:
    return "[" + ", ".join(_sql_str(i) for i in items) + "]"


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"
