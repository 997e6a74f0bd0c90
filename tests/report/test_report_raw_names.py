"""The raw layer read from file names alone (``lake_raw_files_in``), and the two readers of meaning
in a raw file's name built on it: ``fetched_days_in`` (a page's family, the report's coverage)
and ``report_names_in`` (stored daily reports and their ``unpublished`` markers)."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

import kalshi_lake

D1, D2 = dt.date(2026, 11, 9), dt.date(2026, 11, 10)

#: folder -> file names written into city=chicago/date=D1 and date=D2 (and into date=bad).
FILES = {
    "trades": ["p1.parquet", "p2.low.parquet", "p3.x.y.parquet", "p4.High.parquet", "p5.json"],
    "batch_candlesticks": ["c1.parquet"],
    "event_candlesticks": ["c2.x.y.parquet"],
    "daily_reports": [
        "market_data.abcd1234.high.parquet",
        "trade_data.ABcd0912.parquet",
        "unpublished.trade_data.low.parquet",
        "unpublished.market_data.low.x.parquet",
        "other_kind.abcd1234.parquet",
    ],
}


@pytest.fixture(scope="module")
def con(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    lake = tmp_path_factory.mktemp("names") / "lake"
    for folder, names in FILES.items():
        for day in (str(D1), str(D2), "bad"):
            part = lake / "raw" / folder / "city=chicago" / f"date={day}"
            part.mkdir(parents=True)
            for name in names:
                (part / name).write_bytes(b"")  # only names are read: no file is opened
    return kalshi_lake.connect(str(lake))


def test_raw_files_are_parsed_from_their_hive_path(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.sql(
        "SELECT folder, city, date, name FROM lake_raw_files_in('*candlesticks') ORDER BY ALL"
    ).fetchall()
    # a folder glob; one row per .parquet file of a dated partition ('date=bad' is none)
    assert rows == [
        (folder, "chicago", day, name)
        for folder, name in [("batch_candlesticks", "c1"), ("event_candlesticks", "c2.x.y")]
        for day in (D1, D2)
    ]
    in_range = con.sql(
        "SELECT DISTINCT date FROM lake_raw_files_in('trades', 'chicago', DATE '2026-11-10', "
        "'2026-11-30')"
    ).fetchall()
    assert in_range == [(D2,)]
    assert con.sql("SELECT count(*) FROM lake_raw_files_in('trades', 'nyc')").fetchall() == [(0,)]


def test_only_a_pages_name_makes_a_day_fetched(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.sql(
        "SELECT family, date, trades_fetched, candles_fetched, fetched FROM fetched_days_in() "
        "ORDER BY ALL"
    ).fetchall()
    # p1 is a high page (no family: written before families were), p2 a low one; p3.x.y and
    # p4.High are no page's name, so the event candles (c2.x.y) do not count either
    assert rows == [
        ("high", D1, True, True, True),
        ("high", D2, True, True, True),
        ("low", D1, True, False, False),
        ("low", D2, True, False, False),
    ]


def test_report_names_are_stored_files_and_markers(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.sql(
        "SELECT kind, unpublished, etag8, family FROM report_names_in('chicago', "
        "start_date := DATE '2026-11-09', end_date := DATE '2026-11-09') ORDER BY ALL"
    ).fetchall()
    assert rows == [
        ("market_data", False, "abcd1234", "high"),
        ("trade_data", False, "ABcd0912", None),  # a stored name without a family: every family
        ("trade_data", True, None, "low"),
    ]
