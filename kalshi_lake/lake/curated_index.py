"""The partition index: which curated files exist and their columns, so views bind without reading
any of them.

A view over ``read_parquet('curated/<table>/city=*/month=*/*.parquet', union_by_name=true)``
reads the footer of every file of the table when a query is bound, before a filter on city or
date can prune a single one (PERF: on a 20-city, 365-day lake about 100 ms of CPU per table, the
bulk of a plain ``decision_quotes`` filtered to one city). Told the columns, DuckDB reads no
footer at bind time and opens only the files the filters keep. This index is where the columns
come from:

``_state/partitions/<city>.json`` (one per city, written under the city's transform lease)::

    {"format": 1,
     "schemas": {"<id>": [["trade_id", "VARCHAR"], ["yes_price", "DECIMAL(10, 6)"], ...]},
     "tables": {"trades": {"month=2026-01/part-0.parquet": {"size": <bytes>,
                                                          "stamp": "<FileStat stamp>",
                                                          "schema": "<id>"}}}}

Each entry is one file of ``curated/<table>/city=<city>/`` as it was written (its size and
change stamp, :class:`~kalshi_lake.lake.storage.FileStat`) and its columns as DuckDB types. The
transform rewrites a city's index after every batch it publishes (:func:`write_city`, from its
own record of what it wrote); :func:`build` indexes a lake written by anything else (an older
kalshi-lake, a generator) by reading each file's footer once. A reader trusts the index for a
table only while every file of that table it lists matches an entry by size and stamp
(:func:`table_columns`); anything else (a lake without an index, a file written by hand, a
partition replaced after the index) leaves the table to ``union_by_name``, exact and slower.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from kalshi_lake.lake.storage import PARTITION_FILE, Check, FileStat, Lake
from kalshi_lake.log import get_logger
from kalshi_lake.schemas import TABLES

log = get_logger(__name__)

INDEX_DIR = "_state/partitions"
_FORMAT = 1

#: A curated file as the views' glob (``curated/<t>/city=*/month=*/*.parquet``) matches it.
_CURATED = re.compile(
    r"^curated/(?P<table>[^/]+)/city=(?P<city>[^/]+)/(?P<rest>month=[^/]+/[^/]+\.parquet)$"
)

Columns = tuple[tuple[str, str], ...]


def duck_type(t: pa.DataType) -> str:
    """The DuckDB type a Parquet column written from Arrow type ``t`` reads back as."""
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "VARCHAR"
    if pa.types.is_decimal(t):
        return f"DECIMAL({t.precision}, {t.scale})"
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ" if t.tz else "TIMESTAMP"
    if pa.types.is_date32(t):
        return "DATE"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_floating(t):
        return {16: "FLOAT", 32: "FLOAT", 64: "DOUBLE"}[t.bit_width]
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"{duck_type(t.value_type)}[]"
    if pa.types.is_struct(t):
        return "STRUCT(" + ", ".join(f"{f.name} {duck_type(f.type)}" for f in t) + ")"
    ints = {8: "TINYINT", 16: "SMALLINT", 32: "INTEGER", 64: "BIGINT"}
    if pa.types.is_integer(t):
        return ints[t.bit_width] if pa.types.is_signed_integer(t) else "U" + ints[t.bit_width]
    raise TypeError(f"no DuckDB type for {t}")


def columns_of(schema: pa.Schema) -> Columns:
    """``schema``'s columns as (name, DuckDB type) pairs."""
    return tuple((f.name, duck_type(f.type)) for f in schema)


def _schema_id(cols: Columns) -> str:
    return hashlib.sha256(json.dumps(cols).encode()).hexdigest()[:12]


def _doc(entries: Mapping[str, Mapping[str, tuple[FileStat, Columns]]]) -> bytes:
    schemas: dict[str, list[list[str]]] = {}
    tables: dict[str, dict[str, dict[str, object]]] = {}
    for table, files in sorted(entries.items()):
        out: dict[str, dict[str, object]] = {}
        for rest, (st, cols) in sorted(files.items()):
            sid = _schema_id(cols)
            schemas[sid] = [list(c) for c in cols]
            out[rest] = {"size": st.size, "stamp": st.stamp, "schema": sid}
        if out:
            tables[table] = out
    doc = {"format": _FORMAT, "schemas": schemas, "tables": tables}
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def write_city(
    lake: Lake,
    city: str,
    files: Mapping[str, Mapping[str, tuple[FileStat, Columns]]],
    check: Check | None = None,
) -> None:
    """Replace ``city``'s index with ``files``: table -> ``month=<m>/<file>`` -> (its stat as
    written, its columns). Atomic; ``check`` (the city lease's ``ensure``) runs just before."""
    lake.write_bytes(_doc(files), INDEX_DIR, f"{city}.json", check=check)


def write_transformed(
    lake: Lake, city: str, partitions: Mapping[str, Mapping[str, object]], check: Check | None
) -> None:
    """Index ``city`` from the transform's record of what it published (its state's
    ``partitions``: month -> {"curated": {table: {"size", "stamp", ...}}}). The transform writes
    every table in :data:`~kalshi_lake.schemas.TABLES`' own schema, so those are its columns."""
    files: dict[str, dict[str, tuple[FileStat, Columns]]] = {}
    for month, entry in partitions.items():
        curated = entry.get("curated")
        if not isinstance(curated, Mapping):
            continue
        for table, rec in curated.items():
            if table not in TABLES or not isinstance(rec, Mapping):
                continue
            files.setdefault(table, {})[f"month={month}/{PARTITION_FILE}"] = (
                FileStat(int(rec["size"]), str(rec["stamp"])),
                columns_of(TABLES[table]),
            )
    write_city(lake, city, files, check=check)


@dataclass(frozen=True)
class Entry:
    """One indexed file: its stat as written and its columns."""

    stat: FileStat
    columns: Columns


def _parse(doc: object) -> dict[str, dict[str, Entry]] | None:
    if not isinstance(doc, dict) or doc.get("format") != _FORMAT:
        return None
    schemas = {
        str(k): tuple((str(n), str(t)) for n, t in v) for k, v in doc.get("schemas", {}).items()
    }
    out: dict[str, dict[str, Entry]] = {}
    for table, files in doc.get("tables", {}).items():
        out[str(table)] = {
            str(rest): Entry(FileStat(int(e["size"]), str(e["stamp"])), schemas[str(e["schema"])])
            for rest, e in files.items()
        }
    return out


def load(lake: Lake) -> dict[tuple[str, str], dict[str, Entry]]:
    """Every city's index: (table, city) -> ``month=<m>/<file>`` -> :class:`Entry`. A city whose
    index is missing, unreadable or of another format has no entries (its files are unknown)."""
    paths = lake.ls_files(INDEX_DIR)
    paths = [p for p in paths if p.endswith(".json")]
    if not paths:
        return {}
    if lake.is_local:
        blobs = {p: lake.read_bytes(lake.rel(p)) for p in paths}
    else:
        got = lake.fs.cat(paths)  # one concurrent batch of GETs on object stores
        blobs = {p: got[p] for p in paths} if isinstance(got, dict) else {paths[0]: got}
    out: dict[tuple[str, str], dict[str, Entry]] = {}
    for path, blob in blobs.items():
        city = path.rsplit("/", 1)[-1].removesuffix(".json")
        try:
            parsed = _parse(json.loads(blob))
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable partition index %s: %s", path, exc)
            continue
        for table, files in (parsed or {}).items():
            out[(table, city)] = files
    return out


def table_columns(
    lake: Lake, tables: Iterable[str], listing: Mapping[str, FileStat] | None = None
) -> dict[str, Columns]:
    """The columns of each of ``tables`` that the index vouches for: every file of the table
    (``listing``: :meth:`Lake.walk_stats` of ``curated``, listed here when not given) is indexed
    with its current size and stamp. Columns come in the order ``union_by_name`` gives (first
    appearance over the files in path order). A table with no files, an unindexed or changed
    file, or a column whose type differs between files is left out."""
    wanted = set(tables)
    index = load(lake)
    if not index:
        return {}
    if listing is None:
        listing = lake.walk_stats("curated")
    files: dict[str, list[tuple[str, str, FileStat]]] = {}
    for path, st in listing.items():
        m = _CURATED.match(lake.rel(path))
        if m and m["table"] in wanted:
            files.setdefault(m["table"], []).append((m["city"], m["rest"], st))
    out: dict[str, Columns] = {}
    for table, found in files.items():
        cols: dict[str, str] = {}
        ok = True
        for city, rest, st in sorted(found, key=lambda f: (f[0], f[1])):
            entry = index.get((table, city), {}).get(rest)
            if entry is None or entry.stat != st:
                ok = False
                break
            for name, typ in entry.columns:
                if cols.setdefault(name, typ) != typ:
                    ok = False
            if not ok:
                break
        if ok and cols:
            out[table] = tuple(cols.items())
    return out


def build(lake: Lake, cities: Iterable[str] | None = None) -> int:
    """Index the curated files of ``cities`` (default: all) by reading each file's footer: for a
    lake the transform did not write (or wrote before it kept an index). Run it while no
    transform writes those cities. Returns the number of files indexed."""
    listing = lake.walk_stats("curated")
    keep = set(cities) if cities is not None else None
    per_city: dict[str, dict[str, dict[str, tuple[FileStat, Columns]]]] = {}
    for path, st in sorted(listing.items()):
        m = _CURATED.match(lake.rel(path))
        if not m or (keep is not None and m["city"] not in keep):
            continue
        with lake.fs.open(path, "rb") as f:
            schema = pq.read_schema(f)
        per_city.setdefault(m["city"], {}).setdefault(m["table"], {})[m["rest"]] = (
            st,
            columns_of(schema),
        )
    for city, files in per_city.items():
        write_city(lake, city, files)
    return sum(len(f) for files in per_city.values() for f in files.values())
