"""Data-quality checks: run every ``queries/checks/*.sql`` and report offending rows.

Each check file is one ``SELECT`` that returns the rows breaking its invariant (none = pass) and
declares its level in a ``-- level: error|warn`` header line. Checks read the lake through the
``*_in(city, start_date, end_date)`` source macros with DuckDB variables as arguments
(``check_city``, ``check_start``, ``check_end``; ``check_as_of`` for "already passed"), so the
same files run unchanged from any DuckDB client on ``kalshi.duckdb`` (unset variables mean
the whole lake)::

    SET VARIABLE check_city = 'chicago';
    .read queries/checks/trade_duplicate_id.sql

``validate`` fails (exit 1) when any error-level check returns rows or cannot run.

Each check runs in a worker thread while the calling (main) thread waits: DuckDB does not look
at Python's signals while a query runs, so this is what lets Ctrl-C stop a long check at once
(the wait sees the ``KeyboardInterrupt`` and interrupts the query). The connection comes from
:func:`~kalshi_lake.sql.connection.connect`, so memory and spill are bounded there.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import json
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

import duckdb

from kalshi_lake.cities import get_city
from kalshi_lake.config import Settings
from kalshi_lake.errors import BadDateError, UsageError, ValidationFailed
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sql import sqlfiles
from kalshi_lake.sql.connection import connect

#: How many offending rows each result keeps as a sample.
SAMPLE_ROWS = 3


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check."""

    name: str
    level: str  # "error" or "warn"
    description: str
    offending: int
    sample: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # set when the check could not run at all

    @property
    def passed(self) -> bool:
        """True when the check ran and found nothing."""
        return self.error is None and self.offending == 0

    @property
    def status(self) -> str:
        """``ok``, ``FAIL`` (error level), ``warn`` (warn level) or ``ERROR`` (did not run)."""
        if self.error is not None:
            return "ERROR"
        if self.offending == 0:
            return "ok"
        return "FAIL" if self.level == "error" else "warn"

    @property
    def blocking(self) -> bool:
        """True when this result makes validation fail (error level, rows or no run)."""
        return self.level == "error" and not self.passed

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (sample values as JSON scalars or strings)."""
        d = asdict(self)
        d["status"] = self.status
        d["passed"] = self.passed
        d["sample"] = [{k: _jsonable(v) for k, v in row.items()} for row in self.sample]
        return d


@dataclass(frozen=True)
class Scope:
    """Which part of the lake the checks look at (None = everything)."""

    city: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    as_of: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.start and self.end and self.start > self.end:
            raise BadDateError(f"--start {self.start} is after --end {self.end}")


def _jsonable(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | str):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else str(v)
    if isinstance(v, Decimal):
        return str(v)
    if isinstance(v, dt.datetime | dt.date | dt.time):
        return v.isoformat()
    if isinstance(v, dt.timedelta):
        return str(v)
    return str(v)


def _set_scope(con: duckdb.DuckDBPyConnection, scope: Scope) -> None:
    city = sqlfiles.sql_literal(get_city(scope.city).name) if scope.city else "NULL"
    start = f"DATE '{scope.start.isoformat()}'" if scope.start else "CAST(NULL AS DATE)"
    end = f"DATE '{scope.end.isoformat()}'" if scope.end else "CAST(NULL AS DATE)"
    as_of = (
        f"TIMESTAMPTZ '{scope.as_of.astimezone(dt.UTC).isoformat()}'"
        if scope.as_of
        else "CAST(NULL AS TIMESTAMPTZ)"
    )
    con.execute(f"SET VARIABLE check_city = {city}")
    con.execute(f"SET VARIABLE check_start = {start}")
    con.execute(f"SET VARIABLE check_end = {end}")
    con.execute(f"SET VARIABLE check_as_of = {as_of}")


def run_check(
    con: duckdb.DuckDBPyConnection, check: sqlfiles.SqlFile, lake_uri: str
) -> CheckResult:
    """Run one check on a connection whose scope variables are set."""
    body = check.render(lake_uri).strip().rstrip(";")
    level = check.level or "error"
    try:
        rel = con.sql(
            f"SELECT count(*) OVER () AS __offending, * FROM ({body}) LIMIT {SAMPLE_ROWS}"
        )
        cols = rel.columns
        rows = rel.fetchall()
    except duckdb.Error as exc:
        msg = " ".join(str(exc).split())
        return CheckResult(check.name, level, check.description, 0, [], msg)
    offending = int(rows[0][0]) if rows else 0
    sample = [dict(zip(cols[1:], r[1:], strict=True)) for r in rows]
    return CheckResult(check.name, level, check.description, offending, sample)


def select_checks(
    checks: Sequence[sqlfiles.SqlFile],
    only: Sequence[str] | None = None,
    skip: Sequence[str] | None = None,
) -> list[sqlfiles.SqlFile]:
    """The checks named in ``only`` (all when empty) minus those in ``skip``, in name order.

    An unknown name is a :class:`UsageError` (exit 2) that lists the valid names.
    """
    known = [c.name for c in checks]
    unknown = sorted({*(only or ()), *(skip or ())} - set(known))
    if unknown:
        raise UsageError(
            f"unknown check{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; "
            f"valid checks: {', '.join(known)}"
        )
    wanted = set(only or known) - set(skip or ())
    return [c for c in checks if c.name in wanted]


def _interruptible(con: duckdb.DuckDBPyConnection, work: Callable[[], CheckResult]) -> CheckResult:
    """``work()`` in a worker thread; a ``KeyboardInterrupt`` in the waiting main thread
    interrupts ``con``'s query and is re-raised once the worker has stopped.

    Off the main thread (no signals arrive there) ``work`` simply runs in place.
    """
    if threading.current_thread() is not threading.main_thread():
        return work()
    box: list[CheckResult] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def target() -> None:
        try:
            box.append(work())
        except BaseException as exc:  # handed to the waiting thread
            failure.append(exc)
        finally:
            done.set()

    threading.Thread(target=target, name="kalshi-lake-check", daemon=True).start()
    try:
        # A wait with a timeout returns to the interpreter often enough to run signal handlers.
        # (An Event, not Thread.join: a join interrupted by KeyboardInterrupt can leave
        # is_alive() False while the thread still runs, CPython gh-90882.)
        while not done.wait(0.1):
            pass
    except KeyboardInterrupt:
        con.interrupt()
        done.wait(5.0)  # the query stops at its next check of the interrupt flag
        raise
    if failure:
        raise failure[0]
    return box[0]


def run_checks(
    lake: str | Lake | Settings | duckdb.DuckDBPyConnection,
    *,
    city: str | None = None,
    cities: Sequence[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    as_of: dt.datetime | None = None,
    only: Sequence[str] | None = None,
    skip: Sequence[str] | None = None,
) -> list[CheckResult]:
    """Run every check (or those named in ``only``, minus those in ``skip``) and return their
    results in name order.

    ``lake`` is a lake URL/:class:`Lake`/:class:`Settings`, or an open connection from
    :func:`kalshi_lake.connect`.
    ``city`` (or several, ``cities``)/``start``/``end`` narrow the lake to those cities and an
    event-date range; ``as_of`` is "now" for checks about instants that have already passed.
    Several cities run each check once per city (each run reads only its city's folders) and
    report one result per check: the offending rows added up, samples from the first cities
    that have some, the first error. Ctrl-C stops the running check promptly and raises
    ``KeyboardInterrupt``.
    """
    names: list[str | None] = list(dict.fromkeys(cities)) if cities else [city]
    scopes = [Scope(c, start, end, as_of) for c in names]
    checks = select_checks(sqlfiles.load("checks"), only, skip)
    if isinstance(lake, duckdb.DuckDBPyConnection):
        con, uri, own = lake, "", False
    else:
        lk = Lake.of(lake)
        con, uri, own = connect(lk), lk.uri(), True
    try:
        per_scope: list[list[CheckResult]] = []
        for scope in scopes:
            _set_scope(con, scope)
            per_scope.append(
                [_interruptible(con, functools.partial(run_check, con, c, uri)) for c in checks]
            )
        if len(scopes) == 1:
            return per_scope[0]
        return [
            merge_results([r[i] for r in per_scope], [str(s.city) for s in scopes])
            for i in range(len(checks))
        ]
    finally:
        if own:
            # after a Ctrl-C the interrupted query may still hold the connection for a moment;
            # failing to close it must not replace the interrupt with a traceback
            with contextlib.suppress(duckdb.Error):
                con.close()


def merge_results(results: Sequence[CheckResult], cities: Sequence[str]) -> CheckResult:
    """One check's results over several cities (``results[i]`` is ``cities[i]``'s) as one: the
    offending rows added up, up to :data:`SAMPLE_ROWS` sample rows in city order, and the first
    error naming its city (a check that could not run for one city did not run)."""
    first = results[0]
    errors = [f"{c}: {r.error}" for r, c in zip(results, cities, strict=True) if r.error]
    sample = [row for r in results for row in r.sample][:SAMPLE_ROWS]
    return CheckResult(
        first.name,
        first.level,
        first.description,
        sum(r.offending for r in results),
        sample,
        errors[0] if errors else None,
    )


def validate(
    settings: Settings,
    *,
    city: str | None = None,
    cities: Sequence[str] | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    as_of: dt.datetime | None = None,
    only: Sequence[str] | None = None,
    skip: Sequence[str] | None = None,
) -> list[CheckResult]:
    """Run the checks on ``settings.lake`` (all, or ``only`` minus ``skip``) over ``city`` or
    ``cities`` (None: the whole lake); the caller decides how to report (see below).

    A named city the lake holds no curated markets of is a :class:`UsageError` (exit 2) naming
    the cities it does hold: every check would only fail on its missing files.
    """
    named = [*([city] if city else []), *(cities or [])]
    if named:
        require_cities(Lake.of(settings), [get_city(c).name for c in named])
    return run_checks(
        settings,
        city=city,
        cities=cities,
        start=start,
        end=end,
        as_of=as_of,
        only=only,
        skip=skip,
    )


def require_cities(lake: Lake, cities: Sequence[str]) -> None:
    """Raise :class:`UsageError` (exit 2) unless the lake has curated markets of every city in
    ``cities`` (canonical names), naming those it lacks and those it has (one folder listing)."""
    present = sorted(
        d.split("=", 1)[1] for d in lake.ls_dirs("curated", "markets") if d.startswith("city=")
    )
    missing = [c for c in dict.fromkeys(cities) if c not in present]
    if missing:
        raise UsageError(
            f"nothing to validate for {', '.join(missing)}: the lake has no curated markets of "
            f"{'it' if len(missing) == 1 else 'them'} (cities in the lake: "
            f"{', '.join(present) or 'none'}); backfill or transform first"
        )


def raise_if_failed(results: Sequence[CheckResult]) -> None:
    """Raise :class:`ValidationFailed` (exit 1) if an error-level check failed or did not run."""
    bad = [r.name for r in results if r.blocking]
    if bad:
        raise ValidationFailed(f"{len(bad)} error-level check(s) failed: {', '.join(bad)}")


def results_json(results: Sequence[CheckResult], lake: str, scope: dict[str, Any]) -> str:
    """The machine-readable report of ``validate --json``."""
    return json.dumps(
        {
            "lake": lake,
            "scope": {
                k: [_jsonable(x) for x in v] if isinstance(v, list | tuple) else _jsonable(v)
                for k, v in scope.items()
            },
            "passed": not any(r.blocking for r in results),
            "errors": sum(1 for r in results if r.blocking),
            "warnings": sum(1 for r in results if r.level == "warn" and not r.passed),
            "checks": [r.to_dict() for r in results],
        },
        indent=2,
    )


def _sample_text(row: dict[str, Any], width: int = 90) -> str:
    """``k=v, k=v, …``: whole fields up to about ``width`` characters, never half a value."""
    fields = [f"{k}={_jsonable(v)}" for k, v in row.items()]
    for n in range(1, len(fields)):
        if len(", ".join(fields[: n + 1])) > width:
            return ", ".join(fields[:n]) + ", …"
    return ", ".join(fields)


def render_table(
    results: Sequence[CheckResult], title: str = "validate", *, width: int = 80
) -> Any:
    """A rich Table of results at most ``width`` wide: check, level, status, offending rows, a
    sample (left out first when the terminal is narrow)."""
    from rich.text import Text

    from kalshi_lake.console import Column, fit_table

    columns = [
        Column("check", wrap=False),
        Column("level", priority=3),
        Column("status", priority=4),
        Column("offending\nrows", "right", wrap=False, priority=2),
        Column("sample", priority=1),
    ]
    styles = {"ok": "green", "warn": "yellow", "FAIL": "bold red", "ERROR": "bold red"}
    rows: list[list[str | Text]] = [
        [
            r.name,
            r.level,
            Text(r.status, style=styles[r.status]),
            str(r.offending) if r.error is None else "-",
            r.error if r.error else (_sample_text(r.sample[0]) if r.sample else ""),
        ]
        for r in results
    ]
    return fit_table(columns, rows, width=width, title=title, more="see them with --json")
