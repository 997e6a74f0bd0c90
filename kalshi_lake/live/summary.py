"""What one ``follow`` run did: the counters printed at its end (``--json``: as a dict)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kalshi_lake.live.options import Mode


@dataclass
class FollowSummary:
    """What one ``follow`` run did."""

    run_id: str
    mode: Mode
    cities: list[str]
    seconds: float = 0.0
    frames_in: int = 0
    frames_out: int = 0
    frames_kept: int = 0
    firehose_skipped: int = 0
    gaps: int = 0
    resyncs: int = 0
    connects: int = 0
    disconnects: int = 0
    rest_requests: int = 0
    catch_up_passes: int = 0
    book_polls: int = 0
    raw_files: int = 0
    followed: int = 0
    transforms: int = 0
    compacted_files: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        out = dict(self.__dict__)
        out["mode"] = {"stream": self.mode.stream, "books": self.mode.books}
        return out

    def note_once(self, note: str) -> bool:
        """Keep ``note`` unless it is already kept; True if it is new."""
        if note in self.notes:
            return False
        self.notes.append(note)
        return True

    def render(self) -> str:
        """The lines printed at the end."""
        lines = [
            f"follow {','.join(self.cities)}: {self.seconds:.0f} s, stream {self.mode.stream}, "
            f"order books {self.mode.books}, {self.followed} markets followed",
            f"  frames: {self.frames_in} in, {self.frames_out} out, {self.frames_kept} kept "
            f"({self.firehose_skipped} lifecycle frames of other markets skipped)",
            f"  gaps {self.gaps}, resyncs {self.resyncs}, connects {self.connects}, "
            f"disconnects {self.disconnects}",
            f"  REST: {self.rest_requests} requests, {self.catch_up_passes} catch-up passes, "
            f"{self.book_polls} order book polls; {self.raw_files} raw files written",
            f"  curated: {self.transforms} transforms; {self.compacted_files} raw/ws files "
            "compacted",
        ]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)
