"""Report benchmark: ``kalshi-lake report`` on a 20-city, 365-day lake (goal: under 10 s).

The lake is the query benchmark's big synthetic lake (:func:`kalshi_lake.bench.queries.cached_lake`:
every city, 365 event days, ~10M trades and ~22M one-minute candles, cached across runs). The
command runs in a child process, as a user runs it, after one warm-up run that fills the Vega
bundle cache and, when the lake holds no current saved check results, runs the checks once and
saves them (what ``validate`` does; minutes on this lake). Figures:

- ``report.seconds``: ``kalshi-lake report`` as a user runs it after ``validate``: the check
  results read from the lake (:mod:`kalshi_lake.lake.saved_checks`), the child's wall time,
  interpreter start and imports included (median of three runs), with its CPU seconds (all
  threads) alongside: on a loaded machine the wall time grows with other processes, the CPU
  time much less;
- ``report.no_checks_seconds``: the same with ``--no-checks``;
- ``report.stage_s.*``: where the time goes, from one in-process build with the saved checks
  (connect, coverage cells, tables, checks, status rows) and the page written.

``quick`` uses the query benchmark's small 3-city, 80-day lake.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kalshi_lake.bench import figure
from kalshi_lake.bench.queries import _FULL, _QUICK, cached_lake
from kalshi_lake.cities import CITIES

#: Runs timed after the warm-up.
RUNS = 3


def _child(lake: str, out: Path, *args: str) -> tuple[float, float]:
    """(wall s, CPU s) of ``kalshi-lake report [args]`` in a child process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "kalshi_lake.cli", "--lake", lake, "report", *args]
    subprocess.run(
        [*cmd, "--out", str(out)],
        check=True,
        capture_output=True,
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def run(quick: bool) -> Iterable[dict[str, object]]:
    """Time the report on the big lake (``quick``: a small one)."""
    from kalshi_lake.report import build_report, write_report

    if quick:
        picked = [c for c in CITIES if c.name in ("chicago", "nyc", "miami")]
        lake, counts = cached_lake("quick", cities=picked, **_QUICK)
        days = _QUICK["days"]
    else:
        picked = list(CITIES)
        lake, counts = cached_lake("full", cities=picked, **_FULL)
        days = _FULL["days"]
    inputs: dict[str, Any] = {
        "lake_cities": len(picked),
        "lake_days": days,
        "lake_trades": counts["trades"],
        "lake_candles_1m": counts["candles_1m"],
    }
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "report.html"
        # warm-up: the Vega bundle cache, the OS page cache, and the checks run and saved
        # unless the lake already holds current results
        _child(lake.root, out)
        for name, args in (("report.seconds", ()), ("report.no_checks_seconds", ("--no-checks",))):
            runs = [_child(lake.root, out, *args) for _ in range(RUNS)]
            walls = [w for w, _c in runs]
            yield figure(
                name,
                statistics.median(walls),
                "s",
                min_s=round(min(walls), 2),
                cpu_s=round(statistics.median(c for _w, c in runs), 2),
                page_mb=round(out.stat().st_size / 1e6, 2),
                runs=RUNS,
                goal_s=10,
                **inputs,
            )
        data = build_report(lake)
        if data.checks_source is None or data.checks_source.how != "saved":
            raise RuntimeError("the report ran the checks: the saved results were not used")
        t = time.perf_counter()
        write_report(data, out)
        stages = {**data.timings, "page": time.perf_counter() - t}
        for stage, seconds in stages.items():
            yield figure(f"report.stage_s.{stage}", seconds, "s", cells=len(data.cells), **inputs)
