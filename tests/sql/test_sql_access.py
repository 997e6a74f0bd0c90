"""connect(), the views and their edge cases, `kalshi-lake sql|views|status`, kalshi.duckdb."""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from sql_lakefactory import LakeData, write_rows

import kalshi_lake
from kalshi_lake import schemas
from kalshi_lake.cli import cli
from kalshi_lake.errors import ConfigError
from kalshi_lake.lake.raw import RAW_SCHEMA
from kalshi_lake.lake.storage import Lake, unique_name
from kalshi_lake.sql.connection import LIVE_ONLY, OPTIONAL, SOURCES

VIEWS = (
    "markets",
    "trades",
    "candles_1m",
    "candles_5m",
    "raw_pages",
    "decision_quotes",
    "event_ladder",
    "cities",
)
MACROS = (
    "quotes_at",
    "decision_quotes_for",
    "event_ladder_for",
    "markets_in",
    "trades_in",
    "raw_trades_in",
    "lake_curated_in",
)


def test_connect_registers_every_view_offline_and_in_utc(clean_lake: Lake) -> None:
    con = kalshi_lake.connect(clean_lake.root)
    views = {
        r[0]
        for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
    }
    assert set(VIEWS) <= views
    macros = {
        r[0]
        for r in con.execute(
            "SELECT function_name FROM duckdb_functions() WHERE function_type = 'table_macro'"
        ).fetchall()
    }
    assert set(MACROS) <= macros
    settings = dict(
        con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name IN "
            "('autoinstall_known_extensions', 'autoload_known_extensions', 'TimeZone')"
        ).fetchall()
    )
    assert settings == {
        "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false",
        "TimeZone": "UTC",
    }
    loaded = {
        r[0]
        for r in con.execute(
            "SELECT extension_name FROM duckdb_extensions() WHERE loaded"
        ).fetchall()
    }
    assert {"parquet", "json", "icu"} <= loaded
    for v in VIEWS:
        con.execute(f"SELECT * FROM {v} LIMIT 1").fetchall()


def test_views_have_hive_keys_typed_and_the_schema_columns(clean_lake: Lake) -> None:
    con = kalshi_lake.connect(clean_lake)
    for table, schema in schemas.TABLES.items():
        desc = con.execute(f"SELECT * FROM {table} LIMIT 0").description
        assert [d[0] for d in desc] == [*schema.names, "city", "month"]
        types = {d[0]: str(d[1]) for d in desc}
        assert types["city"] == "VARCHAR" and types["month"] == "VARCHAR"
    raw = {d[0]: str(d[1]) for d in con.execute("SELECT * FROM raw_pages LIMIT 0").description}
    assert list(raw) == [*RAW_SCHEMA.names, "city", "date"]
    assert raw["date"] == "DATE" and raw["fetched_at"] == "TIMESTAMP WITH TIME ZONE"
    assert con.execute("SELECT count(*) FROM raw_pages WHERE endpoint = 'trades'").fetchone()[0] > 0
    assert con.execute("SELECT count(*) FROM raw_trades_in('chicago')").fetchone()[0] > 0


def test_empty_lake_gives_empty_typed_views_and_a_note(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lake = tmp_path / "lake"
    (lake / "curated" / "trades").mkdir(parents=True)  # a table folder with no files yet
    with caplog.at_level(logging.WARNING, logger="kalshi_lake"):
        con = kalshi_lake.connect(lake)
    for v in VIEWS:
        if v != "cities":
            assert con.execute(f"SELECT count(*) FROM {v}").fetchone()[0] == 0, v
    desc = con.execute("SELECT * FROM trades").description
    assert [d[0] for d in desc] == [*schemas.TRADES.names, "city", "month"]
    assert str(dict((d[0], d[1]) for d in desc)["yes_price"]) == "DECIMAL(10,6)"
    assert (
        con.execute(
            "SELECT count(*) FROM decision_quotes_for('chicago', DATE '2026-01-01', DATE '2026-01-31')"
        ).fetchone()[0]
        == 0
    )
    notes = [r.getMessage() for r in caplog.records]
    assert len(notes) == 1  # one line for the whole lake, not one per table
    # every source is named, except those only `follow` fills (this lake was never followed)
    # and those only `reconcile` fills (never named)
    for name, source in SOURCES.items():
        assert (f"{source.probe}/" in notes[0]) == (name not in LIVE_ONLY | OPTIONAL), name
    assert "kalshi-lake transform" in notes[0] and "kalshi-lake backfill" in notes[0]


def test_partial_lake_markets_only(clean_data: LakeData, tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    write_rows(lake, "markets", clean_data.markets)
    con = kalshi_lake.connect(lake)
    rows = con.execute(
        "SELECT count(*), count(quote_at), count(last_trade_at) FROM decision_quotes"
    ).fetchone()
    assert rows == (2 * len(clean_data.markets), 0, 0)


def test_missing_lake_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no lake at"):
        kalshi_lake.connect(tmp_path / "nope")
    res = CliRunner().invoke(cli, ["--lake", str(tmp_path / "nope"), "sql", "SELECT 1"])
    assert res.exit_code == 2
    assert res.output.strip().startswith("error: no lake at")


def test_an_added_column_never_disappears(
    clean_data: LakeData, write_lake: Callable[[LakeData], Lake]
) -> None:
    lake = write_lake(clean_data)
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
    lake.write_table(extra, f"curated/trades/city=chicago/month=2026-03/{unique_name()}")
    con = kalshi_lake.connect(lake)
    cols = [d[0] for d in con.execute("SELECT * FROM trades LIMIT 0").description]
    assert "maker_fee" in cols
    assert con.execute("SELECT maker_fee FROM trades WHERE trade_id = 'new-one'").fetchall() == [
        ("0.01",)
    ]
    assert con.execute("SELECT count(maker_fee) FROM trades").fetchone()[0] == 1


def test_one_city_query_never_touches_other_cities_or_months(
    clean_data: LakeData, write_lake: Callable[[LakeData], Lake]
) -> None:
    lake = write_lake(clean_data)
    # unreadable files in another city and in another month of the same city
    for folder in (
        "curated/trades/city=phoenix/month=2026-11",
        "curated/candles_1m/city=chicago/month=2026-03",
    ):
        Path(lake.path(folder), "corrupt.parquet").write_bytes(b"not parquet at all")
    con = kalshi_lake.connect(lake)
    n = con.execute(
        "SELECT count(*) FROM decision_quotes_for('chicago', DATE '2026-10-31', DATE '2026-11-22')"
    ).fetchone()[0]
    assert n == 2 * sum(
        1
        for m in clean_data.markets
        if m["city"] == "chicago" and m["date"] >= dt.date(2026, 10, 31)
    )
    assert (
        con.execute(
            "SELECT count(*) FROM event_ladder_for('chicago', DATE '2026-11-01', DATE '2026-11-01')"
        ).fetchone()[0]
        == 12
    )
    with pytest.raises(duckdb.Error):  # the whole-lake view does read them
        con.execute("SELECT count(*) FROM decision_quotes").fetchall()


def test_range_glob_covers_exactly_the_needed_partitions() -> None:
    con = kalshi_lake.sql.connection.new_connection()
    from kalshi_lake.sql import sqlfiles

    for f in sqlfiles.load("views"):
        if f.name in ("lake_range_glob", "lake_first_diff"):
            con.execute(f.render("/x"))
    cases = {
        ("2026-01", "2026-03"): "2026-0[1-3]*",
        ("2025-12", "2026-02"): "202[5-6]*",
        ("2026-11", "2026-11"): "2026-11",
        ("2026-11-01", "2026-11-30"): "2026-11-[0-3]*",
        ("2019-12", "2021-01"): "20[1-2]*",
    }
    for (lo, hi), want in cases.items():
        assert con.execute("SELECT lake_range_glob(?, ?)", [lo, hi]).fetchone()[0] == want
    assert con.execute("SELECT lake_range_glob(NULL, '2026-01')").fetchone()[0] == "*"
    assert con.execute("SELECT lake_range_glob('2026-03', '2026-01')").fetchone()[0] == "*"


def test_memory_filesystem_lake_reads_through_fsspec(clean_data: LakeData) -> None:
    lake = Lake("memory://kalshi-sql-test/lake")
    try:
        for name in ("markets", "trades", "candles_1m"):
            write_rows(lake, name, getattr(clean_data, name))
        con = kalshi_lake.connect(lake)
        assert con.execute("SELECT count(*) FROM trades").fetchone()[0] == len(clean_data.trades)
        n = con.execute("SELECT count(quote_at) FROM decision_quotes_for('phoenix')").fetchone()[0]
        assert n > 0
        # a date range turns into a character-class glob, which fsspec must expand too
        got = con.execute(
            "SELECT count(*) FROM decision_quotes_for('chicago', DATE '2026-10-31', DATE '2026-11-02')"
        ).fetchone()[0]
        assert got == 2 * 6 * 3
    finally:
        lake.fs.rm(lake.root, recursive=True)


def test_sql_command_table_json_csv(clean_lake: Lake) -> None:
    runner = CliRunner()
    q = "SELECT market_ticker, yes_bid, mid, decision_at FROM decision_quotes WHERE city = 'phoenix' ORDER BY 1, 4 LIMIT 3"
    table = runner.invoke(cli, ["--lake", clean_lake.root, "sql", q])
    assert table.exit_code == 0, table.output
    assert (
        "market_ticker" in table.output
        and "decimal(10,7)" in table.output
        and "3 row(s)" in table.output
    )
    js = runner.invoke(cli, ["--lake", clean_lake.root, "sql", "--json", q])
    rows = json.loads(js.output)
    assert len(rows) == 3 and rows[0]["market_ticker"].startswith("KXHIGHTPHX-")
    assert rows[0]["decision_at"].endswith("+00:00")
    assert rows[0]["mid"] is None or "." in rows[0]["mid"]  # exact decimal text
    csv = runner.invoke(cli, ["--lake", clean_lake.root, "sql", "--csv", q])
    lines = csv.output.strip().splitlines()
    assert lines[0] == "market_ticker,yes_bid,mid,decision_at" and len(lines) == 4
    stdin = runner.invoke(
        cli, ["--lake", clean_lake.root, "sql", "--json", "-"], input="SELECT 41 + 1 AS x"
    )
    assert json.loads(stdin.output) == [{"x": 42}]
    trunc = runner.invoke(
        cli, ["--lake", clean_lake.root, "sql", "--max-rows", "2", "SELECT * FROM markets"]
    )
    assert "2 row(s), more not shown" in trunc.output


def test_sql_command_errors_are_one_line(clean_lake: Lake) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, ["--lake", clean_lake.root, "sql", "SELEC nonsense"])
    assert res.exit_code == 2
    assert res.output.startswith("error: query failed: Parser Error")
    assert "Traceback" not in res.output
    res = runner.invoke(
        cli, ["--lake", clean_lake.root, "sql", "SELECT * FROM trades_in('atlantis')"]
    )
    assert res.exit_code == 2 and "No files found" in res.output and "check --lake" in res.output
    res = runner.invoke(cli, ["--lake", clean_lake.root, "sql", "--json", "--csv", "SELECT 1"])
    assert res.exit_code == 2


@pytest.mark.parametrize("query", ["", ";", " ; ;\n", "/* only a comment */"])
def test_an_empty_query_exits_2_with_one_line(clean_lake: Lake, query: str) -> None:
    res = CliRunner().invoke(cli, ["--lake", clean_lake.root, "sql", query])
    assert res.exit_code == 2, res.output
    assert res.stderr.splitlines() == [
        "error: the query is empty: pass one SQL statement, e.g. 'SELECT * FROM markets LIMIT 5'"
    ]
    assert "Traceback" not in res.output


def test_a_huge_duckdb_error_is_one_short_line(clean_lake: Lake) -> None:
    name = "t" * 100_000  # DuckDB echoes the whole name, and the query, in its message
    res = CliRunner().invoke(
        cli, ["--lake", clean_lake.root, "sql", f'SELECT * FROM "{name}" WHERE x = 1']
    )
    assert res.exit_code == 2, res.output[:500]
    (line,) = res.stderr.splitlines()
    assert line.startswith("error: query failed: Catalog Error: Table with name ttt")
    assert "characters cut" in line and len(line) < 400
    assert "Traceback" not in res.output


def test_views_file_opens_in_a_fresh_duckdb_process(clean_lake: Lake, tmp_path: Path) -> None:
    res = CliRunner().invoke(cli, ["--lake", clean_lake.root, "views"])
    assert res.exit_code == 0, res.output
    db = Path(clean_lake.root) / "kalshi.duckdb"
    assert db.is_file() and str(db) in res.output
    assert not list(Path(clean_lake.root).glob("*.tmp"))
    script = (
        "import duckdb, json\n"
        f"con = duckdb.connect({str(db)!r}, read_only=True)\n"
        "out = {v: con.execute(f'SELECT count(*) FROM {v}').fetchone()[0] for v in "
        "('markets', 'trades', 'candles_1m', 'decision_quotes', 'event_ladder', 'raw_pages')}\n"
        "out['ladder_for'] = con.execute(\"SELECT count(*) FROM event_ladder_for('chicago', "
        "DATE '2026-03-08', DATE '2026-03-08')\").fetchone()[0]\n"
        "out['quotes_at'] = con.execute(\"SELECT count(*) FROM quotes_at('2026-11-21 16:20:00+00')\").fetchone()[0]\n"
        "print(json.dumps(out))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    con = kalshi_lake.connect(clean_lake)
    for v in ("markets", "trades", "candles_1m", "decision_quotes", "event_ladder", "raw_pages"):
        assert out[v] == con.execute(f"SELECT count(*) FROM {v}").fetchone()[0] > 0, v
    assert out["ladder_for"] == 12
    assert out["quotes_at"] > 0


def _counts(db: Path | str, attach: bool = False) -> dict[str, int]:
    """Row counts of a few views of a kalshi.duckdb opened with plain duckdb (no kalshi_lake)."""
    if attach:
        con = duckdb.connect()
        con.execute(f"ATTACH '{db}' AS k (READ_ONLY)")
        con.execute("USE k")
    else:
        con = duckdb.connect(str(db), read_only=True)
    try:
        return {
            v: con.execute(f"SELECT count(*) FROM {v}").fetchone()[0]
            for v in ("trades", "markets", "decision_quotes", "raw_pages")
        }
    finally:
        con.close()


def _drop_phoenix_trades(root: Path) -> None:
    for f in (root / "curated" / "trades").glob("city=phoenix/*/*.parquet"):
        f.unlink()


def test_views_file_follows_a_moved_lake(
    clean_data: LakeData, write_lake: Callable[[LakeData], Lake], tmp_path: Path
) -> None:
    lake = Path(write_lake(clean_data).root)
    assert CliRunner().invoke(cli, ["--lake", str(lake), "views"]).exit_code == 0
    before = _counts(lake / "kalshi.duckdb")
    assert before["trades"] == len(clean_data.trades) and before["raw_pages"] > 0
    moved = tmp_path / "elsewhere" / "moved-lake"
    moved.parent.mkdir()
    lake.rename(moved)
    assert _counts(moved / "kalshi.duckdb") == before


def test_views_file_of_a_copied_lake_reads_the_copy(
    clean_data: LakeData,
    write_lake: Callable[[LakeData], Lake],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lake = Path(write_lake(clean_data).root)
    assert CliRunner().invoke(cli, ["--lake", str(lake), "views"]).exit_code == 0
    original = _counts(lake / "kalshi.duckdb")
    copy = tmp_path / "copy"
    shutil.copytree(lake, copy)
    _drop_phoenix_trades(copy)  # the copy now differs from the original, which stays in place
    want = sum(1 for t in clean_data.trades if t["city"] != "phoenix")
    assert 0 < want < original["trades"]
    assert _counts(copy / "kalshi.duckdb")["trades"] == want
    # opened by a relative path, from the lake's parent and from inside it
    monkeypatch.chdir(tmp_path)
    assert _counts(Path("copy") / "kalshi.duckdb")["trades"] == want
    monkeypatch.chdir(copy)
    assert _counts("kalshi.duckdb")["trades"] == want
    # the original lake still reads itself
    assert _counts(lake / "kalshi.duckdb") == original
    # ATTACHed into another database, the file cannot tell where it is: it reads the lake it
    # was built for (documented in the README's Queries section)
    assert _counts(copy / "kalshi.duckdb", attach=True) == original


def test_status_json_counts_and_gaps(clean_lake: Lake, clean_data: LakeData) -> None:
    res = CliRunner().invoke(cli, ["--lake", clean_lake.root, "status", "--json"])
    assert res.exit_code == 0, res.output
    cities = {c["city"]: c for c in json.loads(res.output)["cities"]}
    assert set(cities) == {"chicago", "phoenix"}
    ph = cities["phoenix"]
    assert (ph["first_date"], ph["last_date"], ph["event_dates"]) == ("2026-03-08", "2026-11-22", 3)
    assert ph["markets"] == 18 and ph["settled_markets"] == 12
    assert ph["trades"] == sum(1 for t in clean_data.trades if t["city"] == "phoenix")
    assert ph["gaps"] == ["2026-03-09..2026-10-31", "2026-11-02..2026-11-21"]
    assert (
        ph["missing_days"] + ph["event_dates"]
        == (dt.date(2026, 11, 22) - dt.date(2026, 3, 8)).days + 1
    )
    assert ph["last_fetch"].startswith("2026-11-21T16:30:00")
    table = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["--lake", clean_lake.root, "status"])
    assert table.exit_code == 0 and "phoenix" in table.output
    assert "2026-03-09..10-31" in table.output  # the gap, its second date without the year
    csv_lines = CliRunner().invoke(cli, ["--lake", clean_lake.root, "status", "--csv"]).output
    header, *lines = csv_lines.splitlines()
    assert header.split(",") == list(cities["phoenix"]) and len(lines) == 2
    assert lines[1].startswith("phoenix,high,2026-03-08,2026-11-22,3,18,12,")


def test_status_of_an_empty_lake(tmp_path: Path) -> None:
    (tmp_path / "lake").mkdir()
    res = CliRunner().invoke(cli, ["--lake", str(tmp_path / "lake"), "status", "--json"])
    assert res.exit_code == 0
    assert json.loads(res.output)["cities"] == []


def test_checks_and_views_parse_their_headers() -> None:
    from kalshi_lake.sql import sqlfiles

    for kind in ("views", "backtest", "checks"):
        files = sqlfiles.load(kind)
        assert files
        for f in files:
            assert f.text.startswith("-- "), f.path
            assert f.description, f.path
            assert "/tmp" not in f.text and "/work" not in f.text  # no hard-coded paths


def test_pq_roundtrip_of_fixture_keeps_decimals(clean_lake: Lake) -> None:
    path = next(Path(clean_lake.root, "curated", "trades").rglob("*.parquet"))
    t = pq.read_table(path)
    assert t.schema.field("yes_price").type == pa.decimal128(10, 6)
    assert "city" not in t.schema.names and "month" not in t.schema.names


@pytest.mark.parametrize("table", ["markets", "trades", "candles_1m"])  # the fixture's tables
def test_scoped_sources_read_only_their_city_and_months(
    clean_data: LakeData, write_lake: Callable[[LakeData], Lake], table: str
) -> None:
    # Every <table>_in goes through lake_curated_in: a scoped call must not even open another
    # city's or a far month's files. Unreadable files there prove it (a read would fail).
    lake = write_lake(clean_data)
    rows = getattr(clean_data, table)
    for folder in ("city=miami/month=2026-11", "city=chicago/month=2025-01"):
        bad = Path(lake.root, "curated", table, folder, "part-0.parquet")
        bad.parent.mkdir(parents=True, exist_ok=True)
        bad.write_bytes(b"not parquet")
    con = kalshi_lake.connect(lake.root)
    day = min(r["date"] for r in rows if r["city"] == "chicago" and r["date"].year == 2026)
    sql = f"SELECT count(*) FROM {table}_in('chicago', DATE '{day}', DATE '{day}')"
    want = sum(1 for r in rows if r["city"] == "chicago" and r["date"] == day)
    assert want > 0 and con.execute(sql).fetchone()[0] == want
    with pytest.raises(duckdb.Error):  # unscoped, the same macro does open them
        con.execute(f"SELECT count(*) FROM {table}_in()").fetchall()
