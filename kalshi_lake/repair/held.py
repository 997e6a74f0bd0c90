"""What an unreadable raw file held: the event dates and endpoints its pages stood for."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from kalshi_lake.backfill.keys import EVENT_PREFIX
from kalshi_lake.lake.state import StateStore, read_run_records
from kalshi_lake.lake.storage import Lake
from kalshi_lake.repair.scan import RawFileRef
from kalshi_lake.repair.summary import BadFile

#: Endpoints filed under the fetch date (README "The lake"): one file stands for what a whole
#: run listed. ``markets`` also holds one event's listing, filed under that event's date.
FETCH_DATED = frozenset({"markets", "events", "series", "cutoff"})


def listing_ranges(lake: Lake, city: str, f: RawFileRef) -> list[tuple[dt.date, dt.date]]:
    """The event-date ranges of the backfill runs of ``city`` active when ``f`` was written
    (from its name; else on its folder's date)."""
    at = f.written_at
    out: list[tuple[dt.date, dt.date]] = []
    for rec in read_run_records(lake):
        if rec.get("command") != "backfill" or rec.get("city") != city:
            continue
        try:
            began = dt.datetime.fromisoformat(str(rec["started_at"]))
            ended = dt.datetime.fromisoformat(str(rec.get("finished_at") or rec["started_at"]))
            rng = (dt.date.fromisoformat(str(rec["start"])), dt.date.fromisoformat(str(rec["end"])))
        except (KeyError, ValueError):
            continue
        if rec.get("status") == "running":
            ended = dt.datetime.now(dt.UTC)
        if at is not None:
            active = began - dt.timedelta(seconds=5) <= at <= ended + dt.timedelta(seconds=5)
        else:
            active = began.date() <= f.date <= ended.date()
        if active:
            out.append(rng)
    return out


def lost_dates(
    lake: Lake, city: str, bad: Iterable[BadFile], state: StateStore
) -> dict[dt.date, set[str]]:
    """Event date -> endpoints whose pages of that date were in the bad files.

    A date-scoped file holds pages of its folder's date. A file filed under its fetch date
    (:data:`FETCH_DATED`) stands for every event date of the backfill runs active when it was
    written (or, with no such run, of every event the state knows); a ``markets`` file whose
    folder date is a known event date may also be that event's own listing.
    """
    lost: dict[dt.date, set[str]] = {}
    known = sorted(
        {
            dt.date.fromisoformat(str(r["date"]))
            for _, r in state.items(EVENT_PREFIX)
            if r.get("date")
        }
    )
    for b in bad:
        f = b.file
        if f.endpoint not in FETCH_DATED:
            lost.setdefault(f.date, set()).add(f.endpoint)
            continue
        ranges = listing_ranges(lake, city, f)
        if not ranges and known:
            ranges = [(known[0], known[-1])]
        if (f.endpoint == "markets" and f.date in known) or not ranges:
            lost.setdefault(f.date, set()).add(f.endpoint)
        for lo, hi in ranges:
            # The range's ends too: the re-fetch spans them even where no event was recorded.
            for d in {lo, hi, *(d for d in known if lo <= d <= hi)}:
                lost.setdefault(d, set()).add(f.endpoint)
    return lost
