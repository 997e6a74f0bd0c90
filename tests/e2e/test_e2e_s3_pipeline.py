"""The whole pipeline on an S3 lake (moto on loopback) behaves exactly as on a local disk.

simulator -> backfill -> transform -> connect, on both kinds of lake; kill -9 mid-backfill and
resume on S3; two backfills of different cities writing one S3 lake at once; a transform that
finds another one holding its partitions refuses to start; bad S3 configuration exits 2 with
one line.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import kalshi_lake
from kalshi_lake.backfill import run_backfill
from kalshi_lake.cities import get_city
from kalshi_lake.config import Settings
from kalshi_lake.errors import LockedError
from kalshi_lake.lake import Lake
from kalshi_lake.lake.lock import Lease
from kalshi_lake.lake.state import StateStore
from kalshi_lake.lake.storage import PARTITION_FILE
from kalshi_lake.schemas import LIVE_TABLES, TABLES
from kalshi_lake.sim import SimServer
from kalshi_lake.transform import run_transform

pytestmark = [pytest.mark.s3, pytest.mark.slow]

KILL_CHILD = Path(__file__).with_name("kill_child.py")
CHICAGO, MIAMI = get_city("chicago"), get_city("miami")
# Across the simulator's historical cutoff (2026-09-22): both tiers, legacy-free tickers.
START, END = dt.date(2026, 9, 19), dt.date(2026, 9, 24)
SHORT = (dt.date(2026, 9, 21), dt.date(2026, 9, 23))  # for the multi-process tests
KILL_AT_REQUESTS = 40


def _settings(url: str, sim: SimServer, **kw: Any) -> Settings:
    base: dict[str, Any] = {
        "lake": url,
        "api_url": sim.base_url,
        "rate": 2000.0,
        "concurrency": 8,
        "backoff_base_s": 0.005,
        "backoff_max_s": 0.05,
        "progress": False,
        "flush_seconds": 0.5,
    }
    base.update(kw)
    return Settings(**base)


def _curated(url: str) -> dict[str, pa.Table]:
    """Every curated file of the lake, without ``fetched_at`` (when *this* run fetched it)."""
    lake = Lake(url)
    out = {}
    for path in lake.glob("curated/*/*/*/*"):
        table = lake.read_table(path)
        if "fetched_at" in table.column_names:
            assert table.column("fetched_at").null_count == 0
            table = table.drop_columns(
                [c for c in ("fetched_at", "first_seen_at") if c in table.column_names]
            )
        out[lake.rel(path)] = table
    return out


def _assert_one_file_per_partition(url: str) -> None:
    lake = Lake(url)
    for table in TABLES:
        for city in lake.ls_dirs("curated", table):
            for month in lake.ls_dirs("curated", table, city):
                files = lake.ls_files("curated", table, city, month)
                assert [f.rsplit("/", 1)[1] for f in files] == [PARTITION_FILE], files


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kalshi_lake.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_pipeline_on_s3_equals_local(
    sim: SimServer, s3_url: Callable[..., str], tmp_path: Path
) -> None:
    local, s3 = str(tmp_path / "lake"), s3_url()
    for url in (local, s3):
        settings = _settings(url, sim)
        run_backfill(settings, CHICAGO, START, END)
        summary = run_transform(settings)
        assert summary.ok and summary.rebuilt
    curated = _curated(local)
    assert {p.split("/")[1] for p in curated} == set(TABLES) - LIVE_TABLES
    assert curated == _curated(s3)
    _assert_one_file_per_partition(s3)
    # Readers: DuckDB over the views gives the same answers on both lakes.
    sql = (
        "SELECT (SELECT count(*) FROM trades), (SELECT sum(yes_price * count) FROM trades), "
        "(SELECT count(*) FROM markets), (SELECT count(*) FROM candles_1m), "
        "(SELECT sum(volume) FROM candles_5m)"
    )
    on_local = kalshi_lake.connect(local).sql(sql).fetchall()
    assert on_local[0][0] > 0
    assert kalshi_lake.connect(s3).sql(sql).fetchall() == on_local
    # Coverage is read from the raw layer's file names: the same on S3 (DuckDB globs through
    # the lake's filesystem) as on disk.
    status = "SELECT city, first_date, last_date, event_dates, missing_days, gaps FROM lake_status"
    covered = kalshi_lake.connect(local).sql(status).fetchall()
    assert covered and covered[0][3] > 0
    assert kalshi_lake.connect(s3).sql(status).fetchall() == covered
    # A second transform with nothing new rebuilds nothing and leaves the lake as it was.
    again = run_transform(_settings(s3, sim))
    assert not again.rebuilt and _curated(s3) == curated


def test_backfill_killed_mid_run_on_s3_resumes(
    sim_factory: Callable[..., SimServer], s3_url: Callable[..., str], tmp_path: Path
) -> None:
    sim = sim_factory(latency_ms=10)  # keeps requests in flight when the kill lands
    url = s3_url()
    args = [sys.executable, str(KILL_CHILD), url, "chicago", *(d.isoformat() for d in SHORT)]
    args.insert(3, sim.base_url)
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    # Kill well before the end (a clean run of both families needs about 140 requests),
    # mid-walk, once some market's trades unit is saved: on a loaded machine the S3 writes lag
    # the requests, and the state is committed after the pages it describes, so durable trades
    # pages alone (the former condition) could still leave the re-run nothing to resume.
    lake = Lake(url)

    def trades_unit_saved() -> bool:
        lake.fs.invalidate_cache()  # s3fs caches listings; we want the bucket as it is now
        state = StateStore(lake, "backfill/city=chicago").load()
        return any(True for _ in state.items("trades/"))

    while sim.stats()["requests"] < KILL_AT_REQUESTS or not trades_unit_saved():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the child never reached the kill point"
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    durable = len(Lake(url).glob("raw/*/*/*/*.parquet"))
    # The re-run takes the dead run's lease over at once (same machine, pid gone) and resumes.
    out = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    resumed = int(out.stdout.split("requests=")[1].split()[0])
    clean = subprocess.run(
        [*args[:2], str(tmp_path / "clean"), *args[3:]], capture_output=True, text=True, timeout=300
    )
    assert clean.returncode == 0, clean.stderr
    clean_requests = int(clean.stdout.split("requests=")[1].split()[0])
    assert durable > 0 and resumed < clean_requests, (durable, resumed, clean_requests)
    run_transform(_settings(url, sim))
    run_transform(_settings(str(tmp_path / "clean"), sim))
    assert _curated(url) == _curated(str(tmp_path / "clean"))


def test_two_backfills_of_different_cities_share_an_s3_lake(
    sim: SimServer, s3_url: Callable[..., str], tmp_path: Path
) -> None:
    url = s3_url()
    env = {**os.environ, "KALSHI_RATE": "2000"}
    procs = [
        subprocess.Popen(
            [
                sys.executable, "-m", "kalshi_lake.cli", "--lake", url, "backfill",
                "--city", city, "--start", SHORT[0].isoformat(), "--end", SHORT[1].isoformat(),
                "--api-url", sim.base_url,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for city in ("chicago", "miami")
    ]  # fmt: skip
    # Each also transforms its own city (per-city transform leases): no clash there either.
    for p in procs:
        _out, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    # Each backfill's transform step built every partition of its city whose raw input
    # changed (its months and the months only its listings touched): a transform of the whole
    # lake finds nothing left to do.
    whole = run_transform(_settings(url, sim))
    assert whole.skipped > 0
    assert whole.rebuilt == [] and whole.removed == []
    local = str(tmp_path / "lake")
    for city in (CHICAGO, MIAMI):
        run_backfill(_settings(local, sim), city, *SHORT)
    run_transform(_settings(local, sim))
    together = _curated(url)
    assert {p.split("/")[2] for p in together} == {"city=chicago", "city=miami"}
    assert together == _curated(local)


def test_transform_refuses_while_another_holds_its_partitions(
    sim: SimServer, s3_url: Callable[..., str]
) -> None:
    url = s3_url()
    run_backfill(_settings(url, sim), CHICAGO, END, END)
    holder = Lease(Lake(url), "transform/chicago", purpose="transform chicago").acquire()
    try:
        with pytest.raises(LockedError, match="transform/chicago is locked by"):
            run_transform(_settings(url, sim))
        out = _cli("--lake", url, "transform")
        assert out.returncode == 2
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "transform/chicago is locked by" in lines[0], out.stderr
        assert Lake(url).glob("curated/*/*/*/*") == []
    finally:
        holder.release()
    assert run_transform(_settings(url, sim)).rebuilt


@pytest.mark.parametrize("command", [["transform"], ["status"], ["sql", "SELECT 1"]])
def test_missing_bucket_exits_2_with_one_line(aws_env: object, command: list[str]) -> None:
    out = _cli("--lake", "s3://kl-no-such-bucket/lake", *command)
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "'kl-no-such-bucket' does not exist" in lines[0], out.stderr
