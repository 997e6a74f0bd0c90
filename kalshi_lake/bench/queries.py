"""Query latency of the backtest views on a large synthetic curated lake.

The lake is generated directly in the curated layout (no API, no transform) by
:func:`kalshi_lake.sim.curated.build_synthetic_lake`: every city, six brackets per daily event,
month partitions with one file per table, a few hundred trades and sparse one-minute api candles
per market, and ``decision_points`` computed from them with the transform's own function, as a
transformed lake has it (the backtest views read it at the default instants). Figures:

- ``queries.decision_quotes`` / ``queries.event_ladder``: one city, 60 event days, on the big lake
  (>= 10 M trades; ``quick=True`` uses a small lake), median of several warm runs.
- ``queries.pruning.*``: the same one-city query on a lake with 2 cities x 120 days versus the big
  lake; pruning works when the times are close (the ratio stays near 1).
- ``queries.<view>_view``: the plain views ``decision_quotes``, ``event_ladder``, ``trades``,
  ``markets`` and ``candles_1m`` filtered by city and dates in a WHERE clause, on the big lake
  (goal: under 100 ms, like the ``_for`` forms; the lakes carry a partition index,
  :mod:`kalshi_lake.lake.curated_index`); ``queries.<table>_in``: the tables' scoped forms
  (``trades_in(city, start, end)``, ...), to compare with.

Lakes are cached under ``$KALSHI_BENCH_DIR`` (default ``<tmp>/kalshi-lake-bench``) and reused when
their parameters match, so only the first run pays for generation.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from kalshi_lake.bench import figure
from kalshi_lake.cities import CITIES
from kalshi_lake.lake import curated_index
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim.curated import GENERATOR_VERSION, build_synthetic_lake

_DONE = "_bench_lake.json"


def cached_lake(name: str, **params: Any) -> tuple[Lake, dict[str, int]]:
    """A synthetic lake for ``params``, generated once and reused while the parameters match."""
    base = Path(
        os.environ.get("KALSHI_BENCH_DIR") or Path(tempfile.gettempdir()) / "kalshi-lake-bench"
    )
    key = json.dumps(
        {
            "generator": GENERATOR_VERSION,
            **{
                k: (v if not isinstance(v, list) else [c.name for c in v])
                for k, v in params.items()
            },
        },
        default=str,
        sort_keys=True,
    )
    root = base / f"{name}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"
    marker = root / _DONE
    if marker.exists():
        lake = Lake(str(root))
        if not lake.exists(curated_index.INDEX_DIR):  # cached before the lake had an index
            curated_index.build(lake)
        return lake, json.loads(marker.read_text())["counts"]
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    lake = Lake(str(root))
    counts = build_synthetic_lake(lake, **params)
    # Written without the transform, so indexed as an older lake would be: the plain views
    # read the index's columns (see kalshi_lake.lake.curated_index).
    curated_index.build(lake)
    marker.write_text(json.dumps({"params": key, "counts": counts}))
    return lake, counts


# --- the figures -----------------------------------------------------------------------------
_CITY = "chicago"
_WINDOW = (dt.date(2026, 1, 1), dt.date(2026, 3, 1))  # 60 event days
_FULL: dict[str, Any] = {
    "start": dt.date(2025, 11, 1),
    "days": 365,
    "trades_per_market": 230,
    "api_candles_per_market": 300,
}
_SMALL: dict[str, Any] = {
    "start": dt.date(2025, 12, 1),
    "days": 120,
    "trades_per_market": 230,
    "api_candles_per_market": 300,
}
_QUICK: dict[str, Any] = {
    "start": dt.date(2025, 12, 15),
    "days": 80,
    "trades_per_market": 30,
    "api_candles_per_market": 40,
}


#: The curated tables the synthetic lake has, timed as plain views and as their ``_in`` forms.
_TABLES = ("trades", "markets", "candles_1m")


def _queries(city: str, start: dt.date, end: dt.date) -> dict[str, str]:
    scope = f"'{city}', DATE '{start}', DATE '{end}'"
    return {
        "decision_quotes": f"SELECT * FROM decision_quotes_for({scope})",
        "event_ladder": f"SELECT * FROM event_ladder_for({scope})",
        "quotes_at": f"SELECT * FROM quotes_at(TIMESTAMPTZ '{start + dt.timedelta(days=30)} 16:00:00+00', city := '{city}')",
        # the plain views filtered as users write them (goal: as fast as the _for forms)
        **{
            f"{view}_view": (
                f"SELECT * FROM {view} WHERE city = '{city}' "
                f"AND date BETWEEN DATE '{start}' AND DATE '{end}'"
            )
            for view in ("decision_quotes", "event_ladder", *_TABLES)
        },
        # and the tables' scoped forms, to compare with
        **{f"{table}_in": f"SELECT * FROM {table}_in({scope})" for table in _TABLES},
    }


def _run_once(con: Any, sql: str) -> tuple[float, float, int]:
    """(wall ms, process CPU ms, rows) of one run, fetched to Arrow."""
    c0, t0 = time.process_time(), time.perf_counter()
    rows = con.sql(sql).to_arrow_table().num_rows
    return (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000, rows


def _figure(
    name: str, cold: float, warm: list[float], cpu: list[float], rows: int, lake: dict[str, Any]
) -> dict[str, object]:
    # cpu_ms (all DuckDB threads) is a load-independent view of the same work: on a busy
    # machine the wall time grows with other processes, the CPU time much less.
    return figure(
        name,
        statistics.median(warm),
        "ms",
        min_ms=round(min(warm), 1),
        cpu_ms=round(statistics.median(cpu), 1),
        cold_ms=round(cold, 1),
        rows=rows,
        runs=len(warm),
        **lake,
    )


def _bench(lakes: dict[str, tuple[Lake, dict[str, Any]]], runs: int) -> Iterable[dict[str, object]]:
    """Time every query on every lake, interleaving the lakes run by run so that load from
    other processes hits them alike (the pruning ratio compares like with like)."""
    from kalshi_lake.sql.connection import connect

    # the synthetic lakes have no raw layer or 5m candles: connect's notes about that are noise
    sql_log = logging.getLogger("kalshi_lake.sql.connection")
    level = sql_log.level
    sql_log.setLevel(logging.ERROR)
    try:
        cons = {label: connect(lake) for label, (lake, _info) in lakes.items()}
    finally:
        sql_log.setLevel(level)
    try:
        threads = (
            next(iter(cons.values())).execute("SELECT current_setting('threads')").fetchall()[0][0]
        )
        for name, sql in _queries(_CITY, *_WINDOW).items():
            labels = [lb for lb in cons if not (name.endswith(("_view", "_in")) and lb != "")]
            cold: dict[str, float] = {}
            rows: dict[str, int] = {}
            warm: dict[str, list[float]] = {lb: [] for lb in labels}
            cpu: dict[str, list[float]] = {lb: [] for lb in labels}
            for lb in labels:
                cold[lb], _used, rows[lb] = _run_once(cons[lb], sql)
            for _ in range(runs):
                for lb in labels:
                    wall, used, _rows = _run_once(cons[lb], sql)
                    warm[lb].append(wall)
                    cpu[lb].append(used)
            for lb in labels:
                info = {
                    **lakes[lb][1],
                    "city": _CITY,
                    "event_days": (_WINDOW[1] - _WINDOW[0]).days + 1 if name != "quotes_at" else 1,
                    "threads": int(threads),
                }
                yield _figure(f"queries.{name}{lb}", cold[lb], warm[lb], cpu[lb], rows[lb], info)
            if ".small_lake" in labels:
                big, small = statistics.median(warm[""]), statistics.median(warm[".small_lake"])
                yield figure(
                    f"queries.pruning.{name}",
                    big / small,
                    "ratio",
                    large_lake_ms=round(big, 1),
                    small_lake_ms=round(small, 1),
                    large_lake=lakes[""][1]["lake"],
                    small_lake=lakes[".small_lake"][1]["lake"],
                )
    finally:
        for con in cons.values():
            con.close()


def _info(counts: dict[str, int], cities: int, days: int) -> dict[str, Any]:
    return {
        "lake": f"{cities} cities x {days} days, {counts['trades']} trades",
        "lake_cities": cities,
        "lake_days": days,
        "lake_trades": counts["trades"],
        "lake_candles_1m": counts["candles_1m"],
    }


def run(quick: bool) -> Iterable[dict[str, object]]:
    """Query latency of the backtest views; pruning shown by a small vs a large lake.

    Each figure's value is the median of warm runs in ms (min and the cold first run alongside).
    ``queries.pruning.*`` is large-lake time / small-lake time for the same one-city query:
    close to 1 means the query's cost does not grow with the cities and days in the lake.
    """
    two = [c for c in CITIES if c.name in (_CITY, "nyc")]
    if quick:
        params = {"cities": [*two, next(c for c in CITIES if c.name == "miami")], **_QUICK}
        lake, counts = cached_lake("quick", **params)
        yield from _bench({"": (lake, _info(counts, 3, _QUICK["days"]))}, runs=3)
        return
    small, small_counts = cached_lake("small", cities=two, **_SMALL)
    big, big_counts = cached_lake("full", cities=list(CITIES), **_FULL)
    yield from _bench(
        {
            "": (big, _info(big_counts, len(CITIES), _FULL["days"])),
            ".small_lake": (small, _info(small_counts, 2, _SMALL["days"])),
        },
        runs=11,
    )
