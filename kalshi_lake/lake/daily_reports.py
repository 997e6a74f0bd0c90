"""Kalshi's public daily reports in the raw layer: the kept rows of the lake's series, verbatim.

Layout (README "The lake")::

    raw/daily_reports/city=<city>/date=<report day>/<kind>.<etag8>.<family>.parquet

One file per report file fetched (``kind`` ``market_data`` or ``trade_data``, ``etag8`` the
first 8 hex digits of its ETag), city and family, holding the rows whose ``report_ticker`` is
that city's series of that family (its legacy prefix included), in :data:`DAILY_REPORT_SCHEMA`:
provenance (source key, ETag, fetch time, the row's position in the file's array) and the row's
JSON bytes as published. A fetch that keeps no row still writes its (empty) file: it records
that the day was published and read. ``city`` and ``date`` (the New York report day) are Hive
keys from the path. A report rewritten later has a new ETag and gets a new file beside the old
one; readers compare with the newest ``fetched_at`` of each (city, date, kind, family).

A file a fetch asked for and found not published yet leaves an empty marker,
``unpublished.<kind>.<family>.parquet``, in the same folder: a day is *pending* when a
reconcile asked for it and its ``market_data`` file of the family is not stored (the markers
stay after the file is published; the stored file then decides). Days nobody asked for are
not pending, so the reconciliation views read only the days asked.

:func:`fetch_daily_reports` fills it from a :class:`~kalshi_lake.api.daily_reports.ReportSource`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from kalshi_lake.api.daily_reports import (
    KINDS,
    FilterStats,
    ReportChanged,
    ReportFile,
    ReportRow,
    ReportSource,
    filter_rows,
)
from kalshi_lake.cities import City, check_family, get_city
from kalshi_lake.config import Settings
from kalshi_lake.errors import ApiUnreachableError, BadDateError, KalshiLakeError
from kalshi_lake.lake.storage import Lake

#: The folder under ``raw/`` (not an endpoint: its own schema, never listed with the pages).
DAILY_REPORTS_FOLDER = "daily_reports"

DAILY_REPORT_SCHEMA = pa.schema(
    [
        pa.field("kind", pa.string(), nullable=False),
        pa.field("report_date", pa.date32(), nullable=False),
        pa.field("source_key", pa.string(), nullable=False),
        pa.field("etag", pa.string(), nullable=False),
        pa.field("fetched_at", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("row_no", pa.int64(), nullable=False),
        pa.field("ticker_name", pa.string(), nullable=False),
        pa.field("report_ticker", pa.string(), nullable=False),
        pa.field("family", pa.string(), nullable=False),
        pa.field("body", pa.large_string(), nullable=False),
    ]
)


def report_partition_dir(city: str, day: dt.date) -> str:
    """``raw/daily_reports/city=<city>/date=<YYYY-MM-DD>`` relative to the lake root."""
    return f"raw/{DAILY_REPORTS_FOLDER}/city={city}/date={day.isoformat()}"


def report_file_name(kind: str, etag8: str, family: str) -> str:
    """``trade_data.0a1b2c3d.high.parquet``."""
    return f"{kind}.{etag8}.{family}.parquet"


def unpublished_file_name(kind: str, family: str) -> str:
    """``unpublished.market_data.high.parquet``: the marker of a file found not published."""
    return f"unpublished.{kind}.{family}.parquet"


def mark_unpublished(lake: Lake, city: str, day: dt.date, kind: str, family: str) -> str:
    """Record that ``kind`` of report day ``day`` was asked for ``city``'s ``family`` and is
    not published yet (an empty file in :data:`DAILY_REPORT_SCHEMA`); its path."""
    rel = f"{report_partition_dir(city, day)}/{unpublished_file_name(kind, family)}"
    return lake.write_table(DAILY_REPORT_SCHEMA.empty_table(), rel)


def rows_table(
    report: ReportFile, rows: Sequence[ReportRow], family: str, fetched_at: dt.datetime
) -> pa.Table:
    """The kept rows of one report file for one city and family, in :data:`DAILY_REPORT_SCHEMA`."""
    n = len(rows)
    # Epoch microseconds, not a datetime: pyarrow converts aware datetimes through pandas,
    # whose import alone costs seconds.
    at = fetched_at.astimezone(dt.UTC)
    at_us = (at - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
    return pa.Table.from_pydict(
        {
            "kind": [report.kind] * n,
            "report_date": [report.day] * n,
            "source_key": [report.key] * n,
            "etag": [report.etag] * n,
            "fetched_at": pa.array([at_us] * n, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "row_no": [r.row_no for r in rows],
            "ticker_name": [r.ticker_name for r in rows],
            "report_ticker": [r.report_ticker for r in rows],
            "family": [family] * n,
            "body": [r.body.decode("utf-8") for r in rows],
        },
        schema=DAILY_REPORT_SCHEMA,
    )


@dataclass
class DailyReportsSummary:
    """What :func:`fetch_daily_reports` did, per report day and file.

    A day is *fetched* if one of its files was read, *pending* if one is not published yet
    (and none was read), else *unchanged* (every file already stored under its current ETag).
    """

    cities: tuple[str, ...]
    start: dt.date
    end: dt.date
    files_fetched: list[tuple[dt.date, str]] = field(default_factory=list)
    files_unchanged: list[tuple[dt.date, str]] = field(default_factory=list)
    files_pending: list[tuple[dt.date, str]] = field(default_factory=list)
    rows_read: int = 0
    rows_kept: int = 0
    files_written: list[str] = field(default_factory=list)

    def _days(self, files: Iterable[tuple[dt.date, str]]) -> set[dt.date]:
        return {d for d, _ in files}

    @property
    def days_fetched(self) -> list[dt.date]:
        """Report days with at least one file read now."""
        return sorted(self._days(self.files_fetched))

    @property
    def days_pending(self) -> list[dt.date]:
        """Report days with a file not published yet and none read now."""
        return sorted(self._days(self.files_pending) - self._days(self.files_fetched))

    @property
    def days_unchanged(self) -> list[dt.date]:
        """Report days whose every file was already stored under its current ETag."""
        busy = self._days(self.files_fetched) | self._days(self.files_pending)
        return sorted(self._days(self.files_unchanged) - busy)

    def render(self) -> str:
        """One line for people."""
        return (
            f"daily reports {self.start}..{self.end} for {', '.join(self.cities)}: "
            f"{len(self.days_fetched)} days fetched, {len(self.days_pending)} pending, "
            f"{len(self.days_unchanged)} unchanged; {self.rows_kept} rows kept of "
            f"{self.rows_read} read"
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON-able form."""
        return {
            "cities": list(self.cities),
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "days_fetched": [d.isoformat() for d in self.days_fetched],
            "days_pending": [d.isoformat() for d in self.days_pending],
            "days_unchanged": [d.isoformat() for d in self.days_unchanged],
            "files_fetched": len(self.files_fetched),
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
        }


def _targets(cities: Sequence[str], families: Sequence[str] | None) -> dict[str, tuple[City, str]]:
    """report_ticker -> (city, family) for every series (and legacy prefix) asked for."""
    out: dict[str, tuple[City, str]] = {}
    for name in cities:
        city = get_city(name)
        for fam, series in city.families.items():
            if families is not None and fam not in families:
                continue
            for ticker in (series.ticker, series.legacy_prefix):
                if ticker:
                    out[ticker] = (city, fam)
    return out


def fetch_daily_reports(
    settings: Settings,
    cities: Sequence[str],
    start: dt.date,
    end: dt.date,
    families: Sequence[str] | None = None,
    *,
    source: ReportSource | None = None,
    now: dt.datetime | None = None,
) -> DailyReportsSummary:
    """Fetch the ``market_data`` and ``trade_data`` reports of New York days ``start..end``
    and keep the rows of ``cities``' series (``families``: all when None) in the raw layer.

    Each file is read at most once per ETag: a file whose current ETag every (city, family)
    already has is *unchanged* and not read; a new ETag (a rewritten file) is read again and
    stored beside the old one. A file not published yet is *pending*. ``source`` defaults to
    ``settings.reports_url`` (read anonymously, at ``settings.reports_endpoint_url``).
    Raises :class:`ApiUnreachableError` (exit 3) when the source cannot be read at all.
    """
    if end < start:
        raise BadDateError(f"end {end} is before start {start}")
    for fam in families or ():
        check_family(fam)
    lake = Lake.of(settings)
    src = source or ReportSource(settings.reports_url, settings.reports_endpoint_url)
    targets = _targets(cities, families)
    pairs = sorted({(c.name, f) for c, f in targets.values()})
    summary = DailyReportsSummary(tuple(sorted({c for c, _ in pairs})), start, end)
    day = start
    while day <= end:
        stored = {
            (city, name)
            for city in summary.cities
            for name in (
                p.rsplit("/", 1)[-1] for p in lake.ls_files(report_partition_dir(city, day))
            )
        }
        for kind in KINDS:
            _fetch_kind(lake, src, kind, day, targets, pairs, stored, summary, now)
        day += dt.timedelta(days=1)
    return summary


#: How many times a file rewritten while it was read is read again before giving up.
REREADS = 3


def _fetch_kind(
    lake: Lake,
    src: ReportSource,
    kind: str,
    day: dt.date,
    targets: dict[str, tuple[City, str]],
    pairs: list[tuple[str, str]],
    stored: set[tuple[str, str]],
    summary: DailyReportsSummary,
    now: dt.datetime | None,
) -> None:
    """Fetch one report file of ``day`` (or mark it unpublished); a file rewritten while it
    was read is located and read again, so the kept rows are all of one version."""
    for _ in range(REREADS):
        report = _locate(src, kind, day)
        if report is None:
            summary.files_pending.append((day, kind))
            for city, fam in pairs:
                if (city, unpublished_file_name(kind, fam)) not in stored:
                    mark_unpublished(lake, city, day, kind, fam)
            return
        missing = [
            (city, fam)
            for city, fam in pairs
            if (city, report_file_name(kind, report.etag8, fam)) not in stored
        ]
        if not missing:
            summary.files_unchanged.append((day, kind))
            return
        try:
            _fetch_one(lake, src, report, targets, missing, summary, now)
        except ReportChanged:
            continue
        summary.files_fetched.append((day, kind))
        return
    raise ApiUnreachableError(
        f"{kind} of {day} was rewritten while it was read, {REREADS} times in a row; "
        "run the reconcile again later"
    )


def _unreachable(what: str, exc: BaseException) -> ApiUnreachableError:
    return ApiUnreachableError(f"cannot read {what}: {type(exc).__name__}: {exc}")


def _locate(src: ReportSource, kind: str, day: dt.date) -> ReportFile | None:
    try:
        return src.locate(kind, day)
    except KalshiLakeError:
        raise
    except Exception as exc:  # botocore's connection errors are not OSErrors
        raise _unreachable(f"Kalshi's daily reports at {src.url}", exc) from None


def _fetch_one(
    lake: Lake,
    src: ReportSource,
    report: ReportFile,
    targets: dict[str, tuple[City, str]],
    missing: list[tuple[str, str]],
    summary: DailyReportsSummary,
    now: dt.datetime | None,
) -> None:
    wanted = set(missing)
    keep = frozenset(t for t, (c, f) in targets.items() if (c.name, f) in wanted)
    kept: dict[tuple[str, str], list[ReportRow]] = {pair: [] for pair in missing}
    fetched_at = now or dt.datetime.now(dt.UTC)
    stats = FilterStats()
    try:
        with src.open(report) as stream:
            for row in filter_rows(stream, keep, stats=stats):
                owner, fam = targets[row.report_ticker]
                kept[(owner.name, fam)].append(row)
    except KalshiLakeError:
        raise  # a corrupt file (exit 3), named by the filter; or rewritten while read
    except Exception as exc:  # botocore's connection errors are not OSErrors
        raise _unreachable(report.key, exc) from None
    summary.rows_read += stats.rows
    for (city, fam), rows in sorted(kept.items()):
        name = report_file_name(report.kind, report.etag8, fam)
        rel = f"{report_partition_dir(city, report.day)}/{name}"
        summary.files_written.append(
            lake.write_table(rows_table(report, rows, fam, fetched_at), rel)
        )
        summary.rows_kept += len(rows)
