"""The reconciliation views and checks on a simulator lake against the simulator's own reports."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
from reports_fixture import (
    CITY,
    FETCHED_AT,
    REPORT_DAYS,
    ReconLake,
    as_integers,
    mark_pending,
    publish_day,
    remove_one_trade,
    report_rows,
    write_report_file,
)

import kalshi_lake
from kalshi_lake.lake.raw import ENDPOINTS
from kalshi_lake.sql.checks import run_checks
from kalshi_lake.sql.connection import SOURCES

CHECKS = ["reconcile_trade_missing_from_lake", "reconcile_market_day_differs"]
DAY = REPORT_DAYS[1]


def _connect(lake: Path) -> duckdb.DuckDBPyConnection:
    return kalshi_lake.connect(str(lake))


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    rel = con.sql(sql)
    return [dict(zip(rel.columns, r, strict=True)) for r in rel.fetchall()]


def _offending(con: duckdb.DuckDBPyConnection) -> dict[str, list[dict[str, Any]]]:
    """The reconcile checks' offending rows (samples), run as `validate` runs them."""
    results = run_checks(con, only=CHECKS)
    assert all(r.error is None for r in results), [r.error for r in results]
    return {r.name: r.sample if r.offending else [] for r in results}


def _flagged(con: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
    return con.sql(
        "SELECT market_ticker, report_date, flag, differences FROM reconciliation "
        "WHERE status = 'differ' ORDER BY ALL"
    ).fetchall()


def test_simulator_lake_matches_its_own_reports(recon_lake: ReconLake) -> None:
    con = _connect(recon_lake.path)
    rows = _rows(con, "SELECT * FROM reconciliation WHERE status <> 'pending'")
    assert {r["report_date"] for r in rows} == set(REPORT_DAYS)
    assert {r["family"] for r in rows} == {"high", "low"}
    assert all(r["status"] == "match" and r["flag"] is None for r in rows), [
        r for r in rows if r["status"] != "match"
    ][:3]
    # the comparisons really ran: trades, prices and open interest on both sides
    traded = [r for r in rows if r["lake_trades"] > 0]
    assert len(traded) > len(rows) // 2
    assert all(r["report_trades"] == r["lake_trades"] for r in rows)
    assert all(r["report_high"] == r["lake_high"] for r in traded)
    assert all(r["lake_open_interest"] is not None for r in traded)
    assert sum(r["lake_trades"] for r in rows) > 1000
    assert _offending(con) == {c: [] for c in CHECKS}
    summary = _rows(con, "SELECT * FROM reconciliation_summary")
    assert summary == [
        {
            "city": CITY,
            "month": "2026-11",
            "family": fam,
            "days_compared": 3,
            # 11-05: the lake traded it and no report is stored, but no reconcile asked for
            # it, so it is not judged (nor read)
            "days_pending": 0,
            "markets_flagged_error": 0,
            "markets_flagged_warn": 0,
        }
        for fam in ("high", "low")
    ]


def test_a_trade_missing_from_the_lake_flags_exactly_that_market_day_as_error(
    recon_lake: ReconLake,
) -> None:
    ticker, _ = remove_one_trade(recon_lake.path, CITY, DAY)
    con = _connect(recon_lake.path)
    [(flag_ticker, flag_day, flag, differences)] = _flagged(con)
    assert (flag_ticker, flag_day, flag) == (ticker, DAY, "error")
    assert differences[:3] == ["trades_missing", "trade_count", "contracts"]
    found = _offending(con)
    assert found["reconcile_market_day_differs"] == []
    [row] = found["reconcile_trade_missing_from_lake"]
    assert (row["market_ticker"], row["report_date"], row["missing"]) == (ticker, DAY, 1)
    summary = _rows(
        con,
        "SELECT family, markets_flagged_error, markets_flagged_warn "
        "FROM reconciliation_summary ORDER BY family",
    )
    fam = "low" if ticker.startswith("KXLOW") else "high"
    assert {
        (s["family"], s["markets_flagged_error"], s["markets_flagged_warn"]) for s in summary
    } == {(f, int(f == fam), 0) for f in ("high", "low")}


def _later(minutes: int) -> dt.datetime:
    return FETCHED_AT + dt.timedelta(minutes=minutes)


def test_an_altered_report_row_flags_exactly_that_market_day_as_warn(
    recon_lake: ReconLake,
) -> None:
    markets, _ = report_rows(recon_lake.world, CITY, DAY)
    traded = [m for m in markets if Decimal(m["daily_volume"]) > 0]
    victim = traded[len(traded) // 2]
    victim["high"] = str(int(victim["high"]) + 1)
    # Kalshi rewrote the file (new ETag, fetched later): the newest copy is the one compared
    write_report_file(recon_lake.path, CITY, DAY, "market_data", markets, fetched_at=_later(60))
    con = _connect(recon_lake.path)
    assert _flagged(con) == [(victim["ticker_name"], DAY, "warn", ["high"])]
    found = _offending(con)
    assert found["reconcile_trade_missing_from_lake"] == []
    [row] = found["reconcile_market_day_differs"]
    assert (row["market_ticker"], row["report_date"], row["differences"]) == (
        victim["ticker_name"],
        DAY,
        ["high"],
    )
    # a rewrite back to the true content, fetched later still, is what counts from then on
    markets, _ = report_rows(recon_lake.world, CITY, DAY)
    write_report_file(
        recon_lake.path, CITY, DAY, "market_data", markets, fetched_at=_later(120), etag="f" * 32
    )
    assert _flagged(_connect(recon_lake.path)) == []


def test_an_older_etag_does_not_count_once_a_newer_one_is_stored(recon_lake: ReconLake) -> None:
    _, trades = report_rows(recon_lake.world, CITY, DAY)
    # an earlier copy of the day's trade file that listed one trade more (an old version,
    # fetched before the one the fixture stored) leaves the comparison alone
    write_report_file(
        recon_lake.path, CITY, DAY, "trade_data", [*trades, trades[0]], fetched_at=_later(-60)
    )
    con = _connect(recon_lake.path)
    assert _flagged(con) == []
    assert _offending(con) == {c: [] for c in CHECKS}


def test_files_with_integer_numbers_reconcile_like_string_ones(recon_lake: ReconLake) -> None:
    markets, trades = report_rows(recon_lake.world, CITY, DAY)
    ints_m, ints_t = as_integers(markets), as_integers(trades)
    assert any(isinstance(r["price"], int) for r in ints_t)
    assert any(isinstance(r["open_interest"], int) for r in ints_m)
    write_report_file(recon_lake.path, CITY, DAY, "market_data", ints_m, fetched_at=_later(60))
    write_report_file(recon_lake.path, CITY, DAY, "trade_data", ints_t, fetched_at=_later(60))
    con = _connect(recon_lake.path)
    assert _flagged(con) == []
    assert con.sql(
        f"SELECT count(*) FROM reconciliation WHERE report_date = DATE '{DAY}' AND status = 'match'"
    ).fetchall()[0][0] == len(markets)


def test_identical_report_trades_are_counted_not_matched_once(recon_lake: ReconLake) -> None:
    _, trades = report_rows(recon_lake.world, CITY, DAY)
    write_report_file(
        recon_lake.path, CITY, DAY, "trade_data", [*trades, trades[0]], fetched_at=_later(60)
    )
    [row] = _offending(_connect(recon_lake.path))["reconcile_trade_missing_from_lake"]
    assert (row["market_ticker"], row["report_trades"], row["lake_trades"], row["missing"]) == (
        trades[0]["ticker_name"],
        2,
        1,
        1,
    )


def test_a_day_without_a_report_is_pending_until_it_is_published(recon_lake: ReconLake) -> None:
    pending_day = REPORT_DAYS[-1] + dt.timedelta(days=1)
    query = (
        f"SELECT * FROM reconciliation_in('{CITY}', DATE '{REPORT_DAYS[0]}', "
        f"DATE '{pending_day}') WHERE report_date = DATE '{pending_day}'"
    )
    # the lake traded that day, but until a reconcile asks for it, it is not judged
    assert _rows(_connect(recon_lake.path), query) == []
    mark_pending(recon_lake.path, CITY, pending_day)  # asked for, and not published yet
    con = _connect(recon_lake.path)
    rows = _rows(con, query)
    summary = con.sql("SELECT sum(days_compared), sum(days_pending) FROM reconciliation_summary")
    assert summary.fetchall() == [(6, 2)]  # 3 days x 2 families compared; 1 day x 2 pending
    assert rows and all(r["status"] == "pending" and r["flag"] is None for r in rows)
    assert all(r["lake_trades"] > 0 and r["report_trades"] is None for r in rows)
    assert _offending(con) == {c: [] for c in CHECKS}
    publish_day(recon_lake.path, recon_lake.world, CITY, pending_day, fetched_at=_later(0))
    con = _connect(recon_lake.path)
    statuses = con.sql(
        f"SELECT DISTINCT status FROM reconciliation WHERE report_date = DATE '{pending_day}'"
    ).fetchall()
    assert statuses == [("match",)]
    summary = con.sql("SELECT sum(days_compared), sum(days_pending) FROM reconciliation_summary")
    assert summary.fetchall() == [(8, 0)]


def test_report_numbers_strings_integers_cents_and_times(tmp_path: Path) -> None:
    con = _connect(tmp_path)
    got = con.sql(
        """SELECT report_number('{"v": "12.97"}', 'v'), report_number('{"v": 13}', 'v'),
                  report_number('{"v": ""}', 'v'), report_number('{"w": 1}', 'v'),
                  report_cents('{"p": "56"}', 'p'), report_cents('{"p": 7}', 'p'),
                  report_cents('{"p": "56.5"}', 'p')"""
    ).fetchall()[0]
    assert [str(v) if v is not None else None for v in got] == [
        "12.9700",
        "13.0000",
        None,
        None,
        "0.560000",
        "0.070000",
        "0.565000",
    ]
    same = dt.datetime(2025, 9, 8, 3, 36, 12, tzinfo=dt.UTC)  # 23:36:12 New York, 09-07
    for spelling in [
        "2025-09-07 23:36:12-04:00",
        "2025-09-07T23:36:12-04:00",
        "2025-09-08T03:36:12Z",
        "2025-09-07 23:36:12",
        "1757302572",
        "1757302572000",
    ]:
        [(ts,)] = con.sql("SELECT report_ts(?)", params=[spelling]).fetchall()
        assert ts == same, spelling
    # a value that is no number fails loudly rather than passing as a match
    bad = json.dumps({"v": "12x"})
    try:
        con.sql(f"SELECT report_number('{bad}', 'v')").fetchall()
    except duckdb.ConversionException:
        pass
    else:
        raise AssertionError("a malformed number was read")


def test_raw_pages_never_read_the_daily_reports(recon_lake: ReconLake) -> None:
    # raw_pages_in's glob '[!dw]*' skips raw/daily_reports (and raw/ws) this way
    assert not [e for e in ENDPOINTS if e.startswith("d")]
    con = _connect(recon_lake.path)
    [(pages, with_endpoint)] = con.sql("SELECT count(*), count(endpoint) FROM raw_pages").fetchall()
    assert pages > 0 and pages == with_endpoint
    assert "kind" not in con.sql("SELECT * FROM raw_pages LIMIT 0").columns


def test_without_a_stored_report_the_reconciliation_is_an_empty_stub_of_the_same_columns(
    recon_lake: ReconLake, base_lake: Path
) -> None:
    # the stubs a lake never reconciled gets (nothing of its trades is read for them) have
    # exactly the columns and types of the real macros
    real, bare = _connect(recon_lake.path), _connect(base_lake)
    for name in ("reconciliation_in", "reconciliation_trades_in"):
        want = [(n, t.replace(", ", ",")) for n, t in SOURCES[name].columns]
        want = [(n, "TIMESTAMP WITH TIME ZONE" if t == "TIMESTAMPTZ" else t) for n, t in want]
        for con in (real, bare):
            got = con.sql(f"DESCRIBE SELECT * FROM {name}()").fetchall()
            assert [(r[0], r[1]) for r in got] == want, name
    assert bare.sql("SELECT count(*) FROM reconciliation_summary").fetchall() == [(0,)]
    assert _offending(bare) == {c: [] for c in CHECKS}
