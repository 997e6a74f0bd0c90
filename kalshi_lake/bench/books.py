"""Order books in the lake: a day of recorded order book frames, transformed, then ``book_at``.

The day is the simulator's (:class:`~kalshi_lake.sim.World`): every market of one city's high
and low events of climate dates D and D+1, a snapshot at D 00:00 UTC and every book change of
the day after it, written to ``raw/ws`` as ``follow`` records them (one connection, one order
book sid, seq without holes). Figures:

- ``books.transform``: the transform of that day (seconds; its book deltas per second);
- ``books.book_at_event``: ``book_at_for`` of one event's ladder at D 18:00 UTC (median of
  warm runs; goal < 50 ms);
- ``books.book_at_all``: ``book_at`` of every market at the same instant;
- ``books.transform_month`` and ``books.transform_incremental``: a busy month of the same city
  (a day of frames like the one above for each of 28 days, each day its own connection;
  ``--quick``: 3 days) transformed once, then ``follow``'s 30-second pass after 30 more
  seconds of frames arrived (a new connection's snapshots and deltas on the last day):
  ``run_transform`` of the followed dates, as :func:`kalshi_lake.live.curate.transform_current`
  calls it (seconds, with CPU seconds: the pass rebuilds the whole month partition).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from kalshi_lake.bench import figure
from kalshi_lake.cities import get_city
from kalshi_lake.config import Settings
from kalshi_lake.lake.raw import CONNECTION_CITY, FRAME_SCHEMA, frame_partition_dir
from kalshi_lake.sim import World
from kalshi_lake.sim import ws_frames as wf
from kalshi_lake.transform import run_transform

_DAY_US = 86_400_000_000
_CONN = "bench.1"


def _us(at: dt.datetime) -> int:
    return (at - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


def write_day(
    root: Path,
    city: str,
    day: dt.date,
    seed: int = 7,
    *,
    conn: str = _CONN,
    start: dt.time = dt.time(),
    span_us: int = _DAY_US,
) -> tuple[int, str]:
    """A day of recorded order book frames of ``city`` under ``root/raw/ws`` (one connection
    ``conn``, from ``start`` on ``day`` for ``span_us``: a snapshot of every market, then every
    book change); returns the number of delta frames and the ticker of one event followed that
    day (climate date D+1). Each connection writes its own file in each folder."""
    world = World(seed, dt.datetime.combine(day + dt.timedelta(days=3), dt.time(), dt.UTC))
    t0 = _us(dt.datetime.combine(day, start, dt.UTC))
    markets = []
    event_ticker = ""
    for date in (day, day + dt.timedelta(days=1)):
        for family in ("high", "low"):
            ev = world.event(city, date, family)
            if ev is None:
                continue
            if date > day and family == "high":
                event_ticker = ev.event_ticker
            markets += [(m.ticker, date) for m in ev.markets]
    rows: dict[dt.date | None, list[dict[str, object]]] = {}
    frame_no = 0

    def add(date: dt.date | None, at_us: int, direction: str, body: dict[str, object],
            ticker: str | None = None, seq: int | None = None, sid: int | None = None) -> None:  # fmt: skip
        nonlocal frame_no
        frame_no += 1
        rows.setdefault(date, []).append(
            {
                "recv_at": dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
                + dt.timedelta(microseconds=at_us),
                "conn_id": conn,
                "frame_no": frame_no,
                "direction": direction,
                "channel": "orderbook_delta"
                if ticker or body.get("type") == "subscribed"
                else None,
                "msg_type": body.get("type") if direction == "in" else None,
                "sid": sid,
                "seq": seq,
                "market_ticker": ticker,
                "body": wf.encode(body),
            }
        )

    tickers = [t for t, _ in markets]
    add(None, t0 - 2, "out", {"id": 1, "cmd": "subscribe",
        "params": {"channels": ["orderbook_delta"], "market_tickers": tickers}})  # fmt: skip
    add(None, t0 - 1, "in", json.loads(wf.subscribed(1, "orderbook_delta", 1)), sid=1)
    seq = 0
    for ticker, date in markets:
        book = world.book_at(ticker, t0)
        seq += 1
        msg = wf.orderbook_snapshot_msg(ticker, book.yes, book.no, False)
        add(date, t0, "in", wf.envelope("orderbook_snapshot", sid=1, seq=seq, msg=msg), ticker,
            seq, 1)  # fmt: skip
    changes = sorted(
        (c.ts_us, c.market_ticker, c.side, c.price_c, c.delta_cc, date)
        for ticker, date in markets
        for c in world.book_changes(ticker, t0, t0 + span_us)
    )
    for ts_us, ticker, side, price_c, delta_cc, date in changes:
        seq += 1
        msg = wf.orderbook_delta_msg(ticker, ts_us, side, price_c, delta_cc, False)
        add(date, ts_us + 1000, "in", wf.envelope("orderbook_delta", sid=1, seq=seq, msg=msg),
            ticker, seq, 1)  # fmt: skip
    for folder_date, part in rows.items():
        folder = frame_partition_dir(city if folder_date else CONNECTION_CITY, folder_date or day)
        out = root / folder / f"{conn}.parquet"
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(part, FRAME_SCHEMA), out)
    return len(changes), event_ticker


def run(quick: bool = False) -> Iterable[dict[str, object]]:
    """The figures of the module doc."""
    import kalshi_lake

    day = dt.date(2026, 11, 20)
    city = "chicago"
    root = Path(tempfile.mkdtemp(prefix="kalshi-bench-books-"))
    try:
        lake = root / "lake"
        deltas, event = write_day(lake, city, day)
        get_city(city)
        t = time.perf_counter()
        run_transform(Settings.load(env={}, lake=str(lake), progress=False))
        took = time.perf_counter() - t
        yield figure("books.transform", took, "s", deltas=deltas, per_s=round(deltas / took))
        con = kalshi_lake.connect(str(lake))
        ts = f"{day.isoformat()} 18:00:00+00"
        date = (day + dt.timedelta(days=1)).isoformat()
        runs = 3 if quick else 9
        for name, sql in (
            ("books.book_at_event",
             f"SELECT * FROM book_at_for('{city}', '{date}', '{date}', '{ts}') "
             f"WHERE event_ticker = '{event}'"),
            ("books.book_at_all", f"SELECT * FROM book_at('{ts}')"),
        ):  # fmt: skip
            con.sql(sql).fetchall()  # warm
            times, cpu, levels = [], [], 0
            for _ in range(runs):
                t, c = time.perf_counter(), time.process_time()
                levels = len(con.sql(sql).fetchall())
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
            # cpu_ms: the process's CPU time, the figure to read on a loaded shared machine
            yield figure(name, statistics.median(times) * 1000, "ms", levels=levels,
                         cpu_ms=round(statistics.median(cpu) * 1000, 1), deltas=deltas,
                         goal_ms=50)  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)
    yield from _month(city, quick)


def _month(city: str, quick: bool) -> Iterable[dict[str, object]]:
    """``books.transform_month`` and ``books.transform_incremental`` (module doc)."""
    first = dt.date(2026, 11, 1)
    days = 3 if quick else 28
    last = first + dt.timedelta(days=days - 1)  # its D+1 markets stay in the month
    root = Path(tempfile.mkdtemp(prefix="kalshi-bench-books-month-"))
    try:
        lake = root / "lake"
        deltas = sum(
            write_day(lake, city, first + dt.timedelta(days=i), conn=f"bench.{i + 1}")[0]
            for i in range(days)
        )
        settings = Settings.load(env={}, lake=str(lake), progress=False)
        t, c = time.perf_counter(), time.process_time()
        run_transform(settings)
        yield figure("books.transform_month", time.perf_counter() - t, "s", days=days,
                     deltas=deltas, cpu_s=round(time.process_time() - c, 2))  # fmt: skip
        # 30 more seconds of frames on a new connection (the way a reconnect lands them)
        tail, _event = write_day(lake, city, last, conn="bench.tail", start=dt.time(12),
                                 span_us=30_000_000)  # fmt: skip
        t, c = time.perf_counter(), time.process_time()
        done = run_transform(
            settings, city=get_city(city), start=last, end=last + dt.timedelta(days=1)
        )
        # rebuilt and raw_files say what the pass redid: the whole month, every frame file
        yield figure("books.transform_incremental", time.perf_counter() - t, "s",
                     cpu_s=round(time.process_time() - c, 2), month_deltas=deltas,
                     new_deltas=tail, rebuilt=len(done.rebuilt), raw_files=done.raw_files,
                     book_deltas_rows=done.rows.get("book_deltas", 0))  # fmt: skip
    finally:
        shutil.rmtree(root, ignore_errors=True)
