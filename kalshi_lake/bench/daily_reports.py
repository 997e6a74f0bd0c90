"""Filtering a large public daily report: rows per second and peak memory.

A seeded ``trade_data`` file (:func:`~kalshi_lake.sim.reports.write_synthetic_trade_report`,
about 150 MB gzipped, the size of Kalshi's 2026 trade files; ``--quick``: about 15 MB) is written
to a local folder and read back through :class:`~kalshi_lake.api.daily_reports.ReportSource`
and :func:`~kalshi_lake.api.daily_reports.filter_rows`, keeping Chicago's two series, in a child
process so that its peak RSS is the filter's own: the child resets its high-water mark
(``/proc/self/clear_refs``) after its imports, so ``peak_growth_mib`` is what filtering added.
The file is local, so the figure is the parser's and gunzip's, not a network's.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from kalshi_lake.bench import figure

#: A 2026 report day (gzipped, numbers as strings).
DAY = dt.date(2026, 8, 3)
KEEP = ("KXHIGHCHI", "KXLOWTCHI")
#: Rows for about 150 MB gzipped (the generator writes ~22 gzipped bytes per row).
FULL_ROWS = 6_800_000
QUICK_ROWS = 680_000


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def filter_in_this_process(folder: str, keep: tuple[str, ...] = KEEP) -> dict[str, Any]:
    """Filter the report day's trade file under ``folder``; rows, kept, CPU/wall s and RSS."""
    from kalshi_lake.api.daily_reports import FilterStats, ReportSource, filter_rows

    src = ReportSource(folder)
    report = src.locate("trade_data", DAY)
    if report is None:
        raise FileNotFoundError(f"no trade_data file for {DAY} under {folder}")
    base_kib = _status_kib("VmRSS")
    try:
        # Reset the high-water mark to the current RSS (Linux >= 4.0), so the peak below is
        # what filtering added, not the imports.
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        reset = True
    except OSError:
        reset = False
    stats = FilterStats()
    kept = 0
    t0, c0 = time.perf_counter(), time.process_time()
    with src.open(report) as stream:
        for _ in filter_rows(stream, frozenset(keep), stats=stats):
            kept += 1
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak_kib = _status_kib("VmHWM")
    return {
        "rows": stats.rows,
        "kept": kept,
        "bytes": stats.bytes,
        "gz_bytes": report.size,
        "wall_s": wall,
        "cpu_s": cpu,
        "base_rss_kib": base_kib,
        "peak_rss_kib": peak_kib,
        "peak_reset": reset,
    }


def filter_in_child(folder: str, keep: tuple[str, ...] = KEEP) -> dict[str, Any]:
    """:func:`filter_in_this_process` in a fresh Python process (its RSS is the filter's)."""
    code = (
        "import json, sys; from kalshi_lake.bench.daily_reports import filter_in_this_process; "
        "print(json.dumps(filter_in_this_process(sys.argv[1], tuple(sys.argv[2:]))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, folder, *keep],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ},
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def write_report_folder(folder: Path, rows: int) -> int:
    """The bench's trade file for :data:`DAY` under ``folder``; returns the rows of ``KEEP``."""
    from kalshi_lake.sim.reports import report_key, write_synthetic_trade_report

    path = folder / report_key("trade_data", DAY).split("/", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        return write_synthetic_trade_report(f, DAY, rows, ours=KEEP)


def run(quick: bool = False) -> Iterator[dict[str, object]]:
    """Rows/s (per CPU second and per wall second) and peak RSS of filtering one large file."""
    rows = QUICK_ROWS if quick else FULL_ROWS
    with tempfile.TemporaryDirectory(prefix="kl-bench-reports-") as tmp:
        folder = Path(tmp)
        t0 = time.perf_counter()
        ours = write_report_folder(folder, rows)
        made_s = time.perf_counter() - t0
        r = filter_in_child(str(folder))
    if r["kept"] != ours or r["rows"] != rows:
        raise AssertionError(f"filter kept {r['kept']} of {r['rows']}, expected {ours} of {rows}")
    inputs = {
        "rows": rows,
        "gz_mb": round(r["gz_bytes"] / 1e6, 1),
        "json_mb": round(r["bytes"] / 1e6, 1),
        "kept": r["kept"],
        "generate_s": round(made_s, 1),
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    yield figure("daily_report_filter_rows_per_cpu_s", r["rows"] / r["cpu_s"], "rows/s", **inputs)
    yield figure("daily_report_filter_rows_per_s", r["rows"] / r["wall_s"], "rows/s", **inputs)
    yield figure("daily_report_filter_peak_rss", r["peak_rss_kib"] / 1024, "MiB", **inputs)
    growth = (r["peak_rss_kib"] - r["base_rss_kib"]) / 1024
    yield figure(
        "daily_report_filter_peak_growth", growth, "MiB", peak_reset=r["peak_reset"], **inputs
    )
