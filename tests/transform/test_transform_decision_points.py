"""The transform writes decision_points with the views' own SQL, so the table equals the computed
rows: on a simulator backfill lake, with a recorded order book, and whether the partition was
built by a full run or an incremental one."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from test_book_tables import MIN, Recorder
from transform_helpers import read_curated

import kalshi_lake
from kalshi_lake.cities import event_date
from kalshi_lake.config import Settings
from kalshi_lake.lake.raw import CONNECTION_CITY, FRAME_SCHEMA, frame_partition_dir
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim.rawgen import SynthSpec, generate_raw
from kalshi_lake.sql.connection import compute_decision_points, reads_decision_points
from kalshi_lake.transform import run_transform

D = Decimal
#: 2026-11-20 12:00 UTC, where test_book_tables' recorder starts; D 10:00 CST is 16:00 UTC.
T0 = 1_795_176_000_000_000


def _settings(lake: Path) -> Settings:
    return Settings(lake=str(lake), progress=False)


def _same_as_computed(lake: Path, city: str) -> list[tuple[object, ...]]:
    """Every reader of the decision rows gives the same rows from the table as computed; returns
    the table's rows."""
    table = kalshi_lake.connect(str(lake))
    assert reads_decision_points(table)
    computed = kalshi_lake.connect(str(lake))
    compute_decision_points(computed)
    queries = (
        "SELECT * FROM decision_points",
        f"SELECT * FROM decision_quotes_for('{city}')",
        f"SELECT * FROM event_ladder_for('{city}', fill_quantity := 2.5)",
        f"SELECT * FROM fill_cost_decisions_for('{city}', quantity := 4)",
        f"SELECT * FROM decision_quotes WHERE city = '{city}'",
        "SELECT * FROM event_ladder",
    )
    for sql in queries:
        rel = table.sql(sql)
        got = sorted(rel.fetchall(), key=repr)
        assert got == sorted(computed.sql(sql).fetchall(), key=repr), sql
        assert rel.types == computed.sql(sql).types, sql
        assert got or "fill_cost" in sql, f"{sql}: no rows, the comparison proves little"
    return sorted(table.sql("SELECT * FROM decision_points").fetchall(), key=repr)


def test_a_backfilled_lake_reads_decision_points_equal_to_the_computed_rows(
    synth_copy: Callable[[str], Path],
) -> None:
    lake = synth_copy("points")
    run_transform(_settings(lake))
    rows = _same_as_computed(lake, "nyc")
    assert len(rows) == 2 * read_curated(lake, "markets").height


def _record(lake: Path, tickers: list[str]) -> None:
    """A connection that streams the books of ``tickers`` from 12:00 to 20:50 UTC, a change every
    ten minutes, and a fresh snapshot at 16:00 (k = 24), the instant of D 10:00 CST: that
    snapshot and the 5-minute cadence entry replayed up to it are one book, counted once."""
    rec = Recorder()
    params = {"channels": ["orderbook_delta"], "market_tickers": tickers}
    rec.add(T0, "out", {"id": 7, "cmd": "subscribe", "params": params})
    rec.add(T0 + 1, "in", {"type": "subscribed", "id": 7,
                           "msg": {"channel": "orderbook_delta", "sid": 1}}, sid=1)  # fmt: skip
    for i, t in enumerate(tickers):
        rec.snapshot(T0 + 10 + i, t, [["0.3000", "5.00"], ["0.3200", "2.00"]], [["0.6000", "4.00"]])
    for k in range(1, 54):
        for i, t in enumerate(tickers):
            at = T0 + k * 10 * MIN + i
            if k == 24:  # 16:00: a fresh snapshot on the same connection
                rec.snapshot(at, t, [["0.3100", "3.00"]], [["0.6500", "6.00"], ["0.6600", "1.00"]])
            else:
                rec.delta(at, t, "yes", "0.3100", "1.00" if k % 3 else "-1.00")
    # as follow writes them: a market's frames under its event's date, the rest _connection
    by_date: dict[str, list[dict[str, object]]] = {}
    for r in rec.rows:
        t = r["market_ticker"]
        key = f"chicago/{event_date(t)}" if t else f"{CONNECTION_CITY}/2026-11-20"
        by_date.setdefault(key, []).append(r)
    for key, rows in by_date.items():
        city, day = key.split("/")
        folder = lake / frame_partition_dir(city, dt.date.fromisoformat(day))
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(rows, FRAME_SCHEMA), folder / "seg0.parquet")


def test_recorded_books_and_an_incremental_run_give_the_full_runs_rows(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    spec = SynthSpec(seed=3, cities=("chicago",), start=dt.date(2026, 11, 19), days=3,
                     trades_per_market=40, page_size=50)  # fmt: skip
    generate_raw(Lake(str(lake)), spec)
    run_transform(_settings(lake))
    con = kalshi_lake.connect(str(lake))
    tickers = [
        r[0]
        for r in con.sql(
            "SELECT market_ticker FROM markets WHERE date IN (DATE '2026-11-20', DATE '2026-11-21')"
            " ORDER BY 1"
        ).fetchall()
    ][::3]
    assert len(tickers) >= 3
    con.close()
    full = tmp_path / "full"
    _record(lake, tickers)
    shutil.copytree(lake, full)
    run_transform(_settings(lake))  # incremental: the frames' partition is rebuilt
    run_transform(_settings(full), full=True)
    assert read_curated(lake, "decision_points").equals(read_curated(full, "decision_points"))
    _same_as_computed(lake, "chicago")
    # the books reached the rows at D 10:00 and D-1 10:00, both 16:00 UTC on 11-20
    con = kalshi_lake.connect(str(lake))
    got = con.sql(
        "SELECT market_ticker, book_source, book_yes_bid, yes_bid_size, book_yes_ask, "
        "yes_ask_size, buy_yes_filled, buy_no_filled FROM decision_quotes_for('chicago', "
        "fill_quantity := 5) WHERE decision_at = TIMESTAMPTZ '2026-11-20 16:00:00+00' "
        "AND book_source IS NOT NULL ORDER BY 1"
    ).fetchall()
    # the first ticker's 16:00 snapshot is received at 16:00 exactly: its book
    first = (tickers[0], "ws", D("0.31"), D(3), D("0.34"), D(1), D(5), D(3))
    assert got[0] == first
    # the others' come a microsecond or more later: the 12:00 snapshot (0.30 x5, 0.32 x2; a NO
    # bid 0.60 x4 is a YES ask 0.40 x4) and the deltas k = 1..23 at 0.31 (+1 unless k % 3 == 0)
    size = sum(D(1) if k % 3 else D(-1) for k in range(1, 24))
    want = [first] + [(t, "ws", D("0.32"), D(2), D("0.4"), D(4), D(4), D(5)) for t in tickers[1:]]
    assert size > 0
    assert got == want


def test_decision_points_across_the_end_of_dst(tmp_path: Path) -> None:
    """Chicago leaves daylight time on 2026-11-01: D 10:00 is 15:00 UTC before, 16:00 after."""
    lake = tmp_path / "lake"
    spec = SynthSpec(seed=4, cities=("chicago",), start=dt.date(2026, 10, 30), days=4,
                     trades_per_market=30, page_size=50)  # fmt: skip
    generate_raw(Lake(str(lake)), spec)
    run_transform(_settings(lake))
    _same_as_computed(lake, "chicago")
    con = kalshi_lake.connect(str(lake))
    at = dict(
        con.sql(
            "SELECT DISTINCT date, decision_at FROM decision_points WHERE decision_label = 'D 10:00'"
        ).fetchall()
    )
    utc = dt.UTC
    assert at[dt.date(2026, 10, 31)] == dt.datetime(2026, 10, 31, 15, tzinfo=utc)
    assert at[dt.date(2026, 11, 2)] == dt.datetime(2026, 11, 2, 16, tzinfo=utc)
