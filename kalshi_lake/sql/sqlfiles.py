"""Finding and rendering the ``.sql`` files under ``queries/`` (views, checks, backtest).

SQL lives in plain files, one object per file, each starting with a header comment. Python only
finds them, fills in the two placeholders and runs them:

- ``{lake}``: the lake root as engines see it (an absolute local path or ``s3://bucket/prefix``),
  inside SQL string literals;
- ``{cities}``: the rows of the ``cities`` view, generated from :mod:`kalshi_lake.cities`.

Placeholders are replaced literally (``str.replace``), never with ``str.format``, because SQL is
full of braces (struct literals, JSON structures).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from kalshi_lake.cities import CITIES
from kalshi_lake.errors import ConfigError

#: The folders of queries/, in the order their objects are created.
KINDS = ("views", "backtest", "checks")

_NAME = re.compile(r"^--\s*(?:view|macro|check):\s*([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)
_LEVEL = re.compile(r"^--\s*level:\s*(error|warn)\s*$", re.MULTILINE)


def queries_dir() -> Path:
    """The ``queries/`` folder.

    In order: ``$KALSHI_QUERIES_DIR``; the copy a wheel installs inside the package
    (``kalshi_lake/queries``); the repo's top-level ``queries/`` (a checkout or editable install).
    """
    env = os.environ.get("KALSHI_QUERIES_DIR")
    if env:
        candidates = [Path(env)]
    else:
        # A wheel installs into a plain folder, so the resource is a real path.
        packaged = Path(str(resources.files("kalshi_lake") / "queries"))
        candidates = [packaged, Path(__file__).resolve().parents[2] / "queries"]
    for path in candidates:
        if (path / "views").is_dir():
            return path
    looked = ", ".join(str(p) for p in candidates)
    raise ConfigError(
        f"SQL folder not found (looked in {looked}; expected views/, checks/, backtest/); "
        "set KALSHI_QUERIES_DIR to the project's queries/ folder"
    )


@dataclass(frozen=True)
class SqlFile:
    """One ``.sql`` file: its kind (folder), object name, header comment and body."""

    kind: str
    name: str
    path: Path
    text: str

    @property
    def header(self) -> str:
        """The leading comment block without the ``--`` markers."""
        lines = []
        for line in self.text.splitlines():
            if not line.startswith("--"):
                break
            lines.append(line[2:].strip())
        return "\n".join(lines)

    @property
    def description(self) -> str:
        """The header minus its tag lines (name, level): what the object is and checks."""
        keep = [
            ln for ln in self.header.splitlines() if not re.match(r"^(view|macro|check|level):", ln)
        ]
        return " ".join(" ".join(keep).split())

    @property
    def level(self) -> str | None:
        """``error`` or ``warn`` for checks (from ``-- level:``), None otherwise."""
        m = _LEVEL.search(self.text)
        return m.group(1) if m else None

    def render(self, lake_uri: str) -> str:
        """The SQL with ``{lake}`` and ``{cities}`` filled in (comment lines are left alone)."""
        out = []
        for line in self.text.splitlines(keepends=True):
            if not line.lstrip().startswith("--"):
                line = line.replace("{lake}", sql_quote_inner(lake_uri))
                line = line.replace("{cities}", cities_values())
            out.append(line)
        return "".join(out)


@cache
def _load(root: str, kind: str) -> tuple[SqlFile, ...]:
    files = []
    for path in sorted(Path(root, kind).glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        if not text.startswith("--"):
            raise ConfigError(f"{path} must start with a header comment")
        m = _NAME.search(text)
        name = m.group(1) if m else path.stem
        if kind == "checks" and _LEVEL.search(text) is None:
            raise ConfigError(f"{path} has no '-- level: error|warn' header line")
        files.append(SqlFile(kind, name, path, text))
    return tuple(files)


def load(kind: str) -> tuple[SqlFile, ...]:
    """Every ``.sql`` file of one folder (``views``, ``backtest`` or ``checks``), sorted."""
    if kind not in KINDS:
        raise ValueError(f"unknown query kind {kind!r}")
    return _load(str(queries_dir()), kind)


def sql_quote_inner(value: str) -> str:
    """``value`` escaped for use inside a single-quoted SQL literal."""
    return value.replace("'", "''")


def sql_literal(value: object) -> str:
    """A SQL literal for a Python scalar (str, date, None)."""
    if value is None:
        return "NULL"
    return "'" + sql_quote_inner(str(value)) + "'"


@cache
def cities_values() -> str:
    """The VALUES rows of the ``cities`` view, from the Python registry."""
    rows = []
    for c in CITIES:
        cells = [
            sql_literal(c.name),
            sql_literal(c.display_name),
            sql_literal(c.series_ticker),
            sql_literal(c.legacy_prefix),
            sql_literal(c.tz),
            sql_literal(c.station_icao),
            sql_literal(c.cli_code),
            f"DATE '{c.first_event.isoformat()}'",
            sql_literal(c.low.ticker if c.low else None),
            f"DATE '{c.low.first_event.isoformat()}'" if c.low else "NULL::DATE",
        ]
        rows.append("        (" + ", ".join(cells) + ")")
    return ",\n".join(rows)
