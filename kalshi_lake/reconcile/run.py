"""Fetch Kalshi's public daily reports for a range, then summarise the reconciliation per city.

The daily reports (https://docs.kalshi.com, "market_data" and "trade_data" files of the public
``kalshi-public-docs`` bucket) are read and stored by the daily-report reader
(``kalshi_lake.lake.daily_reports.fetch_daily_reports``: the rows of the lake's series, with
their provenance, under ``raw/daily_reports``). The comparison is the SQL of
``queries/views/reconciliation_in.sql``; this module only reads its rows for the range asked and
counts them: report days compared and pending, and the market days flagged at error level
(trades the report has and the lake lacks) and at warn level (any other difference).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kalshi_lake.cities import City, check_family
from kalshi_lake.config import Settings
from kalshi_lake.errors import BadDateError, ValidationFailed

#: How many flagged market days a summary names per city (all are in the `reconciliation` view).
FLAGGED_SHOWN = 20


class FetchSummary(Protocol):
    """What the daily-report reader returns: it can say what it did in one line."""

    def render(self) -> str:
        """One line for people."""
        ...


class FetchReports(Protocol):
    """The daily-report reader's entry point."""

    def __call__(
        self,
        settings: Settings,
        cities: Sequence[str],
        start: dt.date,
        end: dt.date,
        families: Sequence[str] | None = None,
    ) -> FetchSummary:
        """Fetch the reports of New York days ``start..end`` for ``cities`` into the raw layer."""
        ...


def daily_report_fetcher() -> FetchReports:
    """The daily-report reader, :func:`kalshi_lake.lake.daily_reports.fetch_daily_reports`
    (imported when a reconciliation runs: s3fs and the reader load only for ``reconcile``)."""
    from kalshi_lake.lake.daily_reports import fetch_daily_reports

    return fetch_daily_reports


@dataclass(frozen=True)
class FlaggedDay:
    """One market and New York day the reconciliation flagged."""

    market_ticker: str
    report_date: dt.date
    family: str
    flag: str  # 'error' | 'warn'
    differences: tuple[str, ...]


@dataclass(frozen=True)
class CityReconciliation:
    """One city's reconciliation over the range."""

    city: str
    days_compared: int
    days_pending: int
    pending: tuple[dt.date, ...]
    markets_flagged_error: int
    markets_flagged_warn: int
    flagged: tuple[FlaggedDay, ...] = ()  # the first FLAGGED_SHOWN, errors first

    def render(self) -> str:
        """One line per city, then one per flagged market day shown."""
        lines = [
            f"{self.city}: {self.days_compared} days compared, {self.days_pending} pending"
            + (f" ({', '.join(d.isoformat() for d in self.pending)})" if self.pending else "")
            + f"; markets flagged: {self.markets_flagged_error} error, "
            f"{self.markets_flagged_warn} warn"
        ]
        lines += [
            f"  {f.flag:<5} {f.market_ticker} {f.report_date}: {', '.join(f.differences)}"
            for f in self.flagged
        ]
        return "\n".join(lines)


@dataclass(frozen=True)
class ReconcileSummary:
    """What ``reconcile`` found: the fetch, then per city the comparison."""

    start: dt.date
    end: dt.date
    fetch: str  # the reader's one line
    cities: tuple[CityReconciliation, ...] = field(default_factory=tuple)

    @property
    def errors(self) -> int:
        """Markets flagged at error level (trades the report has and the lake lacks)."""
        return sum(c.markets_flagged_error for c in self.cities)

    def render(self) -> str:
        """The fetch line, then each city's lines."""
        return "\n".join([self.fetch, *(c.render() for c in self.cities)])

    def as_dict(self) -> dict[str, Any]:
        """The JSON-able form."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "fetch": self.fetch,
            "cities": [
                {
                    "city": c.city,
                    "days_compared": c.days_compared,
                    "days_pending": c.days_pending,
                    "pending": [d.isoformat() for d in c.pending],
                    "markets_flagged_error": c.markets_flagged_error,
                    "markets_flagged_warn": c.markets_flagged_warn,
                    "flagged": [
                        {
                            "market_ticker": f.market_ticker,
                            "report_date": f.report_date.isoformat(),
                            "family": f.family,
                            "flag": f.flag,
                            "differences": list(f.differences),
                        }
                        for f in c.flagged
                    ],
                }
                for c in self.cities
            ],
        }


def _city_reconciliation(
    con: Any, city: str, start: dt.date, end: dt.date, families: Sequence[str] | None
) -> CityReconciliation:
    fams = list(families) if families else None
    base = (
        "FROM reconciliation_in($city, $start, $end) AS r "
        "WHERE ($families IS NULL OR list_contains($families, r.family))"
    )
    params = {"city": city, "start": start, "end": end, "families": fams}
    [(compared, pending, errors, warns)] = con.execute(
        f"""
        SELECT
            count(DISTINCT r.report_date) FILTER (WHERE r.status <> 'pending'),
            count(DISTINCT r.report_date) FILTER (WHERE r.status = 'pending'),
            count(DISTINCT r.market_ticker) FILTER (WHERE r.flag = 'error'),
            count(DISTINCT r.market_ticker) FILTER (WHERE r.flag = 'warn')
        {base}
        """,
        params,
    ).fetchall()
    pending_days = con.execute(
        f"SELECT DISTINCT r.report_date {base} AND r.status = 'pending' ORDER BY 1", params
    ).fetchall()
    flagged = con.execute(
        f"""
        SELECT r.market_ticker, r.report_date, r.family, r.flag, r.differences
        {base} AND r.flag IS NOT NULL
        ORDER BY r.flag = 'warn', r.report_date, r.market_ticker
        LIMIT {FLAGGED_SHOWN}
        """,
        params,
    ).fetchall()
    return CityReconciliation(
        city=city,
        days_compared=int(compared),
        days_pending=int(pending),
        pending=tuple(d for (d,) in pending_days),
        markets_flagged_error=int(errors),
        markets_flagged_warn=int(warns),
        flagged=tuple(FlaggedDay(t, d, fam, fl, tuple(diffs)) for t, d, fam, fl, diffs in flagged),
    )


def reconcile_summary(
    settings: Settings,
    cities: Sequence[City],
    start: dt.date,
    end: dt.date,
    families: Sequence[str] | None = None,
    *,
    fetch_line: str = "",
) -> ReconcileSummary:
    """The reconciliation of ``cities`` over New York report days ``start..end`` as it stands
    in the lake (no fetching): per city, days compared and pending, markets flagged."""
    from kalshi_lake.sql.connection import connect

    con = connect(settings)
    try:
        per_city = tuple(_city_reconciliation(con, c.name, start, end, families) for c in cities)
    finally:
        con.close()
    return ReconcileSummary(start, end, fetch_line, per_city)


def run_reconcile(
    settings: Settings,
    cities: Sequence[City],
    start: dt.date,
    end: dt.date,
    families: Sequence[str] | None = None,
    *,
    fetch: FetchReports | None = None,
) -> ReconcileSummary:
    """Fetch the daily reports of New York days ``start..end`` for ``cities`` (``fetch``:
    the daily-report reader by default), then reconcile them with the lake.

    Raises :class:`ValidationFailed` (exit 1), carrying the summary in ``summary``, when a
    market has trades the report has and the lake lacks; warn-level differences and pending
    days do not fail.
    """
    if end < start:
        raise BadDateError(f"--start {start} is after --end {end}")
    for fam in families or ():
        check_family(fam)
    reader = fetch or daily_report_fetcher()
    fetched = reader(settings, [c.name for c in cities], start, end, families)
    summary = reconcile_summary(settings, cities, start, end, families, fetch_line=fetched.render())
    if summary.errors:
        raise ReconcileFailed(summary)
    return summary


class ReconcileFailed(ValidationFailed):
    """Some market has trades the daily report lists and the lake lacks (exit 1)."""

    def __init__(self, summary: ReconcileSummary) -> None:
        super().__init__(
            f"{summary.errors} market(s) have trades the daily report lists and the lake "
            "lacks (check reconcile_trade_missing_from_lake); `kalshi-lake backfill` over "
            "their dates fetches them again"
        )
        self.summary = summary
