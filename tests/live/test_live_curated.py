"""`follow` keeps the curated tables current: WebSocket trades merged with REST's, lifecycle
frames in market_events, while it runs (its transform loop), against the simulator."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from follow_support import SimFollow

import kalshi_lake
from kalshi_lake.cities import get_city
from kalshi_lake.live.follow import FollowOptions, run_follow
from kalshi_lake.sim import SimConfig
from kalshi_lake.sim.config import FIXTURE_SEED


@pytest.mark.slow
def test_follow_curates_ws_and_rest_trades_once_each_with_first_seen(
    tmp_path: Path,
    key_files: tuple[Path, str],
    sim_follow: SimFollow,
    fast_follow: FollowOptions,
) -> None:
    key, pub = key_files
    # the simulated day starts at 11:30 UTC: the day before's chicago markets are determined
    # and settled (about 12:00 UTC) while the test follows them
    start = dt.datetime.combine(dt.date.today() - dt.timedelta(days=1), dt.time(11, 30), dt.UTC)
    cfg = SimConfig(seed=FIXTURE_SEED, speed=360, ws_public_key=pub, now=start)
    lake = tmp_path / "lake"
    # REST (listings, catch-up) only at the start: the market states after it are lifecycle's
    opts = dataclasses.replace(
        fast_follow, transform_every_s=4, discover_every_s=600, catch_up_every_s=600
    )
    with sim_follow(cfg, lake, key) as (sim, settings):
        summary = run_follow(settings, [get_city("chicago")], options=opts, clock=sim.clock.now)
    assert summary.transforms >= 3  # the loop ran while following, and once at the stop
    con = kalshi_lake.connect(str(lake))
    files = [str(f) for f in sorted(lake.glob("raw/ws/city=chicago/date=*/*.parquet"))]
    raw = duckdb.connect()
    frames = raw.execute(
        "SELECT msg_type, body, recv_at FROM read_parquet(?) WHERE direction = 'in' "
        "AND msg_type IN ('trade', 'market_lifecycle_v2')",
        [files],
    ).fetchall()
    ws_first = {}
    for kind, body, recv in frames:
        if kind == "trade":
            tid = json.loads(body)["msg"]["trade_id"]
            ws_first[tid] = min(recv, ws_first.get(tid, recv))
    assert len(ws_first) > 5
    rest_first = dict(
        con.execute(
            "SELECT trade_id, min(fetched_at) FROM raw_trades_in('chicago') GROUP BY trade_id"
        ).fetchall()
    )
    rows = con.execute(
        "SELECT trade_id, first_seen, first_seen_at FROM trades WHERE city = 'chicago'"
    ).fetchall()
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids))  # each once
    assert set(ids) == set(ws_first) | set(rest_first)  # every trade either source saw
    for tid, first_seen, at in rows:
        seen = {"ws": ws_first.get(tid), "rest": rest_first.get(tid)}
        earliest = min(v for v in seen.values() if v is not None)
        assert at == earliest
        assert first_seen == ("ws" if seen["ws"] == earliest else "rest")
    assert {r[1] for r in rows} == {"ws", "rest"}  # both happen in a run like this
    # every lifecycle frame of a followed market is a market_events row
    lifecycle = sum(1 for kind, _, _ in frames if kind == "market_lifecycle_v2")
    [(n,)] = con.execute("SELECT count(*) FROM market_events WHERE city = 'chicago'").fetchall()
    assert n == lifecycle
    # markets determined and settled over the stream: markets says so, from the lifecycle
    settled = con.execute(
        "SELECT m.market_ticker, m.status, m.result, e.result, m.settlement_ts, e2.event_at "
        "FROM markets m JOIN market_events e USING (market_ticker) "
        "JOIN market_events e2 USING (market_ticker) "
        "WHERE e.event_type = 'determined' AND e2.event_type = 'settled' "
        "AND e2.recv_at > m.fetched_at"
    ).fetchall()
    assert settled, "no market settled while followed"
    for _, status, result, det_result, settlement_ts, settled_at in settled:
        assert (status, result, settlement_ts) == ("finalized", det_result, settled_at)
