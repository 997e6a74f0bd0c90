"""What the ``sql``, ``views`` and ``status`` commands do: run a query, write ``kalshi.duckdb``,
summarise the lake. The CLI only parses options and prints what these return.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import json
import os
import secrets
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb

from kalshi_lake.cities import FAMILIES, get_city
from kalshi_lake.config import Settings
from kalshi_lake.errors import QueryError, UnknownCityError
from kalshi_lake.lake.state import read_run_records
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sql.connection import connect, new_connection, register_views
from kalshi_lake.sql.sqlfiles import sql_literal

#: Name of the DuckDB file ``kalshi-lake views`` writes at the lake root.
VIEWS_DB = "kalshi.duckdb"


#: Longest DuckDB error text shown (characters). Its first line can echo a whole identifier,
#: literal or file list (one was 100 KB); the start names the error, the end often the reason.
MAX_ERROR_CHARS = 300


def _shorten(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    """``text`` cut to about ``limit`` characters, keeping its start and its end."""
    if len(text) <= limit:
        return text
    head, tail = (limit * 2) // 3, limit // 3
    return f"{text[:head]} [... {len(text) - head - tail} characters cut ...] {text[-tail:]}"


def query_error(exc: duckdb.Error, what: str = "query") -> QueryError:
    """A one-line :class:`QueryError` from a DuckDB error: its first line, whitespace collapsed
    and at most :data:`MAX_ERROR_CHARS` long (DuckDB's ``LINE 1: <the SQL>`` echo is dropped)."""
    first = (
        _shorten(" ".join(str(exc).strip().splitlines()[0].split()))
        if str(exc).strip()
        else type(exc).__name__
    )
    hint = ""
    if "No files found" in first:
        hint = " (that part of the lake has no files: check --lake, the city and the dates)"
    return QueryError(f"{what} failed: {first}{hint}")


@dataclass(frozen=True)
class QueryResult:
    """Columns and rows of a query (``truncated`` when more rows existed than were fetched)."""

    columns: list[str]
    types: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool = False


def run_sql(
    lake: str | Lake | Settings,
    sql: str,
    *,
    max_rows: int | None = None,
    con: duckdb.DuckDBPyConnection | None = None,
) -> QueryResult:
    """Run ``sql`` over the lake's views; fetch at most ``max_rows`` rows (None = all)."""
    own = con is None
    con = con or connect(Lake.of(lake))
    try:
        try:
            cur: duckdb.DuckDBPyConnection | None = con.execute(sql)
            if cur is None:  # DuckDB runs nothing for "", ";" or only comments
                raise QueryError(
                    "the query is empty: pass one SQL statement, "
                    "e.g. 'SELECT * FROM markets LIMIT 5'"
                )
            desc = cur.description or []
            columns, types = [d[0] for d in desc], [str(d[1]) for d in desc]
            if max_rows is None:
                return QueryResult(columns, types, cur.fetchall())
            rows = cur.fetchmany(max_rows + 1)
            if len(rows) > max_rows:
                con.abort()  # drop the rest; the connection stays usable
        except duckdb.Error as exc:
            raise query_error(exc) from None
        return QueryResult(columns, types, rows[:max_rows], truncated=len(rows) > max_rows)
    finally:
        if own:
            con.close()


def _text(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, dt.datetime):
        return v.isoformat()
    if isinstance(v, dt.date | dt.time):
        return v.isoformat()
    return str(v)


def _json_value(v: Any) -> Any:
    if v is None or isinstance(v, bool | int | float | str):
        return v
    if isinstance(v, Decimal):
        return str(v)  # exact: never through float
    if isinstance(v, list | tuple):
        return [_json_value(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_value(x) for k, x in v.items()}
    return _text(v)


def to_json(result: QueryResult) -> str:
    """Rows as a JSON array of objects (decimals as exact strings, times as ISO 8601)."""
    return json.dumps(
        [
            {c: _json_value(v) for c, v in zip(result.columns, row, strict=True)}
            for row in result.rows
        ],
        indent=2,
    )


def to_csv(result: QueryResult) -> str:
    """Rows as CSV with a header line (NULL as an empty field)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(result.columns)
    for row in result.rows:
        w.writerow(
            [
                _text(v) if not isinstance(v, list | dict) else json.dumps(_json_value(v))
                for v in row
            ]
        )
    return buf.getvalue()


_NUMERIC = ("DECIMAL", "INTEGER", "BIGINT", "SMALLINT", "DOUBLE", "HUGEINT", "FLOAT", "TINYINT")


def _type_label(typ: str) -> str:
    return "timestamptz" if typ == "TIMESTAMP WITH TIME ZONE" else typ.lower()


def to_rich(result: QueryResult, title: str | None = None, *, width: int = 80) -> Any:
    """Rows as a rich Table at most ``width`` wide (NULL dimmed; columns that fit, left first)."""
    from rich.text import Text

    from kalshi_lake.console import Column, fit_table

    columns = [
        Column(
            Text.assemble(col, "\n", (_type_label(typ), "dim")),
            justify="right" if typ.startswith(_NUMERIC) else "left",
        )
        for col, typ in zip(result.columns, result.types, strict=True)
    ]
    rows = [
        [Text("NULL", style="dim") if v is None else _text(v) for v in row] for row in result.rows
    ]
    caption = f"{len(result.rows)} row(s)" + (", more not shown" if result.truncated else "")
    return fit_table(columns, rows, width=width, title=title, caption=caption)


# --- kalshi.duckdb -----------------------------------------------------------------------------


def write_views_db(lake: str | Lake | Settings) -> tuple[str, list[str]]:
    """Write ``<lake>/kalshi.duckdb`` holding every view and macro; returns (where, notes).

    The DuckDB CLI or any DuckDB client opens the file and queries the lake directly. Opened as
    ``kalshi.duckdb``, it reads the lake folder it sits in, so it moves (or is copied) with the
    lake; renamed or ATTACHed, it reads the lake it was built for (queries/views/lake_root.sql).
    The file is built next to its final name and moved into place, so a reader never sees half
    of it. For an object-store lake it is built locally and uploaded in one request; clients
    then need DuckDB's httpfs and credentials to read the Parquet files.
    """
    lk = Lake.of(lake)
    if lk.is_local:
        Path(lk.root).mkdir(parents=True, exist_ok=True)
        final = Path(lk.path(VIEWS_DB))
        tmp = final.with_name(f".{VIEWS_DB}.{secrets.token_hex(4)}.tmp")
        try:
            notes = _build_views_db(str(tmp), lk)
            os.replace(tmp, final)
        finally:
            for p in (tmp, Path(f"{tmp}.wal")):
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
        return str(final), notes
    with tempfile.TemporaryDirectory() as d:
        local = os.path.join(d, VIEWS_DB)
        notes = _build_views_db(local, lk)
        lk.write_bytes(Path(local).read_bytes(), VIEWS_DB)
    return lk.uri(VIEWS_DB), notes


def _build_views_db(path: str, lake: Lake) -> list[str]:
    con = new_connection(path)
    try:
        notes = register_views(con, lake)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return notes


# --- status ------------------------------------------------------------------------------------


def lake_status(
    lake: str | Lake | Settings, cities: Sequence[str] | None = None
) -> list[dict[str, Any]]:
    """Per city and market family: event dates covered, markets, trades, candles, last fetch,
    last run, gaps.

    Coverage is what was fetched (the ``lake_status`` view): a day is covered when the raw layer
    holds its trades and candle pages of that family, never because a listing mentioned its
    markets; the days between the first and last covered day that are not are the gaps.
    ``cities`` (canonical names) keeps only those cities, and gives a city with nothing in the
    lake a row per family it has, all zero, so that every city asked about is answered; None:
    every city in the lake.
    """
    lk = Lake.of(lake)
    con = connect(lk)
    try:
        try:
            rel = con.sql("SELECT * FROM lake_status")
            if cities is not None:
                rel = rel.filter(f"city IN ({', '.join(sql_literal(c) for c in cities)})")
            cols = rel.columns
            rows = [dict(zip(cols, r, strict=True)) for r in rel.fetchall()]
        except duckdb.Error as exc:
            raise query_error(exc, "status") from None
    finally:
        con.close()
    runs, any_family = _latest_runs(lk, cities)
    # A zero row for what was fetched but not transformed yet, and for a named city with
    # nothing in the lake. A run that named no family fetched highs.
    keys = {(row["city"], row["family"]) for row in rows}
    keys.update(runs)
    for city in [*any_family, *(cities or ())]:
        if not any(c == city for c, _ in keys):
            keys.update((city, f) for f in (["high"] if city in any_family else _families_of(city)))
    known = {(row["city"], row["family"]) for row in rows}
    rows += [
        {**_EMPTY_STATUS, "city": c, "family": f, "gaps": []}
        for c, f in keys
        if (c, f) not in known
    ]
    for row in rows:
        found = [runs.get((row["city"], row["family"])), any_family.get(row["city"])]
        latest = max((r for r in found if r), key=_started, default=None)
        row["last_run"] = _run_summary(latest)
    rows.sort(key=lambda r: _status_order((r["city"], r["family"])))
    return rows


def _started(rec: dict[str, Any]) -> str:
    return str(rec.get("started_at", ""))


def _families_of(city: str) -> list[str]:
    """The families the registry lists for ``city`` (``['high']`` for a city it lacks)."""
    try:
        return list(get_city(city).families)
    except UnknownCityError:
        return ["high"]


def _status_order(key: tuple[str, str]) -> tuple[str, int, str]:
    city, family = key
    return (city, FAMILIES.index(family) if family in FAMILIES else len(FAMILIES), family)


def _latest_runs(
    lake: Lake, cities: Sequence[str] | None
) -> tuple[dict[tuple[str, str], dict[str, Any]], dict[str, dict[str, Any]]]:
    """The latest run record per (city, family) of the runs that name their families (a
    backfill's), and per city of those that do not (a repair, an older backfill), which count
    for every family of the city."""
    per_family: dict[tuple[str, str], dict[str, Any]] = {}
    any_family: dict[str, dict[str, Any]] = {}
    for rec in read_run_records(lake):
        city = rec.get("city")
        if not isinstance(city, str) or (cities is not None and city not in cities):
            continue
        families = rec.get("families")
        if isinstance(families, list) and families:
            for family in families:
                key = (city, str(family))
                if _started(rec) >= _started(per_family.get(key, {})):
                    per_family[key] = rec
        elif _started(rec) >= _started(any_family.get(city, {})):
            any_family[city] = rec
    return per_family, any_family


#: The ``status`` row of a city and family with nothing transformed yet.
_EMPTY_STATUS: dict[str, Any] = {
    "city": None,
    "family": None,
    "first_date": None,
    "last_date": None,
    "event_dates": 0,
    "markets": 0,
    "settled_markets": 0,
    "trades": 0,
    "api_candles_1m": 0,
    "trade_candles_1m": 0,
    "last_fetch": None,
    "missing_days": 0,
    "gaps": [],
    "listed_only_days": 0,
    "last_run": None,
}


def _run_summary(rec: dict[str, Any] | None) -> str | None:
    if not rec:
        return None
    when = rec.get("finished_at") or rec.get("started_at") or "?"
    return f"{rec.get('command', 'run')} {rec.get('status', '?')} {when}"


def status_json(
    rows: Sequence[dict[str, Any]],
    lake: str,
    *,
    live: Sequence[dict[str, Any]] = (),
    stale: Sequence[str] = (),
) -> str:
    """``kalshi-lake status --json``: the rows, the follower rows (``live``, see
    :mod:`~kalshi_lake.sql.live_status`) and, with ``--max-lag``, what is ``stale``."""
    return json.dumps(
        {
            "lake": lake,
            "cities": [{k: _json_value(v) for k, v in r.items()} for r in rows],
            "live": [{k: _json_value(v) for k, v in r.items()} for r in live],
            "stale": list(stale),
        },
        indent=2,
    )


def status_csv(rows: Sequence[dict[str, Any]]) -> str:
    """``kalshi-lake status --csv``: the JSON's fields, one line per city and family (gaps as
    JSON)."""
    columns = list(rows[0]) if rows else list(_EMPTY_STATUS)
    return to_csv(QueryResult(columns, [], [tuple(r[c] for c in columns) for r in rows]))


def _minute(v: Any) -> str:
    """A time to the minute, for tables (JSON keeps the full value)."""
    if isinstance(v, str):
        with contextlib.suppress(ValueError):
            v = dt.datetime.fromisoformat(v)
    if isinstance(v, dt.datetime):
        return (
            v.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M") if v.tzinfo else f"{v:%Y-%m-%d %H:%M}"
        )
    return _text(v)


def _date_range(first: Any, last: Any = None) -> str:
    """``2026-11-01..11-22``: the last date without the year when it is the same."""
    a, b = _text(first), _text(last if last is not None else first)
    if a == b:
        return a
    return f"{a}..{b[5:]}" if a[:5] == b[:5] else f"{a}..{b}"


def _short_run(summary: str | None) -> str:
    """``backfill ok 2026-12-05T19:38:02.496+00:00`` -> ``backfill ok 2026-12-05 19:38``."""
    if not summary:
        return "-"
    head, _, when = summary.rpartition(" ")
    return f"{head} {_minute(when)}" if head else summary


def status_table(rows: Sequence[dict[str, Any]], lake: str, *, width: int = 80) -> Any:
    """``kalshi-lake status`` as a rich Table at most ``width`` wide (times in UTC)."""
    from kalshi_lake.console import Column, fit_table

    # on a narrow terminal the run, the fetch time, the candle counts and the gap list go first
    columns = [
        Column("city", wrap=False),
        Column("family", wrap=False, priority=11),
        Column("event dates", wrap=False, priority=10),
        Column("dates", "right", priority=9),
        Column("missing", "right", priority=8),
        Column("markets\n(settled)", "right", wrap=False, priority=7),
        Column("trades", "right", priority=6),
        Column("gaps", priority=4),
        Column("candles 1m\napi / trades", "right", wrap=False, priority=3),
        Column("last fetch\n(UTC)", wrap=False, priority=2),
        Column("last run\n(UTC)", wrap=False, priority=1),
    ]
    table_rows = []
    for r in rows:
        gaps = r["gaps"] or []
        table_rows.append(
            [
                r["city"],
                r["family"] or "-",
                _date_range(r["first_date"], r["last_date"]) if r["first_date"] else "-",
                str(r["event_dates"]),
                str(r["missing_days"]),
                f"{r['markets']} ({r['settled_markets']})",
                str(r["trades"]),
                ", ".join(_date_range(*g.split("..")) for g in gaps[:4])
                + (", …" if len(gaps) > 4 else "")
                if gaps
                else "none",
                f"{r['api_candles_1m']} / {r['trade_candles_1m']}",
                _minute(r["last_fetch"]) if r["last_fetch"] else "-",
                _short_run(r.get("last_run")),
            ]
        )
    caption = "empty lake: run `kalshi-lake backfill --city NAME`" if not rows else None
    return fit_table(
        columns,
        table_rows,
        width=width,
        title=f"lake {lake}",
        caption=caption,
        more="see them with --json",
    )
