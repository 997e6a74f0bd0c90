"""What a backfill run did: the summary, its rendering, and the one-line "incomplete" message."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kalshi_lake.api.client import ClientStats
from kalshi_lake.backfill.context import Tally
from kalshi_lake.backfill.sink import SinkStats
from kalshi_lake.cities import family_for_ticker

#: The per-family counters of :attr:`BackfillSummary.by_family`, in display order.
FAMILY_COUNTERS = (
    "events",
    "events_done",
    "events_skipped",
    "markets",
    "requests",
    "trades",
    "candles",
    "trades_skipped",
    "failed",
)


@dataclass
class BackfillSummary:
    """What a backfill run did (also written to the run record)."""

    run_id: str
    city: str
    start: dt.date
    end: dt.date
    candle_window: str
    refresh: bool
    lake: str
    status: str = "ok"
    families: list[str] = field(default_factory=lambda: ["high"])
    events: int = 0
    events_skipped: int = 0
    events_done: int = 0
    markets: int = 0
    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    pages: int = 0
    files: int = 0
    bytes: int = 0
    trades: int = 0
    candles: int = 0
    by_tier: dict[str, dict[str, int]] = field(default_factory=dict)
    #: Per family (``high``, ``low``): :data:`FAMILY_COUNTERS`. ``requests`` counts the
    #: family's answered requests; the run's shared ones (the cutoff, ``GET /series``, a candle
    #: page shared by a day's high and low), its retries and 429s are in its totals only. ``failed``: failed units naming one of
    #: the family's tickers.
    by_family: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0
    requests_per_s: float = 0.0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        d = dict(self.__dict__)
        d["start"] = self.start.isoformat()
        d["end"] = self.end.isoformat()
        return d

    def render(self) -> str:
        """A short human-readable report."""
        lines = [
            f"backfill {self.city} {self.start}..{self.end} (run {self.run_id}): {self.status}",
            f"  events    {self.events} in range: {self.events_done} fetched, "
            f"{self.events_skipped} already complete; {self.markets} markets",
            f"  requests  {self.requests:,} ({self.requests_per_s:.1f}/s over {self.elapsed_s:.1f}s), "
            f"429s {self.rate_limited}, retries {self.retries}",
            f"  landed    {self.pages:,} pages in {self.files:,} files ({self.bytes / 1e6:.1f} MB): "
            f"{self.trades:,} trades, {self.candles:,} candles",
        ]
        for tier in ("live", "historical"):
            t = self.by_tier.get(tier)
            if t:
                lines.append(
                    f"  {tier:<10}{t.get('requests', 0):>7,} requests {t.get('pages', 0):>7,} pages "
                    f"{t.get('trades', 0):>9,} trades {t.get('candles', 0):>10,} candles"
                )
                if skipped := t.get("trades_skipped", 0):
                    lines.append(
                        f"  {'':<10}{skipped:>7,} trades walk(s) skipped: market closed with "
                        "volume 0"
                    )
        if len(self.by_family) > 1:
            for r in summary_rows(self):
                lines.append(
                    f"  {r.family:<10}{r.events:>7,} events ({r.events_done:,} fetched) "
                    f"{r.markets:>6,} markets {r.requests:>7,} requests {r.trades:>9,} trades "
                    f"{r.candles:>10,} candles" + (f", {r.failed:,} failed" if r.failed else "")
                )
        lines.extend(f"  note      {n}" for n in self.notes)
        if self.failures:
            lines.append(f"  FAILED    {len(self.failures)} unit(s) could not be fetched:")
            lines.extend(f"    - {f}" for f in self.failures[:20])
            if len(self.failures) > 20:
                lines.append(f"    ... and {len(self.failures) - 20} more (see the run record)")
            lines.append(
                "  to retry  run the same command again: finished units are skipped and "
                "unfinished walks resume from their last saved page"
            )
        return "\n".join(lines)

    def incomplete_message(self, failed_units: list[str]) -> str:
        """The one-line error of a run that ended with ``failed_units`` it could not fetch."""
        names = failed_units
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        first = self.failures[0].split(": ", 1)[-1]
        return (
            f"{len(names)} unit(s) of {self.city} {self.start}..{self.end} could not be "
            f"fetched: {shown} (first error: {first}). What was fetched is kept; "
            f"re-run the same command to fetch the rest (run record _state/runs/{self.run_id}.json)"
        )


def summarize(
    base: BackfillSummary,
    tally: Tally,
    client: ClientStats | None,
    sink: SinkStats | None,
    elapsed_s: float,
) -> BackfillSummary:
    """``base`` (the run's identity and status) filled in from its counters."""
    by_tier: dict[str, dict[str, int]] = {}
    for tier, c in tally.tier_counts.items():
        reqs = client.by_tier.get(tier, 0) if client else 0
        if reqs or c:
            by_tier[tier] = {"requests": reqs, **{k: int(v) for k, v in c.items()}}
    base.events = tally.events_total or 0
    base.events_skipped = tally.events_skipped
    base.events_done = tally.events_done
    base.markets = tally.markets_seen
    base.requests = client.sent if client else 0
    base.rate_limited = client.rate_limited if client else 0
    base.retries = client.retries if client else 0
    base.pages = sink.pages if sink else 0
    base.files = sink.files if sink else 0
    base.bytes = sink.bytes if sink else 0
    base.trades = sum(c["trades"] for c in tally.tier_counts.values())
    base.candles = sum(c["candles"] for c in tally.tier_counts.values())
    base.by_tier = by_tier
    base.by_family = family_counts(base.families, tally)
    base.failures = list(tally.failures)
    base.elapsed_s = round(elapsed_s, 3)
    base.requests_per_s = round(client.rate(), 3) if client else 0.0
    base.notes = list(tally.notes)
    return base


def family_counts(families: list[str], tally: Tally) -> dict[str, dict[str, int]]:
    """:data:`FAMILY_COUNTERS` per family of ``families`` from the run's counters."""
    out: dict[str, dict[str, int]] = {}
    for family in families:
        c: Mapping[str, int] = tally.family_counts.get(family) or {}
        todo = sum(n for s, n in tally.events_todo.items() if family_for_ticker(s) == family)
        row = {k: int(c.get(k, 0)) for k in FAMILY_COUNTERS}
        row["events"] = todo + row["events_skipped"]
        row["requests"] = int(c.get("pages", 0))
        row["failed"] = sum(1 for u in tally.failed_units if unit_family(u) == family)
        out[family] = row
    return out


def unit_family(unit: str) -> str | None:
    """The family of the first registered ticker a failed unit's name mentions (``trades
    KXLOWTCHI-26NOV01-B40.5`` -> ``low``); None for one that names none (``the run``)."""
    for word in unit.split():
        if "-" in word or word.isupper():
            family = family_for_ticker(word)
            if family is not None:
                return family
    return None


@dataclass(frozen=True)
class SummaryRow:
    """One row of a several-city summary table: a city and family's figures."""

    city: str
    family: str
    status: str
    start: dt.date
    end: dt.date
    events: int
    events_done: int
    events_skipped: int
    markets: int
    requests: int
    trades: int
    candles: int
    failed: int


def summary_rows(s: BackfillSummary) -> list[SummaryRow]:
    """The table rows of one city's run: one per family it fetched (:attr:`by_family`).

    A summary without per-family counters (a run record written before they existed) gives one
    row with the run's totals, naming its families.
    """
    if not s.by_family:
        return [
            SummaryRow(
                city=s.city,
                family=",".join(s.families),
                status=s.status,
                start=s.start,
                end=s.end,
                events=s.events,
                events_done=s.events_done,
                events_skipped=s.events_skipped,
                markets=s.markets,
                requests=s.requests,
                trades=s.trades,
                candles=s.candles,
                failed=len(s.failures),
            )
        ]
    # A failure naming no family's ticker (the run's own) leaves every family incomplete.
    shared = any(unit_family(f.split(": ", 1)[0]) is None for f in s.failures)
    rows = []
    for family, c in s.by_family.items():
        status = s.status
        if status == "incomplete" and not c.get("failed") and not shared:
            status = "ok"  # only another family's units are missing
        rows.append(
            SummaryRow(
                city=s.city,
                family=family,
                status=status,
                start=s.start,
                end=s.end,
                events=c.get("events", 0),
                events_done=c.get("events_done", 0),
                events_skipped=c.get("events_skipped", 0),
                markets=c.get("markets", 0),
                requests=c.get("requests", 0),
                trades=c.get("trades", 0),
                candles=c.get("candles", 0),
                failed=c.get("failed", 0),
            )
        )
    return rows


@dataclass
class CitiesSummary:
    """What a backfill of several cities over one client did: a :class:`BackfillSummary` per
    city that ran, the cities that did not (and why), and the shared client's totals."""

    cities: list[str]
    lake: str
    #: Each city's run, in the order asked (its run record holds the same summary).
    runs: list[BackfillSummary] = field(default_factory=list)
    #: Cities that did not run: city -> why (its lease held by another worker, no events).
    skipped: dict[str, str] = field(default_factory=dict)
    #: Cities whose lease another worker holds (also in ``skipped``).
    locked: list[str] = field(default_factory=list)
    #: Cities whose run failed before it had a summary: city -> the error.
    errors: dict[str, str] = field(default_factory=dict)
    status: str = "ok"
    requests: int = 0
    rate_limited: int = 0
    retries: int = 0
    elapsed_s: float = 0.0
    requests_per_s: float = 0.0
    #: Notes about the whole run (the registry compared with ``GET /series``).
    notes: list[str] = field(default_factory=list)

    @property
    def incomplete(self) -> list[BackfillSummary]:
        """The runs that ended with units they could not fetch."""
        return [r for r in self.runs if r.failures]

    def complete_cities(self) -> list[str]:
        """Cities whose run fetched everything in its range."""
        return [r.city for r in self.runs if r.status == "ok" and not r.failures]

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        d = dict(self.__dict__)
        d["runs"] = [r.as_dict() for r in self.runs]
        return d

    def render(self) -> str:
        """A table with a row per city (and family), then totals, notes and what failed."""
        lines = [
            f"backfill {len(self.cities)} cities ({', '.join(self.cities)}): {self.status}",
            f"  {'city':<14}{'family':<8}{'range':<24}{'status':<12}{'events':>7}{'fetched':>9}"
            f"{'markets':>9}{'requests':>10}{'trades':>10}{'candles':>11}{'failed':>8}",
        ]
        for run in self.runs:
            for r in summary_rows(run):
                lines.append(
                    f"  {r.city:<14}{r.family:<8}{f'{r.start}..{r.end}':<24}{r.status:<12}"
                    f"{r.events:>7,}{r.events_done:>9,}{r.markets:>9,}{r.requests:>10,}"
                    f"{r.trades:>10,}{r.candles:>11,}{r.failed:>8,}"
                )
        for city, why in self.skipped.items():
            lines.append(f"  {city:<14}{'':<8}{'':<24}{'skipped':<12}{why}")
        for city, err in self.errors.items():
            lines.append(f"  {city:<14}{'':<8}{'':<24}{'failed':<12}{err}")
        lines.append(
            f"  requests  {self.requests:,} in all ({self.requests_per_s:.1f}/s over "
            f"{self.elapsed_s:.1f}s, one limiter for every city), 429s {self.rate_limited}, "
            f"retries {self.retries}"
        )
        lines.extend(f"  note      {n}" for n in self.notes)
        for run in self.runs:
            lines.extend(f"  note      {run.city}: {n}" for n in run.notes)
        failed = self.incomplete
        if failed or self.errors:
            units = sum(len(r.failures) for r in failed)
            lines.append(
                f"  FAILED    {units} unit(s) of {len(failed) + len(self.errors)} city(ies) "
                "could not be fetched:"
            )
            shown = 0
            for run in failed:
                for f in run.failures:
                    if shown < 20:
                        lines.append(f"    - {run.city}: {f}")
                    shown += 1
            if shown > 20:
                lines.append(f"    ... and {shown - 20} more (see each city's run record)")
            lines.append(
                "  to retry  run the same command again: finished units are skipped and "
                "unfinished walks resume from their last saved page"
            )
        return "\n".join(lines)

    def missing_message(self) -> str:
        """The one-line error of a run that left some cities' units unfetched."""
        parts = []
        for run in self.incomplete:
            names = run.failures and [f.split(": ", 1)[0] for f in run.failures]
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            parts.append(f"{run.city} ({len(names)} unit(s): {shown})")
        parts.extend(f"{city} ({err})" for city, err in self.errors.items())
        done = self.complete_cities()
        return (
            f"{len(parts)} of {len(self.cities)} cities are incomplete: {'; '.join(parts)}. "
            + (f"Complete: {', '.join(done)}. " if done else "")
            + "What was fetched is kept; re-run the same command to fetch the rest"
            + (self.locked_note() if self.locked else "")
        )

    def locked_note(self) -> str:
        """Names the cities skipped because another worker holds their lease."""
        return (
            f"; skipped (another worker holds their lease): {', '.join(self.locked)}"
            if self.locked
            else ""
        )
