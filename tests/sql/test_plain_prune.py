"""Plain views filtered as users write them prune like the _for forms (the partition index).

A curated table whose files the index (``_state/partitions``) vouches for is read with the
index's columns instead of ``union_by_name``, so binding a query reads no footer and a filter on
city opens only that city's files. The rows must be exactly those of the ``_for`` forms and of
the ``union_by_name`` read (a lake without an index), on a multi-city lake, after a partition is
added, and on S3.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from sql_lakefactory import LakeData, write_rows

import kalshi_lake
from kalshi_lake import schemas
from kalshi_lake.config import Settings
from kalshi_lake.lake import curated_index
from kalshi_lake.lake.storage import Lake, unique_name
from kalshi_lake.sim.rawgen import SynthSpec, generate_raw
from kalshi_lake.transform import run_transform

CHICAGO = "city = 'chicago' AND date BETWEEN DATE '2026-10-31' AND DATE '2026-11-22'"
PHOENIX = "city = 'phoenix'"
#: plain view -> its scoped form for the CHICAGO filter
SCOPED = {
    "decision_quotes": "decision_quotes_for('chicago', DATE '2026-10-31', DATE '2026-11-22')",
    "event_ladder": "event_ladder_for('chicago', DATE '2026-10-31', DATE '2026-11-22')",
    "markets": "markets_in('chicago', DATE '2026-10-31', DATE '2026-11-22')",
    "trades": "trades_in('chicago', DATE '2026-10-31', DATE '2026-11-22')",
    "candles_1m": "candles_1m_in('chicago', DATE '2026-10-31', DATE '2026-11-22')",
    "candles_5m": "candles_5m_in('chicago', DATE '2026-10-31', DATE '2026-11-22')",
    "market_events": "market_events_in('chicago', DATE '2026-10-31', DATE '2026-11-22')",
}


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[list[str], list[tuple[object, ...]]]:
    rel = con.sql(sql)
    return [d[0] for d in rel.description], sorted(rel.fetchall(), key=repr)


def _source(con: duckdb.DuckDBPyConnection, table: str) -> str:
    [(body,)] = con.execute(
        "SELECT macro_definition FROM duckdb_functions() WHERE function_name = ?", [f"{table}_in"]
    ).fetchall()
    return "indexed" if "lake_indexed_in(" in body else "union"


def _assert_same_everywhere(indexed: duckdb.DuckDBPyConnection, union: duckdb.DuckDBPyConnection):
    for view, scoped in SCOPED.items():
        for where in (CHICAGO, PHOENIX, "true"):
            plain = _rows(indexed, f"SELECT * FROM {view} WHERE {where}")
            assert plain == _rows(union, f"SELECT * FROM {view} WHERE {where}"), (view, where)
        got = _rows(indexed, f"SELECT * FROM {view} WHERE {CHICAGO}")
        assert got == _rows(indexed, f"SELECT * FROM {scoped}"), view
        assert got == _rows(union, f"SELECT * FROM {scoped}"), view
        assert got[1], f"{view}: the filter keeps no rows, the comparison proves nothing"


@pytest.fixture
def lakes(clean_data: LakeData, tmp_path: Path) -> tuple[Lake, Lake]:
    """The same multi-city lake twice: indexed, and as an older lake without an index."""
    indexed = clean_data.write(tmp_path / "indexed")
    plain = Lake(str(tmp_path / "no-index"))
    shutil.copytree(indexed.root, plain.root)
    assert curated_index.build(indexed) > 0
    return indexed, plain


@pytest.mark.slow
def test_plain_views_equal_the_for_forms_and_the_union_read(lakes: tuple[Lake, Lake]) -> None:
    indexed, old = lakes
    a, b = kalshi_lake.connect(indexed), kalshi_lake.connect(old)
    # the tables this lake has files of (a lake never followed has no book tables)
    tables = [t for t in schemas.TABLES if any(Path(indexed.root, "curated", t).rglob("*.parquet"))]
    assert {"markets", "trades", "candles_1m"} <= set(tables)
    assert {_source(a, t) for t in tables} == {"indexed"}
    assert {_source(b, t) for t in tables} == {"union"}  # no index: read as before
    _assert_same_everywhere(a, b)


def test_a_filtered_plain_view_never_opens_another_citys_files(lakes: tuple[Lake, Lake]) -> None:
    indexed, old = lakes
    a, b = kalshi_lake.connect(indexed), kalshi_lake.connect(old)
    want = {v: _rows(a, f"SELECT * FROM {v} WHERE {CHICAGO}") for v in SCOPED}
    for lake in (indexed, old):  # phoenix's files become unreadable after connecting
        for path in Path(lake.root, "curated").glob("*/city=phoenix/*/*.parquet"):
            path.write_bytes(b"not parquet")
    # event_ladder too: its window functions must not keep the filter above the scans
    for view, rows in want.items():
        assert _rows(a, f"SELECT * FROM {view} WHERE {CHICAGO}") == rows, view
    assert _rows(a, "SELECT * FROM trades WHERE city = 'chicago'")[1]
    with pytest.raises(duckdb.Error):  # unfiltered, the view does read them
        a.execute("SELECT count(*) FROM trades").fetchall()
    with pytest.raises(duckdb.Error):  # union_by_name reads every footer before pruning
        b.execute(f"SELECT count(*) FROM decision_quotes WHERE {CHICAGO}").fetchall()


def test_a_partition_written_after_connecting_is_read(
    clean_data: LakeData, lakes: tuple[Lake, Lake]
) -> None:
    indexed, old = lakes
    a = kalshi_lake.connect(indexed)
    # a new month for chicago, as a transform run would publish it while a notebook is open
    day = dt.date(2026, 12, 1)
    for lake in (indexed, old):
        for table in ("markets", "trades"):
            rows = [
                {**r, "date": day, "event_ticker": r["event_ticker"] + "X"}
                for r in getattr(clean_data, table)
                if r["city"] == "chicago" and r["date"] == dt.date(2026, 11, 21)
            ]
            write_rows(lake, table, rows)
    b = kalshi_lake.connect(old)
    where = "city = 'chicago' AND date >= DATE '2026-11-21'"
    got = _rows(a, f"SELECT * FROM trades WHERE {where}")
    assert any(r[got[0].index("date")] == day for r in got[1])
    assert got == _rows(b, f"SELECT * FROM trades WHERE {where}")
    assert got == _rows(a, "SELECT * FROM trades_in('chicago', DATE '2026-11-21', NULL)")
    new_day = "SELECT * FROM decision_quotes WHERE date = DATE '2026-12-01'"
    assert _rows(a, new_day) == _rows(b, new_day)
    assert len(_rows(a, new_day)[1]) == 2 * 6
    # a new connection does not trust the index for files it does not list: union_by_name
    c = kalshi_lake.connect(indexed)
    assert _source(c, "trades") == "union" and _source(c, "candles_1m") == "indexed"
    assert _rows(c, f"SELECT * FROM trades WHERE {where}") == got
    curated_index.build(indexed)
    assert _source(kalshi_lake.connect(indexed), "trades") == "indexed"


def test_a_file_the_index_does_not_know_keeps_its_columns(
    lakes: tuple[Lake, Lake],
) -> None:
    indexed, _old = lakes
    extra = pa.table(
        {
            **{
                n: pa.array([None], type=t)
                for n, t in zip(schemas.TRADES.names, schemas.TRADES.types, strict=True)
            },
            "maker_fee": pa.array(["0.01"]),
        }
    )
    extra = extra.set_column(0, "trade_id", pa.array(["new-one"]))
    extra = extra.set_column(3, "date", pa.array([dt.date(2026, 3, 8)], type=pa.date32()))
    indexed.write_table(extra, f"curated/trades/city=chicago/month=2026-03/{unique_name()}")
    con = kalshi_lake.connect(indexed)
    assert _source(con, "trades") == "union"
    assert con.execute("SELECT maker_fee FROM trades WHERE trade_id = 'new-one'").fetchall() == [
        ("0.01",)
    ]
    # indexed from its footer, the column is in the index's schema and stays visible
    curated_index.build(indexed)
    con = kalshi_lake.connect(indexed)
    assert _source(con, "trades") == "indexed"
    assert con.execute(
        "SELECT maker_fee FROM trades WHERE city = 'chicago' AND trade_id = 'new-one'"
    ).fetchall() == [("0.01",)]
    assert con.execute("SELECT count(maker_fee) FROM trades").fetchall() == [(1,)]


def test_a_replaced_file_or_an_unreadable_index_falls_back(lakes: tuple[Lake, Lake]) -> None:
    indexed, old = lakes
    path = next(Path(indexed.root, "curated", "markets").glob("city=phoenix/*/*.parquet"))
    shutil.copyfile(
        next(Path(old.root, "curated", "markets").glob("city=chicago/*/*.parquet")), path
    )
    con = kalshi_lake.connect(indexed)
    assert _source(con, "markets") == "union" and _source(con, "trades") == "indexed"
    Path(indexed.root, curated_index.INDEX_DIR, "phoenix.json").write_text("{not json")
    con = kalshi_lake.connect(indexed)
    assert {_source(con, t) for t in schemas.TABLES} == {"union"}  # phoenix has files in each


@pytest.mark.slow
def test_the_transform_keeps_the_index_current(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    spec = SynthSpec(
        seed=5, cities=("chicago", "nyc"), start=dt.date(2026, 9, 29), days=4, trades_per_market=60
    )
    generate_raw(Lake(str(root)), spec)
    run_transform(Settings(lake=str(root), progress=False))
    lake = Lake(str(root))
    assert sorted(p.name for p in Path(root, curated_index.INDEX_DIR).iterdir()) == [
        "chicago.json",
        "nyc.json",
    ]
    con = kalshi_lake.connect(lake)
    built = {t for t in schemas.TABLES if lake.has_files("curated", t)}
    assert built and {_source(con, t) for t in built} == {"indexed"}
    old = tmp_path / "old"
    shutil.copytree(root, old)
    shutil.rmtree(old / curated_index.INDEX_DIR)
    union = kalshi_lake.connect(str(old))
    for table in sorted(built):
        for where in ("city = 'nyc' AND date >= DATE '2026-10-01'", "true"):
            sql = f"SELECT * FROM {table} WHERE {where}"
            assert _rows(con, sql) == _rows(union, sql), (table, where)


@pytest.mark.slow
def test_an_indexed_s3_lake_prunes_the_same(
    clean_data: LakeData, s3_lake: Callable[[], Lake]
) -> None:
    lake = s3_lake()
    for name in ("markets", "trades", "candles_1m"):
        write_rows(lake, name, getattr(clean_data, name))
    old = kalshi_lake.connect(lake)
    assert curated_index.build(lake) > 0
    con = kalshi_lake.connect(lake)
    assert {_source(con, t) for t in ("markets", "trades", "candles_1m")} == {"indexed"}
    for sql in (
        f"SELECT * FROM decision_quotes WHERE {CHICAGO}",
        f"SELECT * FROM {SCOPED['decision_quotes']}",
        f"SELECT * FROM trades WHERE {PHOENIX}",
    ):
        assert _rows(con, sql) == _rows(old, sql), sql
    assert _rows(con, f"SELECT * FROM decision_quotes WHERE {CHICAGO}")[1]
