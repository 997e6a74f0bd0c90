"""``kalshi-lake report``: what the lake holds and where its holes are, as one HTML file.

:func:`build_report` gathers each section from the lake (coverage cells, the ``status`` rows
with tier split and backfill runs, the check results, the reconciliation summary (empty until
``reconcile`` has run), the followers' freshness) and :func:`write_report` writes the page
(:mod:`kalshi_lake.report.page`) to a local file. One DuckDB connection serves every query.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from kalshi_lake.config import Settings
from kalshi_lake.lake.saved_checks import (
    clock_checks,
    current_checks,
    lake_fingerprint,
    load_checks,
    save_checks,
)
from kalshi_lake.lake.state import read_run_records
from kalshi_lake.lake.storage import Lake
from kalshi_lake.report import charts, page
from kalshi_lake.report.coverage import STATUSES, Cell, coverage_cells
from kalshi_lake.sql.access import query_error
from kalshi_lake.sql.checks import CheckResult, run_checks
from kalshi_lake.sql.connection import connect
from kalshi_lake.sql.live_status import live_status
from kalshi_lake.sql.sqlfiles import sql_literal

#: The view the reconciliation section reads (queries/views, filled by `kalshi-lake reconcile`).
RECONCILIATION_VIEW = "reconciliation_summary"
RECONCILIATION_COLUMNS = (
    "city",
    "month",
    "family",
    "days_compared",
    "days_pending",
    "markets_flagged_error",
    "markets_flagged_warn",
)


@dataclass(frozen=True)
class ChecksSource:
    """Where the report's check results came from, said on the page.

    ``how``: ``saved`` (saved results, the lake unchanged since they ran), ``run`` (run for
    this report, then saved: ``why`` says why the saved ones were not used) or ``given`` (the
    caller's, e.g. the demo's validate just before).
    """

    how: str
    ran_at: dt.datetime | None = None
    saved_by: str | None = None
    why: str = ""

    def describe(self) -> str:
        """One sentence for the page."""
        at = f"{self.ran_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC" if self.ran_at else ""
        if self.how == "saved":
            by = "kalshi-lake validate" if self.saved_by == "validate" else "an earlier report"
            return (
                f"Saved by {by} at {at}; the lake has not changed since, so the checks were "
                "not run again."
            )
        if self.how == "run":
            return f"Run for this report at {at} ({self.why}); saved for the next report."
        return "Results of the validate run just before this report."


@dataclass
class ReportData:
    """Everything the page shows."""

    lake: str
    generated_at: dt.datetime
    cities: list[str] | None
    cells: list[Cell]
    status: list[dict[str, Any]]
    tiers: dict[tuple[str, str], dict[str, int]]
    runs: dict[str, dict[str, Any]]
    checks: list[CheckResult] | None
    reconciliation: list[dict[str, Any]]
    live: list[dict[str, Any]]
    timings: dict[str, float] = field(default_factory=dict)
    checks_source: ChecksSource | None = None

    def counts(self) -> dict[str, int]:
        """Cells per status (every status, zero included)."""
        c = collections.Counter(cell.status for cell in self.cells)
        return {s: c.get(s, 0) for s in STATUSES}


def _timed(timings: dict[str, float], name: str, t0: float) -> float:
    now = time.perf_counter()
    timings[name] = round(now - t0, 3)
    return now


def _tiers(
    con: duckdb.DuckDBPyConnection, cities: Sequence[str] | None
) -> dict[tuple[str, str], dict[str, int]]:
    where = f"WHERE m.city IN ({', '.join(sql_literal(c) for c in cities)})" if cities else ""
    rows = con.execute(
        f"SELECT m.city, m.family, m.tier, count(*) FROM markets AS m {where} GROUP BY ALL"
    ).fetchall()
    out: dict[tuple[str, str], dict[str, int]] = collections.defaultdict(dict)
    for city, family, tier, n in rows:
        out[(city, family)][str(tier)] = int(n)
    return dict(out)


def _runs(lake: Lake, cities: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    """Per city: how many backfill runs (by status) and the latest one."""
    out: dict[str, dict[str, Any]] = {}
    for rec in read_run_records(lake):
        city = rec.get("city")
        if not isinstance(city, str) or (cities is not None and city not in cities):
            continue
        if rec.get("command", "backfill") != "backfill":
            continue
        row = out.setdefault(city, {"runs": 0, "by_status": collections.Counter(), "last": None})
        row["runs"] += 1
        row["by_status"][str(rec.get("status", "?"))] += 1
        if str(rec.get("started_at", "")) >= str((row["last"] or {}).get("started_at", "")):
            row["last"] = rec
    return out


def city_rows(cells: Sequence[Cell]) -> list[dict[str, Any]]:
    """Per city and family, from its cells: the fetched span, days by status, markets, trades,
    api candles and the last fetch (the same counts ``status`` gives, read once for both)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for c in cells:
        r = rows.setdefault(
            (c.city, c.family),
            {
                "city": c.city,
                "family": c.family,
                "first_date": None,
                "last_date": None,
                **{s: 0 for s in STATUSES},
                "markets": 0,
                "trades": 0,
                "api_candles_1m": 0,
                "last_fetch": None,
            },
        )
        r[c.status] += 1
        r["markets"] += c.markets
        r["trades"] += c.trades
        r["api_candles_1m"] += c.api_candles
        if c.status in ("complete", "partial"):
            r["first_date"] = min(r["first_date"] or c.date, c.date)
            r["last_date"] = max(r["last_date"] or c.date, c.date)
        if c.last_fetch is not None and (r["last_fetch"] is None or c.last_fetch > r["last_fetch"]):
            r["last_fetch"] = c.last_fetch
    return [rows[k] for k in sorted(rows, key=lambda k: (k[0], k[1] != "high", k[1]))]


def _reconciliation(
    con: duckdb.DuckDBPyConnection, cities: Sequence[str] | None
) -> list[dict[str, Any]]:
    """The ``reconciliation_summary`` rows (none on a lake never reconciled)."""
    rel = con.sql(f"SELECT * FROM {RECONCILIATION_VIEW}")
    if cities:
        rel = rel.filter(f"city IN ({', '.join(sql_literal(c) for c in cities)})")
    cols = rel.columns
    return [dict(zip(cols, r, strict=True)) for r in rel.order("ALL").fetchall()]


def _report_checks(
    lk: Lake,
    con: duckdb.DuckDBPyConnection,
    names: list[str] | None,
    now: dt.datetime,
) -> tuple[list[CheckResult], ChecksSource]:
    """The saved check results when the lake is as they saw it; else run every check (as
    ``validate`` does) and save them for the next report."""
    fingerprint = lake_fingerprint(lk)
    saved = current_checks(lk, names, fingerprint)
    if saved is not None:
        # the lake is as they saw it, but a check that reads the clock may answer otherwise now
        again = clock_checks()
        fresh = {r.name: r for r in run_checks(con, cities=names, only=again)} if again else {}
        results = [fresh.get(r.name, r) for r in saved.results]
        return results, ChecksSource("saved", saved.ran_at, saved.saved_by)
    older = load_checks(lk, names)
    why = (
        "no saved results"
        if older is None
        else f"the lake changed since the saved results of "
        f"{older.ran_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC"
    )
    results = run_checks(con, cities=names)
    save_checks(lk, results, cities=names, fingerprint=fingerprint, ran_at=now, saved_by="report")
    return results, ChecksSource("run", now, "report", why)


def build_report(
    lake: str | Lake | Settings,
    cities: Sequence[str] | None = None,
    *,
    checks: bool | Sequence[CheckResult] = True,
    now: dt.datetime | None = None,
) -> ReportData:
    """Gather every section of the report of ``lake`` (``cities``: canonical names, None = all).

    ``checks``: True shows the results ``validate`` saved in the lake when the lake has not
    changed since (:mod:`kalshi_lake.lake.saved_checks`), else runs every check (as
    ``validate`` does) and saves them; results already at hand (the demo's) are used as they
    are; False leaves the section out.
    """
    lk = Lake.of(lake)
    now = now or dt.datetime.now(dt.UTC)
    names = list(cities) if cities else None
    timings: dict[str, float] = {}
    t = time.perf_counter()
    con = connect(lk)
    try:
        t = _timed(timings, "connect", t)
        try:
            cells = coverage_cells(con, names, now=now)
            t = _timed(timings, "coverage", t)
            tiers = _tiers(con, names)
            recon = _reconciliation(con, names)
        except duckdb.Error as exc:
            raise query_error(exc, "report") from None
        t = _timed(timings, "tables", t)
        source: ChecksSource | None = None
        results: list[CheckResult] | None = None
        if checks is True:
            results, source = _report_checks(lk, con, names, now)
        elif checks is not False:
            results, source = list(checks), ChecksSource("given")
        t = _timed(timings, "checks", t)
    finally:
        con.close()
    status = city_rows(cells)
    runs = _runs(lk, names)
    t = _timed(timings, "status", t)
    live = live_status(lk, names, now=now)
    _timed(timings, "live", t)
    return ReportData(
        lake=lk.uri(),
        generated_at=now,
        cities=names,
        cells=cells,
        status=status,
        tiers=tiers,
        runs=runs,
        checks=results,
        reconciliation=recon,
        live=live,
        timings=timings,
        checks_source=source,
    )


# --- the page ----------------------------------------------------------------------------------


def _ranges(dates: Sequence[dt.date]) -> str:
    """``2026-10-30, 2026-11-02..2026-11-04``: consecutive dates as ranges."""
    out: list[str] = []
    run: list[dt.date] = []
    for d in sorted(dates):
        if run and d == run[-1] + dt.timedelta(days=1):
            run.append(d)
            continue
        if run:
            out.append(_span(run))
        run = [d]
    if run:
        out.append(_span(run))
    return ", ".join(out)


def _span(run: Sequence[dt.date]) -> str:
    return run[0].isoformat() if len(run) == 1 else f"{run[0]}..{run[-1]}"


def _coverage_section(data: ReportData) -> str:
    if not data.cells:
        return '<p class="none">The lake holds no events yet: run a backfill.</p>'
    counts = data.counts()
    summary = ", ".join(f"{n:,} {s}" for s, n in counts.items())
    holes: dict[tuple[str, str, str], list[dt.date]] = collections.defaultdict(list)
    for c in data.cells:
        if c.status in ("missing", "partial"):
            holes[(c.city, c.family, c.status)].append(c.date)
    hole_rows = [
        (city, family, status, len(ds), _ranges(ds))
        for (city, family, status), ds in sorted(holes.items())
    ]
    parts = [
        "<p>One cell per city, market family and event date: <b>complete</b> (trades and "
        "candles fetched, api quotes at both decision instants), <b>partial</b> (some of it), "
        "<b>missing</b> (nothing fetched), <b>not listed</b> (no event yet, or before the "
        f"series began). Events: {esc_text(summary)}.</p>",
        page.chart_div("coverage-chart", charts.coverage_spec(data.cells)),
        page.data_island(
            "coverage-data",
            [
                {"city": c.city, "family": c.family, "date": c.date.isoformat(), "status": c.status}
                for c in data.cells
            ],
        ),
    ]
    if hole_rows:
        parts.append("<h3>Holes</h3>")
        parts.append(
            page.table(
                ["city", "family", "status", "days", "dates"],
                hole_rows,
                classes=["", "", "status"],
            )
        )
    else:
        parts.append('<p class="ok">No missing or partial event in the span.</p>')
    return "".join(parts)


def esc_text(text: str) -> str:
    """``text`` escaped for HTML."""
    return page.esc(text)


def _cities_section(data: ReportData) -> str:
    if not data.status:
        return '<p class="none">No city in the lake.</p>'
    rows = []
    for r in data.status:
        tiers = data.tiers.get((r["city"], r["family"]), {})
        run = data.runs.get(r["city"])
        runs = (
            f"{run['runs']} ("
            + ", ".join(f"{n} {s}" for s, n in sorted(run["by_status"].items()))
            + ")"
            if run
            else "none"
        )
        last = run["last"] if run else None
        rows.append(
            (
                r["city"],
                r["family"],
                f"{r['first_date']}..{r['last_date']}" if r["first_date"] else "",
                r["complete"],
                r["partial"],
                r["missing"],
                r["markets"],
                r["trades"],
                r["api_candles_1m"],
                r["last_fetch"],
                ", ".join(f"{n:,} {t}" for t, n in sorted(tiers.items())),
                runs,
                f"{last.get('status', '?')} {last.get('finished_at') or last.get('started_at')}"
                if last
                else "",
            )
        )
    cols = [
        "city",
        "family",
        "dates fetched",
        "complete",
        "partial",
        "missing",
        "markets",
        "trades",
        "api candles 1m",
        "last fetch",
        "tier split (markets)",
        "backfill runs",
        "last run",
    ]
    return page.table(cols, rows)


def _checks_section(data: ReportData) -> str:
    if data.checks is None:
        return '<p class="none">Checks not run for this report (<code>--no-checks</code>).</p>'
    order = {"ERROR": 0, "FAIL": 1, "warn": 2, "ok": 3}
    rows = [
        (
            r.name,
            r.level,
            r.status,
            r.offending,
            r.error or (json.dumps(r.to_dict()["sample"][:1], default=str) if r.sample else ""),
            r.description,
        )
        for r in sorted(data.checks, key=lambda r: (order.get(r.status, 9), r.name))
    ]
    failing = sum(1 for r in data.checks if not r.passed)
    head = f"<p>{len(data.checks)} checks, {failing} with findings.</p>"
    if data.checks_source is not None:
        head += f'<p class="checks-source">{page.esc(data.checks_source.describe())}</p>'
    return head + page.table(
        ["check", "level", "status", "offending rows", "sample", "invariant"],
        rows,
        classes=["", "", "status", "", "sample"],
    )


def _reconciliation_section(data: ReportData) -> str:
    if not data.reconciliation:
        return (
            '<p class="none">Not reconciled yet: <code>kalshi-lake reconcile --city NAME</code> '
            "compares the lake with Kalshi's public daily reports.</p>"
        )
    rows = [tuple(r.get(c) for c in RECONCILIATION_COLUMNS) for r in data.reconciliation]
    return page.table(list(RECONCILIATION_COLUMNS), rows)


def _live_section(data: ReportData) -> str:
    if not data.live:
        return '<p class="none">No follower: <code>kalshi-lake follow</code> has not run on this lake.</p>'
    rows = [
        (
            r["city"],
            r["family"],
            r["mode"],
            "stopped" if r["stopped"] else ("alive" if r["alive"] else "dead"),
            r["lag_s"],
            len(r["markets"]),
            r["gaps_24h"],
            r["resyncs_24h"],
            r["disconnects_24h"],
            r["connected_since"],
            r["heartbeat_at"],
        )
        for r in data.live
    ]
    cols = [
        "city",
        "family",
        "mode",
        "state",
        "lag (s)",
        "markets",
        "gaps 24h",
        "resyncs 24h",
        "disconnects 24h",
        "connected since",
        "heartbeat",
    ]
    return page.table(cols, rows)


def render_report(data: ReportData) -> str:
    """The page of ``data``: one self-contained HTML document."""
    scope = ", ".join(data.cities) if data.cities else "every city"
    meta = page.esc(
        f"{data.lake} · {scope} · generated {data.generated_at.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"
    )
    return page.document(
        "kalshi-lake report",
        meta,
        [
            ("coverage", "Coverage", _coverage_section(data)),
            ("cities", "Cities", _cities_section(data)),
            ("checks", "Checks", _checks_section(data)),
            ("reconciliation", "Reconciliation", _reconciliation_section(data)),
            ("live", "Live", _live_section(data)),
        ],
    )


#: The file `report` writes by default, in the lake's folder (or the current one for S3).
REPORT_FILE = "report.html"


def default_target(lake: str | Lake | Settings) -> str:
    """Where the report goes without ``--out``: ``<lake>/report.html`` for a local lake,
    ``./report.html`` for one on S3 (the page is opened from a local disk)."""
    lk = Lake.of(lake)
    return lk.path(REPORT_FILE) if lk.is_local else REPORT_FILE


def write_report(data: ReportData, out: str | os.PathLike[str]) -> Path:
    """Write the page of ``data`` to the local file ``out`` (whole or not at all); its path."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        tmp.write_text(render_report(data), encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
