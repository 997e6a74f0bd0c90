"""What a repair found and did: :class:`RepairSummary` per run, :class:`CityRepair` per city."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from kalshi_lake.backfill import BackfillSummary
from kalshi_lake.errors import RunIncomplete
from kalshi_lake.repair.scan import RawFileRef


@dataclass(frozen=True)
class BadFile:
    """A raw file that cannot be read whole, why, and where it was moved."""

    file: RawFileRef
    reason: str
    quarantined: str = ""
    reset: bool = False  # the saved progress its pages proved was reset

    def to_state(self) -> dict[str, Any]:
        """JSON-able record."""
        f = self.file
        return {
            "rel": f.rel,
            "endpoint": f.endpoint,
            "city": f.city,
            "date": f.date.isoformat(),
            "size": f.size,
            "reason": self.reason,
            "quarantined": self.quarantined,
            "reset": self.reset,
        }

    @classmethod
    def from_state(cls, rec: dict[str, Any]) -> BadFile:
        """From :meth:`to_state`."""
        ref = RawFileRef(
            str(rec["rel"]),
            str(rec["endpoint"]),
            str(rec["city"]),
            dt.date.fromisoformat(str(rec["date"])),
            int(rec.get("size") or 0),
        )
        return cls(
            ref,
            str(rec.get("reason", "")),
            str(rec.get("quarantined", "")),
            bool(rec.get("reset")),
        )


@dataclass
class CityRepair:
    """What the repair of one city found and did."""

    city: str
    scanned: int = 0
    bad: list[BadFile] = field(default_factory=list)
    resumed: int = 0  # bad files of an earlier, unfinished repair
    reset_keys: int = 0
    span: tuple[dt.date, dt.date] | None = None
    backfill: BackfillSummary | None = None
    fetch_error: str = ""
    transform: Any = None  # TransformSummary
    transform_error: str = ""
    transform_note: str = ""


@dataclass
class RepairSummary:
    """The outcome of :func:`run_repair`, per city."""

    lake: str
    run_id: str
    cities: list[CityRepair] = field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def scanned(self) -> int:
        """Raw files probed."""
        return sum(c.scanned for c in self.cities)

    @property
    def unreadable(self) -> int:
        """Unreadable raw files found by this run or left by an unfinished earlier one."""
        return sum(len(c.bad) for c in self.cities)

    @property
    def complete(self) -> bool:
        """True when every re-fetch and transform finished."""
        return not any(c.fetch_error or c.transform_error for c in self.cities)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return {
            "lake": self.lake,
            "run_id": self.run_id,
            "scanned": self.scanned,
            "unreadable": self.unreadable,
            "elapsed_s": self.elapsed_s,
            "cities": [
                {
                    "city": c.city,
                    "scanned": c.scanned,
                    "unreadable": [b.to_state() for b in c.bad],
                    "reset_keys": c.reset_keys,
                    "span": [d.isoformat() for d in c.span] if c.span else None,
                    "backfill": c.backfill.as_dict() if c.backfill else None,
                    "fetch_error": c.fetch_error,
                    "transform": c.transform.as_dict() if c.transform is not None else None,
                    "transform_error": c.transform_error,
                }
                for c in self.cities
            ],
        }

    def render(self) -> str:
        """A short report: what was unreadable, where it went, what was fetched again."""
        n_cities = len(self.cities)
        lines = [
            f"repair {self.lake}: {self.scanned:,} raw file(s) of {n_cities} city(ies) read, "
            f"{self.unreadable} unreadable ({self.elapsed_s:.1f}s)"
        ]
        if not self.unreadable:
            lines.append("  nothing unreadable: nothing to repair")
            return "\n".join(lines)
        for c in self.cities:
            if not c.bad:
                continue
            earlier = f" ({c.resumed} left by an earlier repair)" if c.resumed else ""
            lines.append(f"  {c.city}: {len(c.bad)} unreadable file(s){earlier}")
            for b in c.bad:
                lines.append(f"    - {b.file.rel}: {b.reason}")
                if b.quarantined:
                    lines.append(f"      quarantined to {b.quarantined}")
            if c.span:
                lo, hi = c.span
                lines.append(
                    f"    re-fetched event dates {lo}..{hi}: {c.reset_keys} saved unit(s) reset"
                )
            if c.backfill is not None:
                lines.extend("    " + line for line in c.backfill.render().splitlines())
            if c.fetch_error:
                lines.append(f"    RE-FETCH INCOMPLETE: {c.fetch_error}")
            if c.transform is not None:
                lines.extend("    " + line for line in c.transform.render().splitlines())
            if c.transform_note:
                lines.append(f"    note: {c.transform_note}")
            if c.transform_error:
                lines.append(f"    TRANSFORM INCOMPLETE: {c.transform_error}")
        return "\n".join(lines)


class RepairIncomplete(RunIncomplete):
    """The repair set the bad files aside but could not fetch or transform everything (exit 3);
    re-running ``repair`` resumes."""

    summary: RepairSummary

    def __init__(self, message: str, summary: RepairSummary) -> None:
        super().__init__(message, summary)
