"""On a lake without book snapshots the book side of decision_quotes costs no planning.

``decision_books_computed_for`` (the book lookup of the decision rows) has no rows without book
snapshots, yet DuckDB would plan its whole body inside every decision_quotes and event_ladder
query that computes its rows; connect() swaps it for an empty macro of the same parameters and
columns there. Nothing a user sees may change: the columns, the rows, the refusal of a quantity
that is not positive.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from kalshi_lake import schemas
from kalshi_lake.lake.storage import PARTITION_FILE, Lake
from kalshi_lake.sql import sqlfiles
from kalshi_lake.sql.connection import BOOK_SIDE, connect

SCOPE = "'chicago', DATE '2026-10-30', DATE '2026-11-22'"
QUERIES = (
    f"SELECT * FROM decision_quotes_for({SCOPE}, fill_quantity := 250)",
    f"SELECT * FROM event_ladder_for({SCOPE})",
    "SELECT * FROM decision_quotes WHERE city = 'chicago' AND date >= DATE '2026-11-01'",
    "SELECT * FROM event_ladder WHERE city = 'phoenix'",
    f"SELECT * FROM {BOOK_SIDE}({SCOPE})",
)


def _definition(con: duckdb.DuckDBPyConnection) -> str:
    [(body,)] = con.execute(
        "SELECT macro_definition FROM duckdb_functions() WHERE function_name = ?", [BOOK_SIDE]
    ).fetchall()
    return str(body)


def _with_real_book_side(lake: Lake) -> duckdb.DuckDBPyConnection:
    con = connect(lake)
    [f] = [f for f in sqlfiles.load("backtest") if f.name == BOOK_SIDE]
    con.execute(f.render(lake.uri()))
    assert "book_snapshots_in" in _definition(con)
    return con


def _result(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[object, list[tuple[object, ...]]]:
    rel = con.sql(sql)
    return [(c, str(t)) for c, t in zip(rel.columns, rel.types, strict=True)], sorted(
        rel.fetchall(), key=repr
    )


def test_a_lake_without_books_gets_an_empty_book_side_with_the_same_results(
    clean_lake: Lake,
) -> None:
    con = connect(clean_lake)
    assert "book_snapshots_in" not in _definition(con)  # nothing of the book side to plan
    real = _with_real_book_side(clean_lake)
    for sql in QUERIES:
        got = _result(con, sql)
        assert got == _result(real, sql), sql
        assert got[1] or BOOK_SIDE in sql, f"{sql}: no rows, the comparison proves little"


@pytest.mark.parametrize("quantity", ["0", "-1", "NULL"])
def test_the_empty_book_side_refuses_a_bad_quantity_alike(clean_lake: Lake, quantity: str) -> None:
    sql = f"SELECT * FROM decision_quotes_for({SCOPE}, fill_quantity := {quantity})"
    errors = []
    for con in (connect(clean_lake), _with_real_book_side(clean_lake)):
        with pytest.raises(duckdb.Error, match="fill quantity must be a positive") as exc:
            con.sql(sql).fetchall()
        errors.append(str(exc.value))
    assert errors[0] == errors[1]


def test_a_lake_with_book_snapshots_keeps_the_real_book_side(
    clean_lake: Lake, tmp_path: Path
) -> None:
    lake = Lake(str(tmp_path / "lake"))
    shutil.copytree(clean_lake.root, lake.root)
    empty = pa.table(
        {f.name: pa.array([], type=f.type) for f in schemas.TABLES["book_snapshots"]},
        schema=schemas.TABLES["book_snapshots"],
    )
    lake.write_table(empty, f"curated/book_snapshots/city=chicago/month=2026-11/{PARTITION_FILE}")
    con = connect(lake)
    assert "book_snapshots_in" in _definition(con)
    plain = connect(clean_lake)
    for sql in QUERIES:
        assert _result(con, sql) == _result(plain, sql), sql
