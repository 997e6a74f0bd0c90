"""Transform benchmark: raw pages -> curated trades + 1m/5m candles, at 10M and 50M trades.

For each size a raw layer is generated (:mod:`kalshi_lake.sim.rawgen`, seeded: 20 cities, their
highs and lows (31 series), six brackets a day, ~1,000 trades per market in pages of 1,000, 2%
of pages fetched twice, one event page per day and a markets listing per series) in a temporary
folder, then:

- ``transform.full``: a full transform in a child process: trades/s (trade objects read,
  duplicates included, over the wall time of the whole run: parse, dedup, candles, writes),
  the child's peak RSS (``ru_maxrss``), its CPU seconds and the machine's load average (the
  box is shared: trades per CPU-second is the figure that does not depend on other load);
- ``transform.incremental_day``: one city's event day fetched again by a later run (new raw
  files in one complete month), then the incremental transform a backfill of that day runs
  (scoped to the city and day): its wall time should not grow with the lake, since it lists
  and rebuilds one (city, month) partition of the same size in both lakes;
- ``transform.incremental_day_unscoped``: the same for another day, picked up by a plain
  incremental ``kalshi-lake transform`` (which lists the whole raw layer to find it);
- ``transform.noop``: an incremental run with nothing new (planning and listing only).

``quick`` uses 1M and 3M trades. Generated lakes are deleted afterwards.

Peak RSS is the transform child's own ``ru_maxrss``. Linux carries the high-water mark of a
process across ``exec``, so a child forked from a big parent would report the parent's size:
the lakes are therefore generated in a separate (spawned) process and this process stays
small.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from kalshi_lake.bench import figure
from kalshi_lake.cities import FAMILIES, names
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim.rawgen import SynthSpec, SynthStats, generate_raw

START = dt.date(2026, 1, 1)
#: A day whose month is complete in every lake generated here (the incremental re-fetch).
REFETCH_DAY = dt.date(2026, 2, 15)

_CHILD = """
import json, resource, sys, time
from kalshi_lake.allocators import tune_allocators
tune_allocators()  # as the CLI does, before polars, pyarrow and DuckDB load
from kalshi_lake.config import Settings
from kalshi_lake.transform import TransformIncomplete, run_transform
t0 = time.perf_counter()
try:
    scope = {}
    if len(sys.argv) > 3:
        import datetime as dt
        from kalshi_lake.cities import get_city
        day = dt.date.fromisoformat(sys.argv[4])
        scope = {"city": get_city(sys.argv[3]), "start": day, "end": day}
    s = run_transform(
        Settings(lake=sys.argv[1], progress=False), full=sys.argv[2] == "full", **scope
    )
except TransformIncomplete as exc:
    s = exc.summary
out = {"seconds": time.perf_counter() - t0, "trades_read": s.trades_read, "duplicates": s.duplicates,
       "rebuilt": len(s.rebuilt), "skipped": s.skipped, "rows": s.rows, "problems": len(s.problems),
       "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
       "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2])}
print(json.dumps(out))
"""


def spec_for(trades: int, seed: int = 42) -> SynthSpec:
    """A 20-city lake of highs and lows (31 series) of about ``trades`` trades: ~1,000 trades
    per market and more days for bigger lakes (so partitions are alike at every size); small
    lakes get fewer trades per market instead, since every lake spans at least two full
    months."""
    spec = SynthSpec(
        seed=seed,
        cities=tuple(names()),
        start=START,
        page_size=1000,
        dup_page_rate=0.02,
        candles=False,
        listing=True,
        chunk_trades=1_000_000,
        families=FAMILIES,
    )
    series = spec.series_count
    min_days = REFETCH_DAY.toordinal() - START.toordinal() + 15
    days = max(min_days, round(trades / (series * 6 * 1000)))
    per_market = min(1000, max(1, round(trades / (days * series * 6))))
    return dataclasses.replace(spec, days=days, trades_per_market=per_market)


def transform_child(
    lake: Path, mode: str, city: str | None = None, day: dt.date | None = None
) -> dict[str, Any]:
    """Run one transform in a child process (optionally scoped to one city-day, as a
    backfill of that day runs it); its summary, wall time and peak RSS."""
    scope = [city, day.isoformat()] if city and day else []
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(lake), mode, *scope],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"transform child failed ({proc.returncode}): {proc.stderr[-2000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall"] = wall
    return out


def _generate_in_child(lake: str, spec: SynthSpec) -> SynthStats:
    return generate_raw(Lake(lake), spec)


def _generate(lake: Path, spec: SynthSpec) -> SynthStats:
    """Generate in a fresh process (keeps this one small for honest child RSS figures)."""
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx) as pool:
        return pool.submit(_generate_in_child, str(lake), spec).result()


def _size_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 else str(n)


def bench_size(root: Path, trades: int) -> Iterator[dict[str, object]]:
    """Figures for one lake size."""
    spec = spec_for(trades)
    lake = root / f"lake-{_size_label(trades)}"
    t0 = time.perf_counter()
    stats = _generate(lake, spec)
    gen_s = time.perf_counter() - t0
    inputs = {
        "trades": stats.trades,
        "trade_copies": stats.trades + stats.dup_trades,
        "raw_files": stats.files,
        "raw_json_gb": round(stats.bytes / 1e9, 2),
        "cities": len(spec.cities),
        "series": spec.series_count,
        "days": spec.days,
    }
    yield figure(
        "transform.generate", stats.trades / gen_s, "trades/s", seconds=round(gen_s, 1), **inputs
    )

    full = transform_child(lake, "full")
    yield figure(
        "transform.full",
        full["trades_read"] / full["seconds"],
        "trades/s",
        seconds=round(full["seconds"], 2),
        cpu_seconds=round(full["cpu_s"], 1),
        load_avg_1m=round(os.getloadavg()[0], 1),
        peak_rss_mib=round(full["rss_mib"]),
        partitions=full["rebuilt"],
        rows=full["rows"],
        **inputs,
    )
    yield figure("transform.full_peak_rss", full["rss_mib"], "MiB", **inputs)

    noop = transform_child(lake, "incremental")
    yield figure("transform.noop", noop["seconds"], "s", skipped=noop["skipped"], **inputs)

    # One city-day fetched again, then the transform `backfill` runs after it (scoped to that
    # city and day: it lists only that month's raw folders) ...
    city = spec.cities[0]
    refetch = dataclasses.replace(spec, start=REFETCH_DAY, days=1, cities=(city,), listing=False)
    _generate(lake, refetch)
    inc = transform_child(lake, "incremental", city, REFETCH_DAY)
    yield figure(
        "transform.incremental_day",
        inc["seconds"],
        "s",
        rebuilt=inc["rebuilt"],
        skipped=inc["skipped"],
        trades_read=inc["trades_read"],
        peak_rss_mib=round(inc["rss_mib"]),
        **inputs,
    )
    # ... and another day picked up by a plain `kalshi-lake transform` (lists the whole lake).
    other = REFETCH_DAY + dt.timedelta(days=1)
    _generate(lake, dataclasses.replace(refetch, start=other))
    whole = transform_child(lake, "incremental")
    yield figure(
        "transform.incremental_day_unscoped",
        whole["seconds"],
        "s",
        rebuilt=whole["rebuilt"],
        skipped=whole["skipped"],
        trades_read=whole["trades_read"],
        **inputs,
    )
    shutil.rmtree(lake, ignore_errors=True)


def run(quick: bool) -> Iterator[dict[str, object]]:
    """Transform figures at 10M and 50M trades (quick: 1M and 3M)."""
    sizes = (1_000_000, 3_000_000) if quick else (10_000_000, 50_000_000)
    with tempfile.TemporaryDirectory(prefix="kalshi-lake-bench-transform-") as tmp:
        for n in sizes:
            yield from bench_size(Path(tmp), n)
