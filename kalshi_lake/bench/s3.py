"""Transform throughput on an S3 lake (moto on loopback) as a fraction of the same on local disk.

One seeded raw layer (:mod:`kalshi_lake.sim.rawgen`) is written to a local lake and copied
byte for byte to a bucket on a moto S3 server; then a full transform runs on each lake and the
figures compare trades per second. moto runs in its own process, as a real S3 endpoint would,
so the client does not share its GIL with the server. Every request to moto is a loopback round
trip of a few milliseconds, comparable to S3 from inside its region, so the ratio shows what
the request pattern costs (listings, HEADs, ranged GETs, PUTs), not network bandwidth.

The curated tables of both runs are compared (``s3_curated_identical``), so the benchmark
also checks that the S3 path computes the same thing.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from kalshi_lake.bench import figure
from kalshi_lake.config import Settings
from kalshi_lake.lake import Lake
from kalshi_lake.testing.local_s3 import LocalS3, local_s3


@contextmanager
def _aws_env(server: LocalS3) -> Iterator[None]:
    """The AWS variables of ``server`` for the duration of the block."""
    saved = {k: os.environ.get(k) for k in server.env()}
    os.environ.update(server.env())
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _copy_raw(src: Lake, dst: Lake) -> int:
    """Copy every raw file of ``src`` to ``dst`` (same relative paths); returns bytes copied."""
    total = 0
    for path in src.glob("raw/*/*/*/*.parquet"):
        data = src.read_bytes(src.rel(path))
        dst.write_bytes(data, src.rel(path))
        total += len(data)
    return total


def _curated(lake: Lake) -> dict[str, Any]:
    """Relative path -> table of every curated file."""
    return {lake.rel(p): lake.read_table(p) for p in lake.glob("curated/*/*/*/*.parquet")}


def _transform(lake: Lake, runs: int) -> tuple[float, Any]:
    """Median seconds of ``runs`` full transforms of ``lake`` and the last summary."""
    from kalshi_lake.transform import run_transform

    settings = Settings(lake=lake.url, progress=False)
    times = []
    summary = None
    for _ in range(runs):
        t0 = time.perf_counter()
        summary = run_transform(settings, full=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), summary


def run(quick: bool) -> Iterable[dict[str, Any]]:
    """Figures: transform trades/s on local disk and on S3, and their ratio."""
    from kalshi_lake.sim.rawgen import SynthSpec, generate_raw

    spec = SynthSpec(
        seed=3,
        cities=("chicago",) if quick else ("chicago", "miami"),
        start=dt.date(2026, 9, 1),
        days=10 if quick else 30,
        trades_per_market=300 if quick else 1500,
    )
    runs = 1 if quick else 3
    with tempfile.TemporaryDirectory(prefix="kalshi-lake-bench-s3-") as tmp:
        local = Lake(os.path.join(tmp, "lake"))
        stats = generate_raw(local, spec)
        local_s, local_summary = _transform(local, runs)
        with local_s3(separate_process=True) as server, _aws_env(server):
            s3 = Lake(f"s3://{server.create_bucket()}/lake")
            raw_bytes = _copy_raw(local, s3)
            s3_s, s3_summary = _transform(s3, runs)
            identical = _curated(local) == _curated(s3)
    trades = local_summary.trades_read
    assert s3_summary.trades_read == trades
    inputs = {
        "trades": trades,
        "raw_files": local_summary.raw_files,
        "raw_mb": round(raw_bytes / 2**20, 1),
        "cities": len(spec.cities),
        "days": spec.days,
        "partitions": len(local_summary.rebuilt),
        "runs": runs,
        "synth_trades": stats.trades,
        "s3": "moto server (own process) on 127.0.0.1",
    }
    yield figure(
        "transform_local_trades_per_s", trades / local_s, "trades/s", seconds=local_s, **inputs
    )
    yield figure("transform_s3_trades_per_s", trades / s3_s, "trades/s", seconds=s3_s, **inputs)
    yield figure("transform_s3_fraction_of_local", local_s / s3_s, "ratio", **inputs)
    yield figure("s3_curated_identical", 1.0 if identical else 0.0, "bool", **inputs)
