"""Every view and macro reads into polars, pandas, Arrow and Python, and so do the README's lines.

The objects are found in ``queries/`` itself, so a new view is covered at once and a new macro
fails here until it gets sensible arguments in :data:`TABLE_MACROS` or :data:`SCALAR_MACROS`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from sql_bookfactory import write_book_tables
from sql_lakefactory import NOW, LakeData
from sql_livefactory import BOOK_MARKET, clean_live

import kalshi_lake
from kalshi_lake.lake.daily_reports import mark_unpublished
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sql import sqlfiles
from kalshi_lake.testing.books import Market, Snapshot, write_books
from kalshi_lake.testing.daily_reports import reports_of_lake, write_report_file

README = Path(__file__).resolve().parents[2] / "README.md"

#: A call of every table macro with arguments that select rows of the fixture lake.
TABLE_MACROS = {
    "decision_quotes_for": "decision_quotes_for('chicago', DATE '2026-10-31', DATE '2026-11-22')",
    "event_ladder_for": "event_ladder_for('chicago', DATE '2026-11-01', DATE '2026-11-01')",
    "market_quotes_for": "market_quotes_for('phoenix')",
    "quotes_at": "quotes_at('2026-11-21 16:20:00+00')",
    "decision_instants": "decision_instants(['D-1 10:05', 'D 09:00'])",
    "lake_curated_in": "lake_curated_in('trades', 'phoenix')",
    "lake_indexed_in": "lake_indexed_in('trades', lake_curated_columns('trades'), 'phoenix')",
    "markets_in": "markets_in('chicago', DATE '2026-03-01', DATE '2026-03-31')",
    "trades_in": "trades_in('chicago', DATE '2026-11-01', DATE '2026-11-30')",
    "candles_1m_in": "candles_1m_in('phoenix', DATE '2026-03-08', DATE '2026-03-08')",
    "candles_5m_in": "candles_5m_in('phoenix')",
    "market_events_in": "market_events_in('chicago')",
    "raw_pages_in": "raw_pages_in('trades', 'chicago')",
    "raw_trades_in": "raw_trades_in('chicago', DATE '2026-03-01', DATE '2026-03-31')",
    "fetched_days_in": "fetched_days_in('phoenix', DATE '2026-03-01', DATE '2026-11-30')",
    "lake_raw_files_in": "lake_raw_files_in('trades', 'phoenix', DATE '2026-03-01')",
    "ws_frames_in": "ws_frames_in('_connection', DATE '2026-11-21', DATE '2026-11-21')",
    "live_heartbeats_in": "live_heartbeats_in()",
    "report_names_in": "report_names_in('chicago')",
    "report_files_in": "report_files_in('chicago')",
    "report_unpublished_in": "report_unpublished_in('chicago')",
    "report_rows_in": "report_rows_in('chicago')",
    "report_latest_in": "report_latest_in('chicago', kind := 'trade_data')",
    "report_market_days_in": "report_market_days_in('chicago')",
    "report_trades_in": "report_trades_in('chicago')",
    "reconciliation_scope_in": "reconciliation_scope_in('chicago')",
    "reconciliation_trades_in": "reconciliation_trades_in('chicago')",
    "reconciliation_in": "reconciliation_in('chicago')",
    "reconciliation_summary_in": "reconciliation_summary_in('chicago')",
    "book_deltas_in": "book_deltas_in('chicago')",
    "book_snapshots_in": "book_snapshots_in('chicago', DATE '2026-11-21', DATE '2026-11-21')",
    "quotes_in": "quotes_in('chicago')",
    "book_at": "book_at('2026-11-21 15:00:00+00')",
    "book_at_for": "book_at_for('chicago', DATE '2026-11-21', DATE '2026-11-21', "
    "'2026-11-21 15:00:00+00')",
    "fill_cost": "fill_cost('2026-11-21 15:00:00+00', 'yes', 10)",
    "fill_cost_for": "fill_cost_for('chicago', DATE '2026-11-21', DATE '2026-11-21', "
    "'2026-11-21 15:00:00+00', 'no', 10)",
    "fill_cost_decisions_for": "fill_cost_decisions_for('chicago', DATE '2026-11-21', "
    "DATE '2026-11-21', ['D 09:05'])",
    "decision_books_computed_for": "decision_books_computed_for('chicago', DATE '2026-11-21', "
    "DATE '2026-11-21', ['D 09:05'])",
    "decision_books_for": "decision_books_for('chicago', DATE '2026-11-21', DATE '2026-11-21', "
    "['D 09:05'])",
    "decision_points_computed_for": "decision_points_computed_for('chicago', "
    "DATE '2026-11-21', DATE '2026-11-21', ['D 09:05'])",
    "decision_points_for": "decision_points_for('chicago', DATE '2026-11-01', DATE '2026-11-21')",
    "decision_points_in": "decision_points_in('chicago', DATE '2026-11-01', DATE '2026-11-21')",
    "fill_args": "fill_args(12.5)",
}
#: A query of every scalar macro.
SCALAR_MACROS = {
    "lake_range_glob": "SELECT lake_range_glob('2026-01', '2026-03') AS glob",
    "lake_first_diff": "SELECT lake_first_diff('2026-01', '2026-03') AS i",
    "lake_root": "SELECT lake_root() AS root",
    "lake_curated_glob": "SELECT lake_curated_glob('trades', 'nyc', NULL, NULL) AS glob",
    "lake_raw_glob": "SELECT lake_raw_glob('ws', 'nyc', DATE '2026-11-01', NULL) AS glob",
    "lake_curated_columns": "SELECT map_keys(lake_curated_columns('trades')) AS names",
    "fill_cost_avg_price": "SELECT fill_cost_avg_price(1.5, 3) AS avg_price",
    "decision_args_sql": "SELECT decision_args_sql('o''hare', '2026-01-01', NULL, ['D 09:05']) "
    "AS args",
    "book_fill": "SELECT book_fill(asks, bids, 7) AS f FROM (SELECT "
    "[{'price': 0.4, 'size': 5.0, 'before': 0.0}, {'price': 0.45, 'size': 5.0, 'before': 5.0}] "
    "AS asks, [{'price': 0.3, 'size': 2.0, 'before': 0.0}] AS bids)",
    "book_walk": "SELECT book_walk({'book_yes_bid': 0.3, 'yes_bid_size': 2.0, "
    "'book_yes_ask': 0.4, 'yes_ask_size': 5.0, 'yes_filled': 7.0, 'yes_cost': 2.9, "
    "'no_filled': 2.0, 'no_cost': 1.4}, 7, TIMESTAMPTZ '2026-01-01 15:59:58+00', 'ws') AS w",
    "report_number": """SELECT report_number('{"v": "12.5"}', 'v') AS n""",
    "report_cents": """SELECT report_cents('{"p": 56}', 'p') AS price""",
    "report_ts": "SELECT report_ts('2026-11-20 10:00:00-05:00') AS ts",
}
#: Columns that are ages: seconds as DOUBLE, never a DuckDB INTERVAL.
AGES = ("quote_age", "last_trade_age")


def _objects() -> dict[str, str]:
    """name -> 'view' or 'macro' for every object of queries/views and queries/backtest."""
    kinds = {}
    for f in (*sqlfiles.load("views"), *sqlfiles.load("backtest")):
        m = re.match(r"--\s*(view|macro):", f.text)
        assert m, f.path
        kinds[f.name] = m.group(1)
    return kinds


OBJECTS = _objects()
QUERIES = {
    **{n: f"SELECT * FROM {n}" for n, k in OBJECTS.items() if k == "view"},
    **{n: f"SELECT * FROM {call}" for n, call in TABLE_MACROS.items()},
    **SCALAR_MACROS,
}


def test_every_object_has_a_query() -> None:
    macros = {n for n, k in OBJECTS.items() if k == "macro"}
    assert macros == set(TABLE_MACROS) | set(SCALAR_MACROS), "give the new macro arguments"
    assert {n for n, k in OBJECTS.items() if k == "view"} >= {"decision_quotes", "lake_status"}


@pytest.fixture(scope="module")
def con(clean_lake: Lake, tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    # the clean lake and a follower's records (raw/ws, heartbeats) for the live views
    root = tmp_path_factory.mktemp("clients") / "lake"
    shutil.copytree(clean_lake.root, root)
    clean_live(NOW).write(Lake(str(root)))
    # a daily report of one day, missing one of the lake's trades (reconciliation_trades_in)
    lake = Lake(str(root))
    with kalshi_lake.connect(lake) as c:
        [(day,)] = c.sql(
            "SELECT min(CAST(timezone('America/New_York', traded_at) AS DATE)) "
            "FROM trades_in('chicago')"
        ).fetchall()
    markets, trades = reports_of_lake(lake, "chicago", day)
    write_report_file(root, "chicago", day, "market_data", markets, fetched_at=NOW)
    write_report_file(root, "chicago", day, "trade_data", trades[1:], fetched_at=NOW)
    # and the next day asked for and not published yet (report_unpublished_in: pending)
    mark_unpublished(lake, "chicago", day + dt.timedelta(days=1), "market_data", "high")
    write_book_tables(Lake(str(root)), BOOK_MARKET, NOW - dt.timedelta(hours=2))
    # and a book for a listed market, so the decision instants find one (fill_cost_decisions_for)
    listed = Market("KXHIGHCHI-26NOV21-B44.5", "KXHIGHCHI-26NOV21", "chicago", "high", NOW.date())
    levels = {("bid", D("0.3")): D("4"), ("ask", D("0.33")): D("6")}
    write_books(
        Lake(str(root)), [(listed, [Snapshot(NOW - dt.timedelta(hours=2), "x.1", 1, levels)])]
    )
    return kalshi_lake.connect(str(root))


def _free(con: duckdb.DuckDBPyConnection) -> None:
    """The connection still runs a query."""
    assert con.sql("SELECT 41 + 1 AS x").fetchall() == [(42,)]


@pytest.mark.parametrize("name", sorted(QUERIES))
def test_every_view_and_macro_reads_into_every_client(
    con: duckdb.DuckDBPyConnection, name: str
) -> None:
    sql = QUERIES[name]
    rel = con.sql(sql)
    columns = rel.columns
    rows = rel.fetchall()
    assert rows, f"{name} has no rows on the fixture lake, so this test would prove little"
    n = len(rows)

    frame = con.sql(sql).pl()
    assert isinstance(frame, pl.DataFrame) and frame.columns == columns and frame.height == n
    _free(con)

    pdf = con.sql(sql).df()
    assert isinstance(pdf, pd.DataFrame) and list(pdf.columns) == columns and len(pdf) == n
    _free(con)

    reader = con.sql(sql).arrow()  # a stream: it holds the connection until read to the end
    table = reader.read_all()
    assert isinstance(table, pa.Table) and table.column_names == columns and table.num_rows == n
    _free(con)

    table = con.sql(sql).to_arrow_table()  # the README's way to a whole Arrow table
    assert table.column_names == columns and table.num_rows == n
    _free(con)

    for age in AGES:
        if age in columns:
            i = columns.index(age)
            assert str(rel.types[i]) == "DOUBLE"
            assert frame.schema[age] == pl.Float64
            assert pdf[age].dtype == "float64"
            assert table.schema.field(age).type == pa.float64()
            assert all(r[i] is None or isinstance(r[i], float) for r in rows)


def test_ages_are_the_seconds_between_the_instants(con: duckdb.DuckDBPyConnection) -> None:
    got = con.sql(
        "SELECT decision_at, quote_at, quote_age, last_trade_at, last_trade_age "
        "FROM decision_quotes_for('chicago')"
    ).fetchall()
    assert any(r[1] is not None for r in got) and any(r[3] is not None for r in got)
    for at, quote_at, quote_age, trade_at, trade_age in got:
        assert quote_age == (None if quote_at is None else (at - quote_at).total_seconds())
        assert trade_age == (None if trade_at is None else (at - trade_at).total_seconds())
        assert quote_age is None or quote_age >= 0  # no look-ahead


def _readme_block(lang: str, marker: str) -> str:
    blocks = re.findall(rf"```{lang}\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    found = [b for b in blocks if marker in b]
    assert len(found) == 1, f"README: one ```{lang} block with {marker!r}"
    return found[0]


def test_readme_notebook_lines_run_as_written(
    clean_lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The README connects to lake/demo, where `make demo` leaves its lake.
    (tmp_path / "lake").mkdir()
    os.symlink(clean_lake.root, tmp_path / "lake" / "demo")
    monkeypatch.chdir(tmp_path)
    lines = [ln for ln in _readme_block("python", "kalshi_lake.connect(").splitlines() if ln]
    scope: dict[str, Any] = {}
    results = []
    for line in lines:
        code = line.split("  #")[0]
        if code.startswith(("import ", "con =")):
            exec(code, scope)
        else:
            results.append(eval(code, scope))
    kinds = [type(r) for r in results]
    assert kinds == [pl.DataFrame, pd.DataFrame, pa.Table, list]
    assert all(len(r) > 0 for r in results)
    assert results[0]["quote_age"].dtype == pl.Float64


def test_readme_candle_volume_query_counts_each_contract_once(
    con: duckdb.DuckDBPyConnection, clean_data: LakeData
) -> None:
    sql = _readme_block("sql", "FROM candles_1m")
    got = {r[0]: (r[1], r[2]) for r in con.sql(sql.rstrip().rstrip(";")).fetchall()}
    want: dict[str, list[Any]] = {}
    for t in clean_data.trades:
        v = want.setdefault(t["market_ticker"], [0, 0])
        v[0] += t["count"]
        v[1] += 1
    assert got == {k: tuple(v) for k, v in want.items()}
    # and the plain sum the README warns about really counts them twice
    [(both, once)] = con.sql(
        "SELECT sum(volume), sum(volume) FILTER (WHERE source = 'trades') FROM candles_1m"
    ).fetchall()
    assert both == 2 * once
