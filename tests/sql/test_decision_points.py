"""The decision_points table: the views read it where it is current and compute its rows
otherwise, and either way every row is the same.

``connect()`` reads the table only when the partition index vouches for it and for every table
it is computed from, and every (city, month) with markets has it
(:func:`kalshi_lake.sql.connection.materialized`). The lakes here are the SQL fixture lake
(chicago crosses the end of DST on 2026-11-01) with order books for some markets, written with
:func:`kalshi_lake.transform.decision_points.write_lake_points`, the transform's own SQL.
"""

from __future__ import annotations

import copy
import datetime as dt
import random
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest
from sql_lakefactory import NOW, LakeData, write_rows

from kalshi_lake.cities import family_for_ticker
from kalshi_lake.lake import curated_index
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sql import sqlfiles
from kalshi_lake.sql.connection import compute_decision_points, connect, reads_decision_points
from kalshi_lake.testing.books import Market, random_events, write_books
from kalshi_lake.transform.decision_points import write_lake_points

SCOPE = "'chicago', DATE '2026-10-30', DATE '2026-11-22'"
CHICAGO = "city = 'chicago' AND date BETWEEN DATE '2026-10-30' AND DATE '2026-11-22'"
#: Every reader of the decision rows, as users call them.
QUERIES = (
    "SELECT * FROM decision_points",
    "SELECT * FROM decision_points_in('chicago', NULL, DATE '2026-11-02')",
    f"SELECT * FROM decision_quotes_for({SCOPE})",
    f"SELECT * FROM decision_quotes_for({SCOPE}, fill_quantity := 7.5)",
    f"SELECT * FROM decision_quotes_for({SCOPE}, instants := ['D 09:55', 'D-1 10:00'])",
    f"SELECT * FROM event_ladder_for({SCOPE}, fill_quantity := 1000)",
    f"SELECT * FROM event_ladder_for({SCOPE}, instants := ['D 01:30'])",
    f"SELECT * FROM fill_cost_decisions_for({SCOPE}, quantity := 3)",
    f"SELECT * FROM fill_cost_decisions_for({SCOPE}, quantity := 100000)",
    f"SELECT * FROM fill_cost_decisions_for({SCOPE}, instants := ['D 10:01'])",
    f"SELECT * FROM decision_quotes WHERE {CHICAGO}",
    "SELECT * FROM decision_quotes WHERE city = 'phoenix'",
    f"SELECT * FROM event_ladder WHERE {CHICAGO}",
    "SELECT * FROM event_ladder",
)


def _result(con: duckdb.DuckDBPyConnection, sql: str) -> tuple[Any, list[tuple[Any, ...]]]:
    rel = con.sql(sql)
    cols = [(c, str(t)) for c, t in zip(rel.columns, rel.types, strict=True)]
    return cols, sorted(rel.fetchall(), key=repr)


def _computed(lake: Lake) -> duckdb.DuckDBPyConnection:
    con = connect(lake)
    compute_decision_points(con)
    assert not reads_decision_points(con)
    return con


def _books(data: LakeData, seed: int) -> list[tuple[Market, list[Any]]]:
    """Streamed books for chicago's markets of four days, across the end of DST (11-01)."""
    rng = random.Random(seed)
    days = {
        dt.date(2026, 10, 31),
        dt.date(2026, 11, 1),
        dt.date(2026, 11, 2),
        dt.date(2026, 11, 21),
    }
    out = []
    for i, m in enumerate(r for r in data.markets if r["city"] == "chicago" and r["date"] in days):
        family = family_for_ticker(m["event_ticker"])
        market = Market(m["market_ticker"], m["event_ticker"], "chicago", family, m["date"])
        end = min(m["close_time"], NOW)
        events = random_events(rng, m["open_time"], end, conn_prefix=f"d{i}", mean_gap_s=60)
        out.append((market, events))
    return out


def _materialize(lake: Lake) -> None:
    assert write_lake_points(lake) > 0
    curated_index.build(lake)


@pytest.fixture(scope="module")
def book_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The fixture lake with books, its decision_points written and indexed (read-only)."""
    from sql_lakefactory import build

    data = build()
    lake = copy.deepcopy(data).write(tmp_path_factory.mktemp("points") / "lake")
    write_books(lake, _books(data, seed=5))
    _materialize(lake)
    return lake


def _copy(lake: Lake, dest: Path) -> Lake:
    """A copy of ``lake``, indexed again (the index records each file's change stamp)."""
    shutil.copytree(lake.root, dest)
    out = Lake(str(dest))
    curated_index.build(out)
    assert reads_decision_points(connect(out))
    return out


def test_the_table_equals_the_computed_rows_everywhere(book_lake: Lake) -> None:
    table, computed = connect(book_lake), _computed(book_lake)
    assert reads_decision_points(table)
    for sql in QUERIES:
        got = _result(table, sql)
        assert got == _result(computed, sql), sql
        assert got[1], f"{sql}: no rows, the comparison proves little"
    # books were seen at both instants, across the DST change, and a quantity beyond the book
    rows = table.sql(
        "SELECT date, decision_label, buy_yes_filled < fill_quantity AS short "
        f"FROM fill_cost_decisions_for({SCOPE}, quantity := 100000)"
    ).fetchall()
    assert {r[0] for r in rows} >= {dt.date(2026, 11, 1), dt.date(2026, 11, 2)}
    assert {r[1] for r in rows} == {"D-1 10:00", "D 10:00"}
    assert all(r[2] for r in rows)


def test_the_table_holds_the_columns_of_the_computed_form(book_lake: Lake) -> None:
    con = connect(book_lake)
    stored = con.sql("SELECT * FROM decision_points_in() LIMIT 0")
    computed = con.sql("SELECT * FROM decision_points_computed_for() LIMIT 0")
    assert stored.columns == computed.columns
    assert [str(t) for t in stored.types] == [str(t) for t in computed.types]


def test_a_lake_without_the_table_computes_the_rows(book_lake: Lake, tmp_path: Path) -> None:
    lake = _copy(book_lake, tmp_path / "lake")
    shutil.rmtree(Path(lake.root, "curated", "decision_points"))
    curated_index.build(lake)
    con = connect(lake)
    assert not reads_decision_points(con)
    want = connect(book_lake)
    for sql in QUERIES:
        assert _result(con, sql) == _result(want, sql), sql


def test_a_table_the_index_does_not_vouch_for_is_not_read(book_lake: Lake, tmp_path: Path) -> None:
    """A decision_points file rewritten after the index (here: wrong rows), an input file
    changed after it, or a partition of markets without its decision rows: computed."""
    want = {sql: _result(connect(book_lake), sql) for sql in QUERIES}

    stale = _copy(book_lake, tmp_path / "stale")
    [path] = Path(stale.root, "curated/decision_points/city=chicago/month=2026-11").glob("*")
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * REPLACE (yes_bid + 0.01 AS yes_bid) FROM read_parquet('{path}')) "
        f"TO '{path}' (FORMAT parquet)"
    )
    con.close()

    changed_input = _copy(book_lake, tmp_path / "input")
    trades = [r for r in _rows_of(changed_input, "trades", "phoenix")]
    write_rows(changed_input, "trades", trades[:1])  # one more file, unknown to the index

    missing = _copy(book_lake, tmp_path / "missing")
    shutil.rmtree(Path(missing.root, "curated/decision_points/city=phoenix"))
    curated_index.build(missing)  # the index vouches for every file, yet a partition is missing

    for lake, same in ((stale, True), (changed_input, False), (missing, True)):
        con = connect(lake)
        assert not reads_decision_points(con), lake.root
        for sql in QUERIES:
            if same:
                assert _result(con, sql) == want[sql], (lake.root, sql)
            else:
                assert _result(con, sql) == _result(_computed(lake), sql), (lake.root, sql)


def _rows_of(lake: Lake, table: str, city: str) -> list[dict[str, Any]]:
    rel = connect(lake).sql(f"SELECT * EXCLUDE (month) FROM {table}_in('{city}')")
    return [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]


def test_the_plain_views_read_only_the_table(book_lake: Lake, tmp_path: Path) -> None:
    """Filtered by city and dates, the plain views open no file of the tables the rows are
    computed from (so planning never lists them), nor another city's decision rows."""
    lake = _copy(book_lake, tmp_path / "lake")
    con = connect(lake)
    assert reads_decision_points(con)
    views = [q for q in QUERIES if "WHERE" in q or ("_for(" in q and "instants" not in q)]
    want = {sql: _result(con, sql) for sql in views}
    for path in Path(lake.root, "curated").glob("*/city=*/*/*.parquet"):
        if "decision_points" not in path.parts or "city=phoenix" in path.parts:
            path.write_bytes(b"not parquet")
    for sql in views:
        if "phoenix" not in sql:
            assert _result(con, sql) == want[sql], sql
    with pytest.raises(duckdb.Error):  # the computed form does read them
        con.sql(f"SELECT * FROM decision_quotes_for({SCOPE}, instants := ['D 09:00'])").fetchall()


def test_instants_written_back_as_sql_are_the_same_values(book_lake: Lake) -> None:
    con = connect(book_lake)
    [(args,)] = con.sql(
        "SELECT decision_args_sql('o''hare', '2026-11-01', NULL, ['D 09:05', NULL])"
    ).fetchall()
    assert args == "'o''hare', DATE '2026-11-01', NULL, instants := ['D 09:05', NULL]::VARCHAR[]"
    with pytest.raises(duckdb.Error, match="decision instant NULL is not of the form"):
        con.sql(
            f"SELECT * FROM decision_quotes_for({SCOPE}, instants := ['D 09:05', NULL])"
        ).fetchall()
    with pytest.raises(duckdb.Error, match="fill quantity must be a positive"):
        con.sql(f"SELECT * FROM fill_cost_decisions_for({SCOPE}, quantity := 0)").fetchall()


@pytest.mark.parametrize("macro", ["decision_quotes_for", "event_ladder_for"])
def test_a_bad_quantity_is_refused_even_when_no_book_column_is_read(
    book_lake: Lake, macro: str
) -> None:
    # count(*) reads no book column: the quantity check must not be planned away with them
    con = connect(book_lake)
    [(n,)] = con.sql(f"SELECT count(*) FROM {macro}({SCOPE}, fill_quantity := 7)").fetchall()
    assert n > 0
    for bad in ("0", "-1", "NULL"):
        with pytest.raises(duckdb.Error, match="fill quantity must be a positive"):
            con.sql(f"SELECT count(*) FROM {macro}({SCOPE}, fill_quantity := {bad})").fetchall()


@pytest.mark.parametrize("view", ["decision_quotes", "event_ladder"])
def test_the_plain_views_are_their_for_forms_at_the_defaults(view: str) -> None:
    """The plain views repeat their _for form's body (so that they never bind the computed
    form); only the source of the rows and the quantity differ."""
    files = {f.name: f for f in sqlfiles.load("backtest")}
    macro, plain = files[f"{view}_for"].text, files[view].text
    head = f"CREATE OR REPLACE VIEW {view} AS\n"
    want = (
        macro[macro.index(") AS TABLE\n") + len(") AS TABLE\n") :]
        .replace(
            "decision_points_for(city, start_date, end_date, instants := instants)",
            "decision_points_in()",
        )
        .replace("fill_args(fill_quantity)", "fill_args(100)")
    )
    assert "decision_points_in()" in want and "fill_args(100)" in want
    assert plain[plain.index(head) + len(head) :] == want
