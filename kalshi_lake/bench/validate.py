"""Validate benchmark: every check of ``kalshi-lake validate`` on a 10M-trade lake.

The lake is the transform benchmark's (:func:`kalshi_lake.bench.transform.spec_for`: 20 cities,
~1,000 trades per market, 2% of pages fetched twice), with Kalshi's candles too so that every
check has its inputs, generated in a temporary folder and transformed. Then ``kalshi-lake
validate --json`` runs in a child process whose current directory and ``TMPDIR`` are fresh
empty folders, while this process samples how much they hold:

- ``validate.seconds``: the child's wall time (all checks, connection set-up included);
- ``validate.temp_peak_mb``: the most the current directory and the temp directory held at
  once, i.e. what DuckDB spilled (goal: under 2,000 MB; DuckDB's default spill folder is
  ``.tmp`` in the current directory, which is why that folder is watched too).

``quick`` uses 1M trades. The lake is deleted afterwards.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from kalshi_lake.bench import figure
from kalshi_lake.bench.transform import _generate, spec_for, transform_child

#: How often the temp folders are measured while validate runs.
SAMPLE_SECONDS = 0.2


def _bytes_under(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:  # removed while we walked
                pass
    return total


def validate_child(lake: Path, work: Path) -> dict[str, object]:
    """Run ``kalshi-lake validate --json`` on ``lake`` with its current directory and TMPDIR
    in ``work``; its wall time, exit code, the peak bytes in both folders and the report."""
    cwd, tmp = work / "cwd", work / "tmp"
    cwd.mkdir()
    tmp.mkdir()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "kalshi_lake.cli", "validate", "--lake", str(lake), "--json"],
        cwd=cwd,
        env={**os.environ, "TMPDIR": str(tmp)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = 0
    while proc.poll() is None:
        peak = max(peak, _bytes_under(cwd) + _bytes_under(tmp))
        time.sleep(SAMPLE_SECONDS)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):  # 1: a check found something, still a full run
        raise RuntimeError(f"validate failed ({proc.returncode}): {err[-2000:]}")
    report = json.loads(out)
    return {"seconds": wall, "rc": proc.returncode, "peak_bytes": peak, "report": report}


def bench_size(root: Path, trades: int) -> Iterator[dict[str, object]]:
    """Figures for one lake size."""
    spec = dataclasses.replace(spec_for(trades), candles=True)
    lake = root / "lake"
    stats = _generate(lake, spec)
    transform_child(lake, "full")
    run = validate_child(lake, root)
    report = run["report"]
    assert isinstance(report, dict)
    checks = report["checks"]
    inputs = {
        "trades": stats.trades,
        "trade_copies": stats.trades + stats.dup_trades,
        "raw_json_gb": round(stats.bytes / 1e9, 2),
        "cities": len(spec.cities),
        "days": spec.days,
        "checks": len(checks),
        "not_ok": sorted(c["name"] for c in checks if c["status"] != "ok"),
        "exit_code": run["rc"],
    }
    seconds = float(str(run["seconds"]))
    yield figure("validate.seconds", seconds, "s", **inputs)
    yield figure("validate.temp_peak_mb", int(str(run["peak_bytes"])) / 1e6, "MB", **inputs)


def run(quick: bool) -> Iterator[dict[str, object]]:
    """``validate.seconds`` and ``validate.temp_peak_mb`` at 10M trades (quick: 1M)."""
    with tempfile.TemporaryDirectory(prefix="kalshi-bench-validate-") as d:
        yield from bench_size(Path(d), 1_000_000 if quick else 10_000_000)
