"""Discarded work in a kill campaign, and what durability costs (README "Benchmarks").

The kill campaign: one simulator in its own process with Kalshi's Basic read limit (20
requests/s) and 150 ms of latency, and a ``kalshi-lake backfill`` subprocess (the CLI, production
defaults) over two years of one city, killed with SIGKILL at ten seeded random instants between
1 and 30 s after it starts, re-run after each kill. Afterwards the pages the simulator answered
(status 200, from its ``/_sim/stats``) are compared with the pages in the raw layer (one row per
response page):

- ``kills_pages_fetched``: pages the simulator served across the campaign;
- ``kills_pages_durable``: pages present in the raw layer after it;
- ``kills_discarded_share``: (fetched - durable) / fetched, the work the kills threw away.

The cost side: a clean backfill of 30 days of the same city against the same simulator, then
a transform of its raw layer:

- ``durable_backfill_wall_s`` and ``durable_backfill_requests_per_s`` (requests / wall time);
- ``durable_raw_files``: raw Parquet files (each one PUT on S3);
- ``durable_transform_s``: the transform of the result.

``quick`` runs three kills between 1 and 10 s and the 30-day run. Also runnable alone:
``python -m kalshi_lake.bench --only kills``.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kalshi_lake.bench import figure
from kalshi_lake.bench.backfill import LATENCY_MS, NOW, RATE, _sim_process

CITY = "chicago"
END = dt.date(2026, 11, 20)
SEED = 12


def _backfill_cmd(lake: Path, url: str, start: dt.date, end: dt.date) -> list[str]:
    return [
        sys.executable,
        "-m",
        "kalshi_lake.cli",
        "--lake",
        str(lake),
        "backfill",
        "--city",
        CITY,
        "--start",
        start.isoformat(),
        "--end",
        end.isoformat(),
        "--api-url",
        url,
        "--rate",
        str(RATE),
        "--no-transform",
    ]


def _env() -> dict[str, str]:
    """The caller's environment without any KALSHI_* setting (no keys, no lake, no rate)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("KALSHI_")}


def raw_pages(lake: Path) -> int:
    """Pages (rows) in the raw layer, from the Parquet footers."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(f).metadata.num_rows for f in lake.glob("raw/**/*.parquet"))


def _sim_stats(url: str) -> dict[str, Any]:
    import httpx

    stats: dict[str, Any] = httpx.get(f"{url}/_sim/stats", timeout=30).json()
    return stats


def served_pages(url: str) -> int:
    """Requests the simulator answered with status 200 so far (each one a page)."""
    return int(_sim_stats(url)["by_status"].get("200", 0))


def campaign(
    lake: Path, url: str, *, kills: int, lo: float, hi: float, start: dt.date, seed: int = SEED
) -> dict[str, object]:
    """Kill a backfill ``kills`` times at seeded instants in ``[lo, hi]`` s; count the pages."""
    rng = random.Random(seed)
    instants = [round(rng.uniform(lo, hi), 2) for _ in range(kills)]
    served0 = served_pages(url)
    finished = 0
    for at in instants:
        proc = subprocess.Popen(
            _backfill_cmd(lake, url, start, END),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=_env(),
        )
        try:
            proc.wait(timeout=at)
            finished += 1  # done before its kill instant: nothing left to throw away
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
    fetched = served_pages(url) - served0
    durable = raw_pages(lake)
    return {
        "fetched": fetched,
        "durable": durable,
        "instants_s": instants,
        "finished_before_kill": finished,
    }


def clean_run(lake: Path, url: str, days: int = 30) -> dict[str, float]:
    """One uninterrupted backfill of ``days`` days, then a transform: times and raw files."""
    from kalshi_lake.config import Settings
    from kalshi_lake.transform import run_transform

    start = END - dt.timedelta(days=days - 1)
    sent0 = _sim_stats(url)["requests"]
    t0 = time.perf_counter()
    subprocess.run(
        _backfill_cmd(lake, url, start, END),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(),
        check=True,
    )
    wall = time.perf_counter() - t0
    requests = _sim_stats(url)["requests"] - sent0
    files = sum(1 for _ in lake.glob("raw/**/*.parquet"))
    t0 = time.perf_counter()
    run_transform(Settings(lake=str(lake), progress=False))
    transform_s = time.perf_counter() - t0
    return {
        "wall_s": wall,
        "requests": requests,
        "files": files,
        "transform_s": transform_s,
    }


def run(quick: bool = False) -> Iterator[dict[str, object]]:
    """The kill campaign, then a clean 30-day backfill and its transform."""
    kills, lo, hi = (3, 1.0, 10.0) if quick else (10, 1.0, 30.0)
    start = END - dt.timedelta(days=729)
    sim_args = ["--seed", "7", "--now", NOW.isoformat(), "--rate", str(RATE)]
    sim_args += ["--latency-ms", str(LATENCY_MS)]
    with tempfile.TemporaryDirectory(prefix="kalshi-bench-") as tmp, _sim_process(*sim_args) as url:
        c = campaign(Path(tmp) / "killed", url, kills=kills, lo=lo, hi=hi, start=start)
        r = clean_run(Path(tmp) / "clean", url)
    fetched, durable = int(str(c["fetched"])), int(str(c["durable"]))
    inputs = {
        "kills": kills,
        "city": CITY,
        "start": start.isoformat(),
        "end": END.isoformat(),
        "sim_rate": RATE,
        "latency_ms": LATENCY_MS,
        **c,
    }
    yield figure("kills_pages_fetched", fetched, "pages", **inputs)
    yield figure("kills_pages_durable", durable, "pages", **inputs)
    yield figure(
        "kills_discarded_share", (fetched - durable) / max(1, fetched), "fraction", **inputs
    )
    clean = {"city": CITY, "days": 30, "sim_rate": RATE, "latency_ms": LATENCY_MS}
    yield figure("durable_backfill_wall_s", r["wall_s"], "s", **clean)
    yield figure("durable_backfill_requests_per_s", r["requests"] / r["wall_s"], "req/s", **clean)
    yield figure("durable_raw_files", r["files"], "files", **clean)
    yield figure("durable_transform_s", r["transform_s"], "s", **clean)


if __name__ == "__main__":
    import json

    for fig in run(quick="--quick" in sys.argv):
        print(json.dumps(fig), flush=True)
