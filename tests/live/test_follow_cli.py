"""``kalshi-lake follow`` as a user runs it: a child process against the simulator's WebSocket,
stopped by SIGTERM or killed with -9 and restarted, and the one-line errors of bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from kalshi_lake.sim import SimConfig, SimServer
from kalshi_lake.sim.config import FIXTURE_SEED
from kalshi_lake.testing.keys import write_key_pair


@pytest.fixture(scope="module")
def key_pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return write_key_pair(tmp_path_factory.mktemp("key"))


@pytest.fixture
def live(key_pair: tuple[Path, str]) -> Iterator[SimServer]:
    with SimServer(SimConfig(seed=FIXTURE_SEED, speed=360, ws_public_key=key_pair[1])).start() as s:
        yield s


def _env(sim: SimServer, key: Path | None) -> dict[str, str]:
    env = dict(os.environ, KALSHI_API_URL=sim.base_url)
    if key is not None:
        env.update(KALSHI_API_KEY_ID="key-1", KALSHI_PRIVATE_KEY_PATH=str(key))
    return env


def _follow(lake: Path, env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "kalshi_lake.cli", "--lake", str(lake), "follow", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _frames(lake: Path) -> list[tuple[str, int, str | None, str]]:
    files = [str(f) for f in sorted(lake.glob("raw/ws/city=*/date=*/*.parquet"))]
    if not files:
        return []
    return (
        duckdb.connect()
        .execute("SELECT conn_id, frame_no, msg_type, body FROM read_parquet(?)", [files])
        .fetchall()
    )


def _wait_for_trades(
    lake: Path, proc: subprocess.Popen[str], after: str | None = None, timeout: float = 90
) -> str:
    """Wait until a run other than ``after`` has recorded trades (its heartbeat says so); its id."""
    deadline = time.monotonic() + timeout
    beat = lake / "_state" / "live" / "chicago.high.json"
    while time.monotonic() < deadline:
        try:
            body = json.loads(beat.read_text())
        except (OSError, ValueError):
            body = {}
        if body.get("run_id") not in (None, after) and body.get("last_frame_us", {}).get("trade"):
            return str(body["run_id"])
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    raise AssertionError("no trade recorded")


@pytest.mark.slow
def test_sigterm_stops_cleanly_and_kill_9_then_restart_loses_and_repeats_nothing(
    tmp_path: Path, live: SimServer, key_pair: tuple[Path, str]
) -> None:
    lake, env = tmp_path / "lake", _env(live, key_pair[0])
    # run 1: killed with -9 once frames are in the journal
    proc = _follow(lake, env, "--city", "chicago", "--family", "high")
    first = _wait_for_trades(lake, proc)
    time.sleep(1.5)  # everything received up to a second before the kill is durable
    journal = lake / "_state" / "journal"
    proc.kill()
    proc.wait(30)
    segs = sorted(journal.glob("*.seg"))
    assert segs, "a killed run leaves its journal"
    # run 2: replays (rolls) the journal first, records, then SIGTERM: exit 0 and a summary
    proc = _follow(lake, env, "--city", "chicago", "--family", "high")
    _wait_for_trades(lake, proc, after=first)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "follow chicago:" in out and "stopped by a signal" in out
    assert err.splitlines()[0].startswith("follow: an API key is configured")
    frames = _frames(lake)
    ids = [(c, n) for c, n, _, _ in frames]
    assert len(ids) == len(set(ids)), "a frame was rolled twice"
    conns = {c.rsplit(".", 1)[0] for c, _, _, _ in frames}
    assert len(conns) == 2, "both runs' frames are in the lake"
    trades = [json.loads(b)["msg"]["trade_id"] for _, _, t, b in frames if t == "trade"]
    assert trades and len(trades) == len(set(trades))
    assert not list(journal.glob("*.seg")), "a clean stop rolls everything"
    # ... and transforms once more: the curated trades hold every trade frame recorded, once
    curated = [str(f) for f in lake.glob("curated/trades/city=chicago/month=*/*.parquet")]
    assert curated, "no curated trades after a SIGTERM"
    rows = duckdb.connect().execute("SELECT trade_id FROM read_parquet(?)", [curated]).fetchall()
    ids = [r[0] for r in rows]
    assert len(ids) == len(set(ids)) and set(trades) <= set(ids)


def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, live: SimServer, key_pair: tuple[Path, str]
) -> None:
    lake = tmp_path / "lake"
    cases = []
    # --orderbook ws without a key
    cases.append((_env(live, None), ["--city", "chicago", "--orderbook", "ws"], "needs an API key"))
    # an unknown city
    cases.append((_env(live, key_pair[0]), ["--city", "atlantis"], "unknown city"))
    # a key file others can read
    loose = tmp_path / "loose.pem"
    loose.write_bytes(key_pair[0].read_bytes())
    os.chmod(loose, 0o644)
    env = _env(live, loose)
    cases.append((env, ["--city", "chicago"], "accessible by group or others"))
    for env, args, words in cases:
        proc = _follow(lake, env, *args)
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 2, (args, err)
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and words in lines[0], (args, err)
    # a bad duration is a usage error like any malformed option (click's usage lines)
    proc = _follow(lake, _env(live, key_pair[0]), "--city", "chicago", "--for", "soon")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "'soon' is not a duration" in err.splitlines()[-1]


def test_a_refused_key_exits_2_with_one_line(tmp_path: Path, key_pair: tuple[Path, str]) -> None:
    cfg = SimConfig(seed=FIXTURE_SEED, speed=360, ws_reject_auth=True)
    with SimServer(cfg).start() as sim:
        proc = _follow(
            tmp_path / "lake", _env(sim, key_pair[0]), "--city", "chicago", "--for", "60s"
        )
        _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("follow:")]
    assert len(lines) == 1 and "refused (401" in lines[0], err
