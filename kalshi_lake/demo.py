"""``make demo`` / ``kalshi-lake demo``: the whole pipeline offline, in about a minute.

Starts the bundled simulator on 127.0.0.1, backfills a few weeks of two cities from it into the
lake, transforms, validates, writes ``kalshi.duckdb``, prints a sample of ``event_ladder`` and
says how to open the lake from a notebook. The simulator's clock is frozen at :data:`DEMO_NOW`,
so the lake holds settled events, today's live event and tomorrow's freshly listed one.

The demo refuses a lake that already holds data it did not write (a real backfill must never
get simulated pages mixed in); it marks its own lakes with ``_state/demo.json`` and can be
re-run on them (the backfill resumes, the transform is incremental).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import shlex
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kalshi_lake.cities import get_city
from kalshi_lake.config import Settings
from kalshi_lake.errors import UsageError
from kalshi_lake.lake.state import DEMO_MARKER
from kalshi_lake.lake.storage import Lake

#: The simulator's frozen clock: 13:00 ET on 2026-11-21, so the 11-22 events are listed (since
#: 10:00 ET) and past their D-1 10:00 decision in New York and Chicago.
DEMO_NOW = dt.datetime(2026, 11, 21, 18, 0, tzinfo=dt.UTC)

#: The example notebook, where a clone has it (a wheel does not ship it).
EXAMPLE_NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "backtest.ipynb"


@dataclass
class DemoSummary:
    """What the demo did."""

    lake: str
    cities: list[str]
    start: dt.date
    end: dt.date
    requests: int = 0
    trades: int = 0
    checks_failed: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    report: str | None = None


def _guard(lake: Lake) -> None:
    """Refuse a lake with data the demo did not write."""
    if lake.exists(DEMO_MARKER):
        return
    if lake.has_files("raw") or lake.has_files("curated"):
        raise UsageError(
            f"{lake.url} already holds data that the demo did not write; "
            "run the demo on another lake, e.g. `kalshi-lake --lake demo-lake demo`"
        )


def notebook_hint(lake: Lake, city: str, first: dt.date, last: dt.date) -> str:
    """How to open the lake: Python, the CLI, and the DuckDB CLI and the example notebook where
    they are installed (never a tool that is not)."""
    where = lake.root if lake.is_local else lake.url
    exe = (
        "kalshi-lake"
        if shutil.which("kalshi-lake")
        else Path(sys.executable).parent / "kalshi-lake"
    )
    lines = [
        "Open the lake from Python (a notebook, a script):",
        "    import kalshi_lake",
        f"    con = kalshi_lake.connect({where!r})",
        f"    con.sql(\"SELECT * FROM event_ladder WHERE city = '{city}'\").pl()",
        f"    con.sql(\"SELECT * FROM decision_quotes_for('{city}', DATE '{first}', "
        f"DATE '{last}')\").pl()",
        f"or from the shell: {exe} --lake {shlex.quote(where)} sql "
        '"SELECT * FROM event_ladder LIMIT 12"',
    ]
    if shutil.which("duckdb"):
        lines.append(f"or the DuckDB CLI: duckdb {lake.path('kalshi.duckdb')}")
    if EXAMPLE_NOTEBOOK.is_file() and importlib.util.find_spec("jupyterlab") is not None:
        lines.append(
            f"and the example backtest: KALSHI_LAKE={shlex.quote(where)} "
            f"jupyter lab {EXAMPLE_NOTEBOOK}"
        )
    return "\n".join(lines)


def run_demo(
    settings: Settings,
    *,
    cities: Sequence[str] = ("chicago", "nyc"),
    days: int = 21,
    seed: int = 7,
    now: dt.datetime = DEMO_NOW,
    echo: Callable[[str], Any] = print,
) -> DemoSummary:
    """Simulator -> backfill -> transform -> validate -> sample query, all on ``settings.lake``."""
    from kalshi_lake.backfill import run_backfill
    from kalshi_lake.console import console as make_console
    from kalshi_lake.sim import SimConfig, SimServer
    from kalshi_lake.sql import access, checks
    from kalshi_lake.transform import run_transform

    if days < 1:
        raise UsageError(f"--days must be at least 1, got {days}")
    resolved = [get_city(c) for c in cities]
    lake = Lake.of(settings)
    _guard(lake)
    lake.write_bytes(
        json.dumps(
            {"seed": seed, "now": now.isoformat(), "cities": [c.name for c in resolved]}
        ).encode(),
        DEMO_MARKER,
    )
    end = now.date() + dt.timedelta(days=1)  # tomorrow's event is already listed
    start = end - dt.timedelta(days=days - 1)
    summary = DemoSummary(lake.url, [c.name for c in resolved], start, end)
    t0 = time.perf_counter()
    console = make_console()
    with SimServer(SimConfig(seed=seed, now=now)) as sim:
        echo(f"simulator at {sim.base_url} (seed {seed}, now {now.isoformat()})")
        # The simulator has no rate limit by default; a high client rate keeps the demo short.
        run_settings = settings.with_(
            api_url=sim.base_url, rate=1000.0, burst=1000.0, progress=False
        )
        for city in resolved:
            t = time.perf_counter()
            bs = run_backfill(run_settings, city, start, end)
            summary.requests += bs.requests
            summary.trades += bs.trades
            summary.timings[f"backfill {city.name}"] = time.perf_counter() - t
            echo(
                f"backfill {city.name} {start}..{end}: {bs.events} events, {bs.markets} markets, "
                f"{bs.trades} trades, {bs.candles} candles, {bs.requests} requests "
                f"in {bs.elapsed_s:.1f}s"
            )
    t = time.perf_counter()
    ts = run_transform(run_settings)
    summary.timings["transform"] = time.perf_counter() - t
    echo(ts.render())
    t = time.perf_counter()
    results = checks.run_checks(run_settings, as_of=now)
    summary.timings["validate"] = time.perf_counter() - t
    console.print(checks.render_table(results, title="validate", width=console.width))
    summary.checks_failed = [r.name for r in results if r.blocking]
    where, notes = access.write_views_db(run_settings)
    for note in notes:
        echo(f"note: {note}")
    echo(f"wrote {where}")
    sample_city = resolved[0].name
    sample_date = now.date() - dt.timedelta(days=1)  # yesterday: settled, with both instants
    # few columns, so the sample reads whole on an 80-column terminal
    res = access.run_sql(
        run_settings,
        "SELECT family, yes_sub_title, yes_bid, yes_ask, mid, is_winner FROM event_ladder_for("
        f"'{sample_city}', DATE '{sample_date}', DATE '{sample_date}') "
        "WHERE decision_label = 'D 10:00' ORDER BY family, bracket",
        max_rows=12,
    )
    title = f"event_ladder: {sample_city} {sample_date} at D 10:00"
    console.print(access.to_rich(res, title=title, width=console.width))
    t = time.perf_counter()
    # the last step: the lake at a glance, with the checks just run (as of the simulated now)
    from kalshi_lake.report import build_report, default_target, write_report

    summary.report = str(
        write_report(build_report(run_settings, checks=results, now=now), default_target(lake))
    )
    summary.timings["report"] = time.perf_counter() - t
    summary.elapsed_s = time.perf_counter() - t0
    echo(notebook_hint(lake, sample_city, start, sample_date))
    status = (
        "passed" if not summary.checks_failed else f"FAILED: {', '.join(summary.checks_failed)}"
    )
    echo(f"demo finished in {summary.elapsed_s:.1f}s; validation {status}")
    echo(f"report: {summary.report} (open it in a browser; it needs no network)")
    if summary.checks_failed:
        checks.raise_if_failed(results)
    return summary
