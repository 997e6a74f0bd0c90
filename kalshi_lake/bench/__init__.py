"""Benchmarks behind `make bench` (README "Benchmarks").

Each figure module in this package exposes ``run(quick: bool) -> Iterable[dict]``; every dict is
one figure with at least ``name``, ``value`` and ``unit`` plus the inputs (sizes, rates) so runs
can be compared. ``python -m kalshi_lake.bench`` prints one JSON object per line.
"""

from __future__ import annotations

#: Figure modules, in the order they run. A module that does not exist yet is skipped.
MODULES = (
    "sim",
    "requests",
    "backfill",
    "storm",
    "kills",
    "transform",
    "queries",
    "books",
    "validate",
    "report",
    "s3",
    "journal",
    "recorder",
    "lag",
    "daily_reports",
)


def figure(name: str, value: float, unit: str, **inputs: object) -> dict[str, object]:
    """One benchmark figure."""
    return {"name": name, "value": round(float(value), 4), "unit": unit, **inputs}
