"""The live recorder's throughput: frames/s that ``follow``'s WebSocket path sustains on one core.

A firehose (its own process, on the other core where there is one) plays a simulator-like
WebSocket server on loopback: it answers the recorder's ``subscribe`` commands with their acks,
then sends prebuilt frames as fast as the socket takes them, a mix of the four channels over 240
markets (20 cities, highs and lows, 6 brackets; order book deltas, trades, tickers, and the
lifecycle firehose, a quarter of it about markets nobody follows), each sid with its own
gap-free ``seq``. The recorder is the real code path, pinned to one CPU: :class:`WsSession` (the
``websockets`` client, frame heads, seq accounting, the lifecycle filter) appending every frame
to a :class:`Journal` (durable within half a second, batched fdatasync), minute segments rolled
into raw Parquet every few seconds in a thread, as ``follow`` does.

Figures:

- ``recorder_frames_per_s``: frames received and journaled per second over the run (goal
  20,000 on one core), with ``recorder_cpu_fraction`` (the recorder's CPU time over wall time:
  near 1 means the recorder was the bottleneck, well below means the firehose was) and the
  frames rolled into raw/ws by the end (all of them: nothing lost);
- ``recorder_rss_mb``: resident memory at the end, sampled every 10 s over the run
  (``rss_mb_every_10s``); flat means bounded: ``rss_growth_mb`` is the last sample minus the one
  a minute in (after the warm-up), ``--quick`` runs 15 s, ``make bench`` ten minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kalshi_lake.bench import figure
from kalshi_lake.bench.firehose import firehose_markets
from kalshi_lake.bench.process import pin_one_core, rss_mb
from kalshi_lake.lake.storage import Lake
from kalshi_lake.live import Journal
from kalshi_lake.live.session import WsSession

GOAL_FRAMES_PER_S = 20_000
#: Frames prebuilt by the firehose (their seq is filled in as they go out).
CYCLE = 24_000
SIDS = {"market_lifecycle_v2": 1, "orderbook_delta": 2, "trade": 3, "ticker": 4}


def _cycle() -> list[tuple[int | None, str, str]]:
    """(sid or None for ticker frames, text before the seq, text after it): 60% deltas, 15%
    trades, 20% tickers, 5% lifecycle (a quarter of those about another series)."""
    markets = [t for _, t in firehose_markets()]
    out: list[tuple[int | None, str, str]] = []
    for i in range(CYCLE):
        ticker = markets[(i * 7) % len(markets)]
        kind = i % 20
        if kind < 12:
            msg = (
                f'{{"market_ticker":"{ticker}","market_id":"9b0f6b43-5b68-4f9f-9f0e-'
                f'{i:012d}","price_dollars":"0.{10 + i % 80:02d}00","delta_fp":"'
                f'{(i % 37) - 18 or 1}.00","side":"{"yes" if i % 2 else "no"}","ts":'
                f'"2026-12-06T15:04:05.{i % 1000000:06d}Z","ts_ms":1796569445{i % 1000:03d}}}'
            )
            typ = "orderbook_delta"
        elif kind < 15:
            msg = (
                f'{{"trade_id":"{i:08x}-1c2d-4e5f-8a9b-0c1d2e3f4a5b","market_ticker":"{ticker}",'
                f'"yes_price_dollars":"0.{10 + i % 80}00","no_price_dollars":"0.{89 - i % 80:02d}'
                f'00","count_fp":"{1 + i % 50}.00","taker_side":"yes","ts":1796569445,'
                f'"ts_ms":1796569445{i % 1000:03d}}}'
            )
            typ = "trade"
        elif kind < 19:
            msg = (
                f'{{"market_id":"9b0f6b43","market_ticker":"{ticker}","price_dollars":"0.4500",'
                f'"yes_bid_dollars":"0.4400","yes_ask_dollars":"0.4600","volume_fp":"{i}.00",'
                f'"open_interest_fp":"1200.00","ts":1796569445,"ts_ms":1796569445000}}'
            )
            out.append((None, f'{{"type":"ticker","sid":4,"msg":{msg}}}', ""))
            continue
        else:
            other = (i // 20) % 4 == 0
            lc = "KXBTCD-26DEC0617-T100000" if other else ticker
            msg = (
                f'{{"market_ticker":"{lc}","open_ts":1796540400,"close_ts":1796626799,'
                f'"event_type":"activated"}}'
            )
            typ = "market_lifecycle_v2"
        sid = SIDS[typ]
        out.append((sid, f'{{"type":"{typ}","sid":{sid},"seq":', f',"msg":{msg}}}'))
    return out


def _ws_frame(payload: bytes) -> bytes:
    """One unmasked server text frame (RFC 6455 section 5.2)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x81, n))
    elif n < 65536:
        head = bytes((0x81, 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x81, 127)) + n.to_bytes(8, "big")
    return head + payload


def _firehose(port_out: Any, seconds: float) -> None:
    """The firehose server's process: the handshake and the client's commands go through
    ``websockets``' sans-I/O protocol; the data frames are encoded here and written a thousand
    at a time, so the server is never what limits the recorder."""
    from websockets.frames import Frame
    from websockets.server import ServerProtocol

    with contextlib.suppress(AttributeError, OSError):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
    frames = _cycle()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        proto = ServerProtocol()
        commands: list[dict[str, Any]] = []
        handshaken = False
        while len(commands) < 2:  # lifecycle, then the market channels
            data = await reader.read(65536)
            if not data:
                return
            proto.receive_data(data)
            for event in proto.events_received():
                if not handshaken:
                    proto.send_response(proto.accept(event))  # type: ignore[arg-type]
                    handshaken = True
                elif isinstance(event, Frame) and event.opcode.name == "TEXT":
                    commands.append(json.loads(bytes(event.data)))
            for out in proto.data_to_send():
                writer.write(out)
        for cmd in commands:
            for ch in cmd.get("params", {}).get("channels", []):
                ack = {
                    "type": "subscribed",
                    "id": cmd["id"],
                    "msg": {"channel": ch, "sid": SIDS[ch]},
                }
                writer.write(_ws_frame(json.dumps(ack).encode()))
        seqs = dict.fromkeys(SIDS.values(), 0)
        end = time.monotonic() + seconds
        try:
            while time.monotonic() < end:
                for k in range(0, len(frames), 1000):
                    chunk = []
                    for sid, head, tail in frames[k : k + 1000]:
                        if sid is None:
                            chunk.append(_ws_frame(head.encode()))
                        else:
                            seqs[sid] += 1
                            chunk.append(_ws_frame(f"{head}{seqs[sid]}{tail}".encode()))
                    writer.write(b"".join(chunk))
                    await writer.drain()
            await reader.read()  # until the client goes
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(client, "127.0.0.1", 0)
        port_out.put(server.sockets[0].getsockname()[1])
        async with server:
            await asyncio.sleep(seconds + 60)

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


async def _record(url: str, tmp: Path, seconds: float) -> dict[str, Any]:
    lake = Lake(str(tmp / "lake"))
    followed = {t for _, t in firehose_markets()}
    rss: list[float] = []
    with Journal(tmp / "journal", segment_s=60.0) as journal:
        session = WsSession(
            url,
            None,
            run_id="bench",
            journal=journal.append,
            follows=lambda t: t.startswith(("KXHIGH", "KXLOW")),
        )
        session.want(sorted(followed))
        stop = asyncio.Event()
        task = asyncio.create_task(session.run(stop))
        rolled = 0

        async def roller() -> None:
            nonlocal rolled
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 5.0)
                result = await asyncio.to_thread(journal.roll, lake)
                rolled += result.frames

        rolling = asyncio.create_task(roller())
        while session.stats.frames_in < 10:  # connected and streaming
            await asyncio.sleep(0.01)
            if task.done():
                task.result()
        n0, t0, cpu0 = session.stats.frames_in, time.monotonic(), time.process_time()
        next_sample = t0
        while time.monotonic() < t0 + seconds:
            if time.monotonic() >= next_sample:
                rss.append(round(rss_mb(), 1))
                next_sample += 10.0
            await asyncio.sleep(0.25)
        n1, t1, cpu1 = session.stats.frames_in, time.monotonic(), time.process_time()
        stop.set()
        await asyncio.wait_for(task, 30)
        await rolling
        rss_end = rss_mb()
        journal.sync()
        rolled += journal.roll(lake, older_than_s=0).frames
        stats = session.stats
        appended = journal.stats.appended
    return {
        "appended": appended,
        "frames": n1 - n0,
        "seconds": t1 - t0,
        "cpu_fraction": (cpu1 - cpu0) / (t1 - t0),
        "rss": rss,
        "rss_end": rss_end,
        "frames_in": stats.frames_in,
        "kept": stats.kept,
        "skipped": stats.firehose_skipped,
        "gaps": stats.gaps,
        "rolled": rolled,
    }


def run(quick: bool = False) -> Iterator[dict[str, object]]:
    """Frames/s the recorder sustains from a loopback firehose on one core, and its memory."""
    yield from measure(15.0 if quick else 600.0)


def measure(seconds: float) -> Iterator[dict[str, object]]:
    """The figures of a run of ``seconds`` (this process is pinned to one CPU for good)."""
    ctx = mp.get_context("spawn")
    ports: Any = ctx.Queue()
    server = ctx.Process(target=_firehose, args=(ports, seconds + 30), daemon=True)
    server.start()
    try:
        port = ports.get(timeout=60)
        core = pin_one_core()
        with tempfile.TemporaryDirectory(prefix="kalshi-bench-recorder-") as tmp:
            r = asyncio.run(_record(f"ws://127.0.0.1:{port}/trade-api/ws/v2", Path(tmp), seconds))
    finally:
        server.terminate()
        server.join(10)
    total_in = r["frames_in"]
    yield figure(
        "recorder_frames_per_s",
        r["frames"] / r["seconds"],
        "frames/s",
        goal=GOAL_FRAMES_PER_S,
        seconds=round(r["seconds"], 1),
        frames=r["frames"],
        recorder_cpu_fraction=round(r["cpu_fraction"], 3),
        # what a core of its own would do: frames over the recorder's CPU seconds
        frames_per_cpu_s=round(r["frames"] / r["seconds"] / max(r["cpu_fraction"], 1e-9)),
        loadavg_1m=round(os.getloadavg()[0], 2),
        frames_kept=r["kept"],
        lifecycle_skipped=r["skipped"],
        gaps=r["gaps"],
        # every record journaled (frames kept, commands, connection events) was rolled
        rolled_all=r["rolled"] == r["appended"],
        frames_in=total_in,
        core=core,
    )
    rss = r["rss"]
    base = rss[min(6, len(rss) - 1)] if rss else r["rss_end"]
    yield figure(
        "recorder_rss_mb",
        r["rss_end"],
        "MB",
        rss_mb_every_10s=rss,
        rss_growth_mb=round(r["rss_end"] - base, 1),
        # the band after the first minute (its segment's first roll): flat means a narrow band
        rss_mb_min_after_1m=min(rss[6:], default=None),
        rss_mb_max_after_1m=max(rss[6:], default=None),
        seconds=round(r["seconds"], 1),
        core=core,
    )
