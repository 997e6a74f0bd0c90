"""The live recorder's journal: frames/s appended, made durable and rolled on one core.

The process is pinned to one CPU (where the OS allows it), so the journal's writer thread, the
roll and the appending loop share it, as they would in ``follow``. Frames are a firehose mix of
the four channels over 240 markets (20 cities, highs and lows, 6 brackets): order book deltas,
trades, tickers and lifecycle frames in their current shapes, 150-300 bytes each, plus a
command now and then (``city=_connection``).

Figures:

- ``journal_frames_per_s``: frames appended, made durable (fdatasync) and rolled into raw
  Parquet, over the total time of the three; the issue's goal for the whole recorder is 20,000
  frames/s, so the journal must leave most of the core to the WebSocket client and the parser;
  with ``journal_append_per_s`` (append + durable only) and ``journal_roll_per_s`` (roll only)
  as inputs;
- ``journal_durable_lag_p99_s``: a sustained run at 20,000 frames/s with a segment closed and
  rolled every few seconds: the 99th percentile of append -> durable (goal < 1 s; the journal
  promises ``durable_s`` = 0.5 s), with the resident memory sampled every 10 s of the run
  (bounded: the journal holds at most a batch and a roll's chunk and row groups). The machine's
  load moves these figures a lot: on a shared 2-core machine at load 3 the sustained run kept
  p99 at 0.31 s, at load 10 (a third of the pinned core left) it fell behind;
- ``journal_files_per_city_day``: raw files a day of one city gets at the default hourly
  segments (24: one per segment), from the layout of the sustained run scaled to a day.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from kalshi_lake.bench import figure
from kalshi_lake.bench.firehose import firehose_markets
from kalshi_lake.bench.process import pin_one_core, rss_mb
from kalshi_lake.lake.storage import Lake
from kalshi_lake.live import FrameRecord, Journal

GOAL_FRAMES_PER_S = 20_000
SUSTAINED_RATE = 20_000


def _frames(n: int, conn: str) -> Iterator[FrameRecord]:
    """A firehose mix: 60% deltas, 15% trades, 20% tickers, 5% lifecycle; 1 in 500 a command."""
    import datetime as dt

    markets = firehose_markets()
    day = dt.date(2026, 12, 6)
    for i in range(n):
        now = time.time_ns() // 1000
        if i % 500 == 0:
            body = (
                f'{{"id":{i // 500},"cmd":"update_subscription","params":{{"sids":[1],'
                f'"market_tickers":["{markets[i % 240][1]}"],"action":"add_markets"}}}}'
            )
            yield FrameRecord(now, conn, i, "out", None, None, None, None, None, None, None, body)
            continue
        city, ticker = markets[(i * 7) % 240]
        kind = i % 20
        if kind < 12:
            ch, typ, sid = "orderbook_delta", "orderbook_delta", 1
            body = (
                f'{{"type":"orderbook_delta","sid":1,"seq":{i},"msg":{{"market_ticker":"{ticker}",'
                f'"market_id":"9b0f6b43-5b68-4f9f-9f0e-{i % 1000000:012d}",'
                f'"price_dollars":"0.{10 + i % 80:02d}00","delta_fp":"{(i % 37) - 18}.00",'
                f'"side":"{"yes" if i % 2 else "no"}","ts":"2026-12-06T15:04:05.{i % 1000:03d}Z"}}}}'
            )
        elif kind < 15:
            ch, typ, sid = "trade", "trade", 2
            body = (
                f'{{"type":"trade","sid":2,"seq":{i},"msg":{{"trade_id":"{i:08x}-1c2d-4e5f-8a9b-'
                f'0c1d2e3f4a5b","market_ticker":"{ticker}","yes_price_dollars":"0.{10 + i % 80}00",'
                f'"no_price_dollars":"0.{89 - i % 80:02d}00","count_fp":"{1 + i % 50}.00",'
                f'"taker_side":"yes","ts":1796569445}}}}'
            )
        elif kind < 19:
            ch, typ, sid = "ticker", "ticker", 3
            body = (
                f'{{"type":"ticker","sid":3,"msg":{{"market_ticker":"{ticker}","market_id":'
                f'"9b0f6b43","price_dollars":"0.4500","yes_bid_dollars":"0.4400",'
                f'"yes_ask_dollars":"0.4600","volume_fp":"{i}.00","open_interest_fp":"1200.00",'
                f'"dollar_volume":{i},"dollar_open_interest":540,"ts":1796569445}}}}'
            )
        else:
            ch, typ, sid = "market_lifecycle_v2", "market_lifecycle_v2", 4
            body = (
                f'{{"type":"market_lifecycle_v2","sid":4,"msg":{{"market_ticker":"{ticker}",'
                f'"event_type":"activated","open_ts":1796540400,"close_ts":1796626799}}}}'
            )
        yield FrameRecord(now, conn, i, "in", ch, typ, sid, i, ticker, city, day, body)


def _warm_up(tmp: Path) -> None:
    """One tiny append and roll: the one-time imports (pyarrow's writer pulls pandas in,
    about a second) belong to the process's start, not to the frames timed."""
    with Journal(tmp / "journal-warm") as j:
        for f in _frames(10, "warm"):
            j.append(f)
        j.roll(Lake(str(tmp / "lake-warm")), older_than_s=0)


def _throughput(tmp: Path, n: int) -> dict[str, object]:
    frames = list(_frames(n, "bench-1"))
    body_bytes = sum(len(f.body) for f in frames)
    lake = Lake(str(tmp / "lake"))
    with Journal(tmp / "journal") as j:
        t0 = time.perf_counter()
        for f in frames:
            j.append(f)
        j.sync()
        t1 = time.perf_counter()
        rolled = j.roll(lake, older_than_s=0)
        t2 = time.perf_counter()
    assert rolled.frames == n
    return figure(
        "journal_frames_per_s",
        n / (t2 - t0),
        "frames/s",
        goal=GOAL_FRAMES_PER_S,
        frames=n,
        mean_body_bytes=round(body_bytes / n),
        journal_append_per_s=round(n / (t1 - t0)),
        journal_roll_per_s=round(n / (t2 - t1)),
        fsyncs=j.stats.batches,
        raw_files=rolled.files_written,
        raw_mb=round(sum(os.path.getsize(lake.path(p)) for p in rolled.files) / 2**20, 1),
    )


def _sustained(tmp: Path, seconds: float) -> Iterator[dict[str, object]]:
    """Append at SUSTAINED_RATE for ``seconds``; segments of 5 s rolled as they close."""
    lake = Lake(str(tmp / "lake-s"))
    segment_s = 5.0
    lags: list[float] = []
    probes: list[tuple[int, float]] = []  # (appended count, monotonic) to be timed
    stop = threading.Event()
    with Journal(tmp / "journal-s", segment_s=segment_s) as j:

        def watch() -> None:
            # Times when each probe became durable (polled every 5 ms).
            while not stop.is_set() or probes:
                now = time.monotonic()
                while probes and j.stats.durable >= probes[0][0]:
                    lags.append(now - probes.pop(0)[1])
                time.sleep(0.005)

        def roller() -> None:
            while not stop.wait(1.0):
                j.roll(lake)

        threads = [threading.Thread(target=watch), threading.Thread(target=roller)]
        for t in threads:
            t.start()
        rss: list[float] = []
        total = int(SUSTAINED_RATE * seconds)
        t0 = time.monotonic()
        behind = 0.0
        for k, f in enumerate(_frames(total, "bench-2"), start=1):
            j.append(f)
            if k % 200 == 0:
                probes.append((k, time.monotonic()))
                due = t0 + k / SUSTAINED_RATE
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                else:
                    behind = max(behind, -wait)
            if k % SUSTAINED_RATE == 0:  # every simulated second: memory over the run
                rss.append(round(rss_mb(), 1))
        elapsed = time.monotonic() - t0
        rss1 = rss_mb()
        stop.set()
        for t in threads:
            t.join()
        rolled = j.roll(lake, older_than_s=0)
    lags.sort()
    p99 = lags[int(0.99 * (len(lags) - 1))] if lags else float("nan")
    files = lake.glob("raw/ws/*/*/*.parquet")
    city_files = [p for p in files if "/city=_connection/" not in p]
    cities = {lake.rel(p).split("/")[2] for p in city_files}
    segments = j.stats.segments_opened
    yield figure(
        "journal_durable_lag_p99_s",
        p99,
        "s",
        goal=1.0,
        durable_s=0.5,
        rate=SUSTAINED_RATE,
        achieved_rate=round(total / elapsed),
        max_behind_s=round(behind, 3),
        seconds=seconds,
        lag_p50_s=round(lags[len(lags) // 2], 4) if lags else None,
        lag_max_s=round(lags[-1], 4) if lags else None,
        rss_mb_start=rss[0] if rss else round(rss1, 1),
        rss_mb_end=round(rss1, 1),
        rss_mb_max=max([*rss, round(rss1, 1)]),
        rss_mb_every_10s=rss[::10],
        last_roll_frames=rolled.frames,
    )
    yield figure(
        "journal_files_per_city_day",
        len(city_files) / max(1, len(cities)) / max(1, segments) * 24,
        "files",
        segments_in_run=segments,
        files_per_city_per_segment=round(
            len(city_files) / max(1, len(cities)) / max(1, segments), 2
        ),
        default_segment_s=3600,
    )


def run(quick: bool = False) -> Iterator[dict[str, object]]:
    """The journal's throughput on one core, then a sustained run's durability lag and memory."""
    core = pin_one_core()
    with tempfile.TemporaryDirectory(prefix="kalshi-bench-journal-") as tmp:
        _warm_up(Path(tmp))
        # The sustained run first: its memory figures must not carry the throughput run's
        # half a million frames held in a list.
        sustained = list(_sustained(Path(tmp), 5.0 if quick else 60.0))
        throughput = _throughput(Path(tmp), 50_000 if quick else 500_000)
        for fig in [throughput, *sustained]:
            yield {**fig, "core": core}
