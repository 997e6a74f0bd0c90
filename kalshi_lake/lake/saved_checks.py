"""Check results saved in the lake, and the fingerprint that says whether they are current.

``validate`` (all checks, no date range) saves its results under ``_state/checks/``: one JSON
file per scope (``latest.json`` for the whole lake, ``latest.<city>+<city>.json`` for a set of
cities), with each check's name, level, status, offending rows, sample rows (JSON scalars or
strings), the time it ran, the cities and the :func:`lake_fingerprint` the checks saw.
``report`` shows the saved results while the fingerprint still matches, instead of running
every check again (minutes on a big lake).

The fingerprint is a hash of one listing: every file under ``raw/``, ``curated/`` and
``_state/partitions/`` with its size and change stamp (locally mtime, ctime and inode; on S3
the ETag), plus the text of the SQL the checks run (checks and views, so an upgrade that
changes a check is a change too). Backfill, transform, repair, follow and reconcile all write
there, so any of them makes saved results stale; run state (progress, leases, run records,
heartbeats) and the saved results themselves are left out, since checks do not read them.
It is taken before the checks run: a lake that changes while they run reads as changed.

A check that reads the clock (``check_as_of``, default now: a decision instant that has
passed, a heartbeat gone quiet, a gap not repaired in time) can change its answer while the
lake stays the same; :func:`clock_checks` names them, and a report runs them again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kalshi_lake.errors import KalshiLakeError
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sql import sqlfiles
from kalshi_lake.sql.checks import CheckResult

log = logging.getLogger(__name__)

#: Where saved results live, relative to the lake root.
CHECKS_DIR = "_state/checks"
#: The folders whose files the fingerprint covers (what the checks can read).
FINGERPRINT_FOLDERS = ("raw", "curated", "_state/partitions")
#: Bumped when the saved file's layout changes (an older file is then ignored).
FORMAT = 1


@dataclass(frozen=True)
class SavedChecks:
    """Check results as saved by ``validate`` (or by a report that had to run them)."""

    ran_at: dt.datetime
    cities: tuple[str, ...] | None  # None: the whole lake
    fingerprint: str
    results: tuple[CheckResult, ...]
    saved_by: str  # "validate" or "report"


def lake_fingerprint(lake: Lake) -> str:
    """A hash of the lake state the checks can see (see the module docstring)."""
    h = hashlib.sha256()
    for folder in FINGERPRINT_FOLDERS:
        stats = lake.walk_stats(folder)
        for path in sorted(stats):
            st = stats[path]
            h.update(f"{lake.rel(path)}\0{st.size}\0{st.stamp}\n".encode())
    for kind in ("checks", "views"):
        for f in sqlfiles.load(kind):
            h.update(f"{kind}/{f.name}\0".encode())
            h.update(f.text.encode())
    return h.hexdigest()


def clock_checks() -> list[str]:
    """The checks whose answer depends on when they run (their SQL reads ``check_as_of``):
    saved results of these are never reused."""
    return [f.name for f in sqlfiles.load("checks") if "check_as_of" in _code(f.text)]


def _code(sql: str) -> str:
    """``sql`` without its comment lines."""
    return "\n".join(ln for ln in sql.splitlines() if not ln.lstrip().startswith("--"))


def saved_path(cities: Sequence[str] | None) -> str:
    """The saved file of a scope: ``latest.json`` (whole lake) or ``latest.<a>+<b>.json``."""
    if not cities:
        return f"{CHECKS_DIR}/latest.json"
    return f"{CHECKS_DIR}/latest.{'+'.join(sorted(set(cities)))}.json"


def save_checks(
    lake: Lake,
    results: Sequence[CheckResult],
    *,
    cities: Sequence[str] | None,
    fingerprint: str,
    ran_at: dt.datetime,
    saved_by: str,
) -> str | None:
    """Save ``results`` for ``cities`` (None: the whole lake); the path written, or None when
    the lake cannot be written (a read-only lake keeps working: the results are just not kept,
    and a warning says so)."""
    doc: dict[str, Any] = {
        "format": FORMAT,
        "ran_at": ran_at.astimezone(dt.UTC).isoformat(),
        "cities": sorted(set(cities)) if cities else None,
        "fingerprint": fingerprint,
        "saved_by": saved_by,
        "checks": [r.to_dict() for r in results],
    }
    data = json.dumps(doc, indent=1).encode()
    try:
        return lake.write_bytes(data, saved_path(cities))
    except (KalshiLakeError, OSError) as exc:
        log.warning("check results not saved in the lake: %s", exc)
        return None


def load_checks(lake: Lake, cities: Sequence[str] | None) -> SavedChecks | None:
    """The results saved for exactly ``cities`` (None: the whole lake), or None when there are
    none, they are unreadable, or they do not cover every check there is now."""
    rel = saved_path(cities)
    try:
        if not lake.exists(rel):
            return None
        doc = json.loads(lake.read_bytes(rel))
        if doc.get("format") != FORMAT:
            return None
        results = tuple(
            CheckResult(
                name=str(c["name"]),
                level=str(c["level"]),
                description=str(c.get("description") or ""),
                offending=int(c["offending"]),
                sample=[dict(row) for row in c.get("sample") or []],
                error=None if c.get("error") is None else str(c["error"]),
            )
            for c in doc["checks"]
        )
        saved = SavedChecks(
            ran_at=dt.datetime.fromisoformat(doc["ran_at"]),
            cities=tuple(doc["cities"]) if doc.get("cities") else None,
            fingerprint=str(doc["fingerprint"]),
            results=results,
            saved_by=str(doc.get("saved_by") or "validate"),
        )
    except (KalshiLakeError, OSError, ValueError, KeyError, TypeError) as exc:
        # a damaged file only means the checks run again (and replace it)
        log.warning("saved check results at %s ignored: %s", rel, exc)
        return None
    if {r.name for r in saved.results} != {f.name for f in sqlfiles.load("checks")}:
        return None
    return saved


def current_checks(
    lake: Lake, cities: Sequence[str] | None, fingerprint: str
) -> SavedChecks | None:
    """The saved results for ``cities`` if the lake is still as they saw it, else None."""
    saved = load_checks(lake, cities)
    if saved is None or saved.fingerprint != fingerprint:
        return None
    return saved
