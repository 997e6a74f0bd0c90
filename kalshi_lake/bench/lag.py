"""Freshness under ``follow``: the lag from a simulator trade to its row in the ``trades`` view.

``follow`` runs with its default cadences (minute journal segments, a roll and a transform of
the followed cities' current partitions every 60 s) against the simulator on loopback, with a
key (the WebSocket stream), following one city while the simulated clock runs at
:data:`SPEED` (simulated seconds per real second, so markets trade briskly). A reader thread
polls the curated trades of the city every second, as a user's query would, and notes when each
``trade_id`` first appears. A trade's lag is that moment minus the real moment the simulator
made it (its simulated time mapped back through the clock's start and speed).

Figures:

- ``follow_trade_lag_p95_s`` (goal < 60 s), with p50, max and the number of trades as inputs;
- ``follow_ws_frame_lag_p95_s``: trade made -> its frame received (the stream itself).

Raw durability (a frame on disk within 1 s of arrival) is the journal's figure
(``journal_durable_lag_p99_s``, :mod:`kalshi_lake.bench.journal`).
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb

from kalshi_lake.bench import figure
from kalshi_lake.cities import get_city
from kalshi_lake.config import Settings
from kalshi_lake.live.follow import FollowOptions, run_follow
from kalshi_lake.sim import SimConfig, SimServer
from kalshi_lake.sim.config import FIXTURE_SEED
from kalshi_lake.testing.keys import write_key_pair

#: Simulated seconds per real second.
SPEED = 30.0
GOAL_S = 60.0


class _Watcher(threading.Thread):
    """Polls the city's curated trades; remembers when each trade id first appeared."""

    def __init__(self, lake: Path, city: str) -> None:
        super().__init__(name="lag-watcher", daemon=True)
        self.glob = str(lake / "curated" / "trades" / f"city={city}" / "*" / "*.parquet")
        self.seen: dict[str, tuple[float, int]] = {}  # id -> (real time seen, traded_at us)
        self.stop = threading.Event()

    def run(self) -> None:
        con = duckdb.connect()
        while not self.stop.wait(1.0):
            try:
                rows = con.execute(
                    f"SELECT trade_id, epoch_us(traded_at) FROM read_parquet('{self.glob}')"
                ).fetchall()
            except duckdb.Error:  # no file yet
                continue
            now = time.time()
            for tid, at in rows:
                self.seen.setdefault(tid, (now, at))


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


def run(quick: bool = False) -> Iterator[dict[str, object]]:
    """The lag figures (``quick``: a 3-minute run instead of 10)."""
    duration = 180.0 if quick else 600.0
    with tempfile.TemporaryDirectory(prefix="kalshi-lake-lag-") as tmp:
        root = Path(tmp)
        key, pub = write_key_pair(root)
        lake = root / "lake"
        cfg = SimConfig(seed=FIXTURE_SEED, speed=SPEED, ws_public_key=pub)
        opts = dataclasses.replace(FollowOptions(), duration_s=duration)
        watcher = _Watcher(lake, "chicago")
        with SimServer(cfg).start() as sim:
            sim_start_us, real_start = sim.clock.now_us(), time.time()
            settings = Settings.load(
                env={},
                lake=str(lake),
                api_url=sim.base_url,
                progress=False,
                api_key_id="bench-key",
                private_key_path=str(key),
            )
            watcher.start()
            try:
                run_follow(settings, [get_city("chicago")], options=opts)
            finally:
                time.sleep(2.0)
                watcher.stop.set()
                watcher.join()

        def made(at_us: int) -> float:  # the real moment the simulator made a trade
            return real_start + (at_us - sim_start_us) / 1e6 / SPEED

        lags = [seen - made(at) for seen, at in watcher.seen.values() if at > sim_start_us]
        frames = _frame_lags(lake, made, sim_start_us)
    inputs = {"duration_s": duration, "speed": SPEED, "city": "chicago", "trades": len(lags)}
    yield figure(
        "follow_trade_lag_p95_s",
        _pct(lags, 0.95),
        "s",
        goal_s=GOAL_S,
        p50_s=round(_pct(lags, 0.5), 2),
        max_s=round(max(lags, default=float("nan")), 2),
        **inputs,
    )
    yield figure("follow_ws_frame_lag_p95_s", _pct(frames, 0.95), "s", frames=len(frames))


def _frame_lags(lake: Path, made: Callable[[int], float], sim_start_us: int) -> list[float]:
    """Trade made -> its frame received, for every recorded trade frame."""
    files = [str(f) for f in sorted(lake.glob("raw/ws/city=*/date=*/*.parquet"))]
    if not files:
        return []
    rows = duckdb.execute(
        "SELECT epoch_us(recv_at), body FROM read_parquet(?) WHERE msg_type = 'trade'", [files]
    ).fetchall()
    out = []
    for recv_us, body in rows:
        at_us = int(json.loads(body)["msg"]["ts_ms"]) * 1000
        if at_us > sim_start_us:
            out.append(recv_us / 1e6 - made(at_us))
    return out


if __name__ == "__main__":  # pragma: no cover
    for fig in run(quick=True):
        print(json.dumps(fig))
