"""What a transform did, and the errors it ends with when some raw input could not be used."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kalshi_lake.errors import CorruptFileError, RunIncomplete, SchemaError

#: Problem kinds, worst first.
CORRUPT_FILE = "corrupt_file"  # a raw Parquet file that cannot be read: skipped whole
CORRUPT_PAGE = "corrupt_page"  # a page whose body is not a JSON object: skipped
SCHEMA = "schema"  # a page or item lacking a field we require: that page or item skipped
CONFLICT = "conflict"  # one trade_id with two different contents: the copy fetched last kept
KEPT = "kept"  # a partition with an unreadable input (the path) kept its last good version


@dataclass(frozen=True)
class Problem:
    """One piece of raw input the transform could not use: which file, which page, why.

    A page is named by its ``row`` in its raw file (one file holds the pages of many walks)
    and ``page``, its number in its own walk (0 for the first): ``<file> row 7 (page 2 of its
    walk)``. Both are None for a problem with the whole file.
    """

    kind: str
    path: str
    page: int | None
    message: str
    items: int = 1
    row: int | None = None

    @property
    def where(self) -> str:
        """The file, and the page in it."""
        if self.row is not None:
            walk = "" if self.page is None else f" (page {self.page} of its walk)"
            return f"{self.path} row {self.row}{walk}"
        return self.path if self.page is None else f"{self.path} page {self.page}"

    def __str__(self) -> str:
        where = self.where
        many = f" ({self.items} items)" if self.items > 1 else ""
        return f"{where}: {self.message}{many}"


@dataclass
class TransformSummary:
    """The outcome of :func:`~kalshi_lake.transform.run_transform`."""

    lake: str
    full: bool = False
    rebuilt: list[tuple[str, str]] = field(default_factory=list)  # (city, month)
    skipped: int = 0
    removed: list[tuple[str, str]] = field(default_factory=list)
    #: Outside a --start/--end scope: partitions whose listing input changed, left for a plain
    #: transform (see :func:`~kalshi_lake.transform.plan.left_out_of_scope`).
    left_out: list[tuple[str, str]] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # rows written per curated table
    raw_files: int = 0  # raw files read
    trades_read: int = 0  # trade objects parsed, duplicates included
    duplicates: int = 0  # trade copies dropped
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # e.g. why a partition was rebuilt
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        """True when every raw page was usable."""
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        d = dict(self.__dict__)
        d["rebuilt"] = [f"{c}/{m}" for c, m in self.rebuilt]
        d["removed"] = [f"{c}/{m}" for c, m in self.removed]
        d["left_out"] = [f"{c}/{m}" for c, m in self.left_out]
        d["problems"] = [str(p) for p in self.problems]
        return d

    def render(self, limit: int = 20) -> str:
        """A short human-readable report (what the CLI prints)."""
        mode = "full" if self.full else "incremental"
        lines = [
            f"transform ({mode}) {self.lake}: {len(self.rebuilt)} partition(s) rebuilt, "
            f"{self.skipped} unchanged, {len(self.removed)} removed in {self.elapsed_s:.1f}s",
        ]
        if self.rebuilt:
            rate = self.trades_read / self.elapsed_s if self.elapsed_s > 0 else 0.0
            lines.append(
                f"  read      {self.raw_files:,} raw files: {self.trades_read:,} trades "
                f"({self.duplicates:,} duplicates dropped, {rate:,.0f} trades/s)"
            )
            width = max(len(t) for t in self.rows) if self.rows else 0
            for table, n in self.rows.items():
                lines.append(f"  {table:<{width}}  {n:>12,} rows")
        if self.left_out:
            lines.append(
                f"  note      {len(self.left_out)} partition(s) outside --start/--end have new "
                "listing input and were left as they are; a plain `transform` rebuilds them"
            )
        lines.extend(f"  NOTE      {n}" for n in self.notes[:limit])
        if self.problems:
            pieces = sum(p.kind != KEPT for p in self.problems)
            lines.append(
                f"  PROBLEMS  {pieces} piece(s) of raw input could not be used (the rest of "
                "each partition was, unless it kept its last good version):"
            )
            lines.extend(f"    - {p}" for p in self.problems[:limit])
            if len(self.problems) > limit:
                lines.append(f"    ... and {len(self.problems) - limit} more")
        return "\n".join(lines)

    def raise_for_problems(self) -> None:
        """Raise :class:`TransformCorruptError` or :class:`TransformSchemaError` (exit 3) if any
        raw input could not be used; a no-op for a clean run."""
        if not self.problems:
            return
        kinds = {p.kind for p in self.problems}
        counts = ", ".join(
            f"{sum(p.kind == k for p in self.problems)} {label}"
            for k, label in (
                (CORRUPT_FILE, "unreadable file(s)"),
                (CORRUPT_PAGE, "corrupt page(s)"),
                (SCHEMA, "page(s) with missing or wrong-typed fields"),
                (CONFLICT, "trade(s) that came twice with different contents"),
            )
            if k in kinds
        )
        first = self.problems[0]
        if kinds & {CORRUPT_FILE, KEPT}:
            bad = next(p for p in self.problems if p.kind in (CORRUPT_FILE, KEPT))
            city = next((p[5:] for p in bad.path.split("/") if p.startswith("city=")), "<city>")
            fix = (
                f"Fetch that data again with `kalshi-lake repair --city {city}` (it moves "
                "unreadable files to _quarantine/), or remove the file, then transform again"
            )
        else:
            fix = (
                "Re-fetch the affected data (a backfill with --refresh adds fresh pages) or "
                "remove the bad raw files, then transform again"
            )
        n_kept = sum(p.kind == KEPT for p in self.problems)
        kept = f"{n_kept} partition(s) kept their last good version, " if n_kept else ""
        msg = (
            f"transform finished, but {counts} in the raw layer could not be used "
            f"(first: {first}); {kept}every other page was used. {fix}"
        )
        if kinds & {CORRUPT_FILE, CORRUPT_PAGE, CONFLICT, KEPT}:
            raise TransformCorruptError(msg, self)
        raise TransformSchemaError(msg, self)


class TransformIncomplete(RunIncomplete):
    """Base of the errors a transform ends with (exit 3); ``summary`` has the full report."""

    summary: TransformSummary

    def __init__(self, message: str, summary: TransformSummary) -> None:
        super().__init__(message, summary)


class TransformCorruptError(CorruptFileError, TransformIncomplete):
    """Some raw files or page bodies could not be read (exit 3); the rest was transformed."""


class TransformSchemaError(SchemaError, TransformIncomplete):
    """Some raw pages lack fields the transform requires (exit 3); the rest was transformed."""
