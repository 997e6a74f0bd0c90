"""Recorded WebSocket frames (raw/ws) in the curated tables: trades merged with REST's on
trade_id (first_seen), lifecycle into market_events and markets."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from transform_helpers import (
    FETCHED,
    assert_same,
    curated_snapshot,
    market,
    page,
    read_curated,
    trade,
    trades_page,
    write,
)

from kalshi_lake.config import Settings
from kalshi_lake.lake.raw import FRAME_SCHEMA, frame_partition_dir
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim.rawgen import SynthSpec, generate_raw
from kalshi_lake.transform import TransformCorruptError, TransformSchemaError, run_transform
from kalshi_lake.transform.summary import CONFLICT

UTC = dt.UTC
DAY = dt.date(2026, 10, 5)
TICKER = "KXHIGHCHI-26OCT05-B80.5"
SPEC = SynthSpec(seed=3, cities=("chicago",), start=dt.date(2026, 9, 28), days=2, page_size=50)


def _us(t: dt.datetime) -> int:
    return int(t.timestamp()) * 1_000_000 + t.microsecond


def trade_frame(
    n: int,
    recv: dt.datetime,
    trade_id: str,
    ticker: str,
    at: dt.datetime,
    *,
    yes: str = "0.5600",
    count: str = "10.00",
    side: str = "yes",
    conn: str = "run1-1",
) -> dict[str, Any]:
    """A raw/ws row of an inbound ``trade`` frame, in the current shape."""
    no = f"{1 - float(yes):.4f}"
    msg = {
        "trade_id": trade_id, "market_ticker": ticker, "yes_price_dollars": yes,
        "no_price_dollars": no, "count_fp": count, "taker_side": side,
        "taker_outcome_side": side, "taker_book_side": "bid" if side == "yes" else "ask",
        "is_block_trade": False, "ts": _us(at) // 1_000_000, "ts_ms": _us(at) // 1000,
    }  # fmt: skip
    body = json.dumps({"type": "trade", "sid": 3, "seq": n, "msg": msg}, separators=(",", ":"))
    return _row(n, recv, "trade", "trade", ticker, body, conn)


def lifecycle_frame(
    n: int, recv: dt.datetime, ticker: str, msg: dict[str, Any], conn: str = "run1-1"
) -> dict[str, Any]:
    """A raw/ws row of an inbound ``market_lifecycle_v2`` frame (``event_type`` last)."""
    body = json.dumps(
        {"type": "market_lifecycle_v2", "sid": 2, "seq": n, "msg": {"market_ticker": ticker, **msg}}
    )
    return _row(n, recv, "market_lifecycle_v2", "market_lifecycle_v2", ticker, body, conn)


def _row(
    n: int, recv: dt.datetime, channel: str, msg_type: str, ticker: str, body: str, conn: str
) -> dict[str, Any]:
    return {
        "recv_at": recv, "conn_id": conn, "frame_no": n, "direction": "in", "channel": channel,
        "msg_type": msg_type, "sid": 3, "seq": n, "market_ticker": ticker, "body": body,
    }  # fmt: skip


def write_frames(root: Path, rows: Sequence[dict[str, Any]], name: str, day: dt.date = DAY) -> str:
    """Write frames as one raw/ws file of chicago and ``day`` (as the roll does)."""
    rel = f"{frame_partition_dir('chicago', day)}/{name}.parquet"
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(list(rows), schema=FRAME_SCHEMA), path)
    return rel


def transform(root: Path, full: bool = False) -> Any:
    return run_transform(Settings(lake=str(root), progress=False), full=full)


def tid(i: int) -> str:
    return str(uuid.UUID(int=i + 1, version=4))


def _at(minute: int, us: int = 0) -> dt.datetime:
    return dt.datetime(2026, 10, 5, 15, minute, 7, us, tzinfo=UTC)


def test_ws_and_rest_trades_merge_once_each_with_first_seen(lake_dir: Path) -> None:
    # REST serves trades 0-3 (fetched at FETCHED); the WebSocket saw trades 0-1 before that
    # fetch, 2 after it, and 4-5, which no REST page holds (traded after the last fetch).
    rest = [trade(tid(i), TICKER, f"2026-10-05T15:{i:02d}:07.123456Z") for i in range(4)]
    write(lake_dir, [trades_page(rest, date=DAY, fetched_at=FETCHED)])
    before = FETCHED - dt.timedelta(minutes=5)
    after = FETCHED + dt.timedelta(seconds=30)
    frames = [
        trade_frame(0, before, tid(0), TICKER, _at(0, 123456)),
        trade_frame(1, before, tid(1), TICKER, _at(1, 123456)),
        trade_frame(2, after, tid(2), TICKER, _at(2, 123456)),
        trade_frame(3, after, tid(4), TICKER, _at(4, 250000)),
        trade_frame(4, after, tid(5), TICKER, _at(5, 999999), side="no", yes="0.4100"),
        trade_frame(5, after + dt.timedelta(seconds=1), tid(5), TICKER, _at(5, 999999),
                    side="no", yes="0.4100"),  # a resend: the first frame is kept
    ]  # fmt: skip
    write_frames(lake_dir, frames, "seg-0001")
    summary = transform(lake_dir)
    assert summary.problems == []
    df = read_curated(lake_dir, "trades")
    assert df["trade_id"].to_list() == [tid(i) for i in (0, 1, 2, 3, 4, 5)]
    assert df["trade_id"].is_unique().all()
    seen = dict(zip(df["trade_id"], df["first_seen"], strict=True))
    assert seen == {tid(0): "ws", tid(1): "ws", tid(2): "rest", tid(3): "rest",
                    tid(4): "ws", tid(5): "ws"}  # fmt: skip
    at = dict(zip(df["trade_id"], df["first_seen_at"], strict=True))
    assert at[tid(0)] == before and at[tid(2)] == FETCHED and at[tid(4)] == after
    assert at[tid(5)] == after  # the earlier of the two frames
    rows = {r["trade_id"]: r for r in df.iter_rows(named=True)}
    # a trade REST holds keeps REST's copy (microseconds), a frame-only one the frame's (ms)
    assert rows[tid(0)]["traded_at"] == _at(0, 123456) and rows[tid(0)]["tier"] == "live"
    assert rows[tid(0)]["fetched_at"] == FETCHED
    assert rows[tid(4)]["traded_at"] == _at(4, 250000)
    assert rows[tid(5)]["traded_at"] == _at(5, 999000)
    assert rows[tid(5)]["fetched_at"] == after
    assert str(rows[tid(5)]["yes_price"]) == "0.410000" and rows[tid(5)]["taker_side"] == "no"
    assert rows[tid(5)]["event_ticker"] == "KXHIGHCHI-26OCT05"
    assert rows[tid(5)]["family"] == "high"
    # WebSocket trades make trade candles like any other
    c1 = read_curated(lake_dir, "candles_1m").filter(pl.col("source") == "trades")
    assert c1["trade_count"].sum() == 6


def test_a_frame_that_disagrees_with_rest_is_a_conflict(lake_dir: Path) -> None:
    rest = [trade(tid(0), TICKER, "2026-10-05T15:00:07.123456Z", yes="0.5600")]
    write(lake_dir, [trades_page(rest, date=DAY)])
    rel = write_frames(
        lake_dir,
        [
            trade_frame(0, FETCHED, tid(0), TICKER, _at(0, 123456), yes="0.5700"),
            # the same trade at the frame's precision agrees: no conflict for time alone
            trade_frame(1, FETCHED, tid(0), TICKER, _at(0, 123000), yes="0.5700"),
        ],
        "seg-0001",
    )
    with pytest.raises(TransformCorruptError) as err:
        transform(lake_dir)
    [p] = err.value.summary.problems
    assert p.kind == CONFLICT and p.path == rel and p.row == 0
    assert "yes price, no price" in p.message and "REST copy" in p.message
    [row] = read_curated(lake_dir, "trades").iter_rows(named=True)
    assert str(row["yes_price"]) == "0.560000" and row["first_seen"] == "ws"


def test_a_time_off_at_the_frames_precision_is_a_conflict(lake_dir: Path) -> None:
    write(lake_dir, [trades_page([trade(tid(0), TICKER, "2026-10-05T15:00:07.123456Z")], date=DAY)])
    write_frames(lake_dir, [trade_frame(0, FETCHED, tid(0), TICKER, _at(0, 124000))], "s")
    with pytest.raises(TransformCorruptError) as err:
        transform(lake_dir)
    assert "created_time" in err.value.summary.problems[0].message


def _market_pages(root: Path, status: str, fetched: dt.datetime) -> None:
    m = market(TICKER, status=status, result="")
    m.pop("settlement_value_dollars")
    m.pop("settlement_ts")
    write(root, [page("market", {"market": m}, date=DAY, fetched_at=fetched)])


def test_lifecycle_updates_markets_and_lands_in_market_events(lake_dir: Path) -> None:
    listed = dt.datetime(2026, 10, 5, 12, 0, tzinfo=UTC)
    _market_pages(lake_dir, "active", listed)
    close = dt.datetime(2026, 10, 6, 4, 59, tzinfo=UTC)
    det = dt.datetime(2026, 10, 6, 11, 0, 1, tzinfo=UTC)
    settled = dt.datetime(2026, 10, 6, 12, 4, 54, tzinfo=UTC)
    old = listed - dt.timedelta(hours=1)
    frames = [
        # before the REST copy: in market_events, but the REST copy is newer
        lifecycle_frame(0, old, TICKER, {"close_ts": 1, "event_type": "close_date_updated"}),
        lifecycle_frame(1, close + dt.timedelta(seconds=2), TICKER,
                        {"close_ts": int(close.timestamp()), "event_type": "close_date_updated"}),
        lifecycle_frame(2, det + dt.timedelta(seconds=1), TICKER,
                        {"determination_ts": int(det.timestamp()), "result": "yes",
                         "settlement_value": "1.0000", "event_type": "determined"}),
    ]  # fmt: skip
    write_frames(lake_dir, frames, "seg-0001")
    transform(lake_dir)
    [mk] = read_curated(lake_dir, "markets").iter_rows(named=True)
    assert (mk["status"], mk["result"], str(mk["settlement_value"])) == (
        "determined",
        "yes",
        "1.000000",
    )
    assert mk["close_time"] == close and mk["settlement_ts"] is None

    write_frames(
        lake_dir,
        [lifecycle_frame(3, settled + dt.timedelta(seconds=1), TICKER,
                         {"settled_ts": int(settled.timestamp()), "event_type": "settled"})],
        "seg-0002",
    )  # fmt: skip
    transform(lake_dir)
    [mk] = read_curated(lake_dir, "markets").iter_rows(named=True)
    assert (mk["status"], mk["result"], mk["settlement_ts"]) == ("finalized", "yes", settled)
    ev = read_curated(lake_dir, "market_events")
    assert ev["event_type"].to_list() == [
        "close_date_updated", "close_date_updated", "determined", "settled"
    ]  # fmt: skip
    assert ev["frame_no"].to_list() == [0, 1, 2, 3]
    assert ev["event_at"].to_list()[2:] == [det, settled]
    assert str(ev["settlement_value"][2]) == "1.000000"
    assert ev["event_ticker"].unique().to_list() == ["KXHIGHCHI-26OCT05"]
    assert ev["date"].unique().to_list() == [DAY] and ev["family"].unique().to_list() == ["high"]

    # a REST copy fetched after the frames wins again
    later = settled + dt.timedelta(hours=1)
    _market_pages(lake_dir, "closed", later)
    transform(lake_dir)
    [mk] = read_curated(lake_dir, "markets").iter_rows(named=True)
    assert mk["status"] == "closed" and mk["fetched_at"] == later


def test_a_frame_in_two_files_counts_once(lake_dir: Path) -> None:
    # a compaction interrupted after its merged file was published keeps the minute files:
    # the same frames (conn_id, frame_no) twice
    frames = [
        trade_frame(0, FETCHED, tid(0), TICKER, _at(0)),
        lifecycle_frame(1, FETCHED, TICKER, {"close_ts": 1, "event_type": "close_date_updated"}),
    ]
    write_frames(lake_dir, frames, "minute-0001")
    write_frames(lake_dir, frames, "hour-00")
    transform(lake_dir)
    assert read_curated(lake_dir, "trades").height == 1
    assert read_curated(lake_dir, "market_events").height == 1


def test_bad_frames_are_reported_and_skipped(lake_dir: Path) -> None:
    good = trade_frame(0, FETCHED, tid(0), TICKER, _at(0))
    bad = {**trade_frame(1, FETCHED, tid(1), TICKER, _at(1)), "body": '{"type":"trade","msg":{'}
    rel = write_frames(lake_dir, [good, bad], "seg")
    with pytest.raises(TransformSchemaError) as err:  # like a bad page: reported, exit 3
        transform(lake_dir)
    [p] = err.value.summary.problems
    assert p.path == rel and p.row == 1 and "not a JSON trade" in p.message
    assert read_curated(lake_dir, "trades")["trade_id"].to_list() == [tid(0)]


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "lake"
    generate_raw(Lake(str(root)), SPEC)
    return root


def test_incremental_runs_over_frames_equal_a_clean_run(synth: Path, tmp_path: Path) -> None:
    root = tmp_path / "lake"
    shutil.copytree(synth, root)
    transform(root)
    rest = read_curated(root, "trades")
    day = SPEC.start
    picks = rest.filter(pl.col("date") == day).head(40)
    fetched = picks["fetched_at"].min()
    rows = [
        trade_frame(i, fetched - dt.timedelta(seconds=1), r["trade_id"], r["market_ticker"],
                    r["traded_at"], yes=f"{r['yes_price']:.4f}", count=f"{r['count']:.2f}",
                    side=r["taker_side"])
        for i, r in enumerate(picks.iter_rows(named=True))
    ]  # fmt: skip
    ticker = picks["market_ticker"][0]
    rows += [trade_frame(100 + i, fetched, tid(10_000 + i), ticker, _at(i)) for i in range(5)]
    write_frames(root, rows[:20], "seg-a", day)
    transform(root)
    write_frames(root, rows[20:], "seg-b", day)
    transform(root)
    transform(root)  # a no-op
    incremental = curated_snapshot(root)
    clean = tmp_path / "clean"
    shutil.copytree(root, clean)
    shutil.rmtree(clean / "curated")
    shutil.rmtree(clean / "_state")
    transform(clean, full=True)
    assert_same(incremental, curated_snapshot(clean))
    trades = incremental["trades"]
    assert trades.height == rest.height + 5 and trades["trade_id"].is_unique().all()
    ws = trades.filter(pl.col("first_seen") == "ws")
    assert ws.height == 45
