"""Keeping the lake tidy behind the recorder: the followed cities' current partitions transformed,
and past hours of ``raw/ws`` compacted.

Both are bounded: a transform covers only the event dates of the followed markets (their
partitions, never the whole lake), a compaction only the followed cities. Neither may stop the
recording: a failure (bad raw input, a full disk, a bug) is returned as a note for the run's
summary, and the next cadence tries again. A transform lease held by someone else (the
catch-up's own transform, a user's) skips that city this time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from kalshi_lake.cities import City, event_date
from kalshi_lake.config import Settings
from kalshi_lake.errors import LockedError
from kalshi_lake.lake.storage import Lake
from kalshi_lake.live.compact import compact
from kalshi_lake.live.markets import FollowedMarket
from kalshi_lake.log import get_logger

log = get_logger(__name__)


@dataclass
class Curated:
    """What one cadence did: transforms run, raw/ws files compacted, notes for the summary."""

    transforms: int = 0
    compacted_files: int = 0
    notes: list[str] = field(default_factory=list)


def current_dates(markets: Iterable[FollowedMarket]) -> dict[str, tuple[dt.date, dt.date]]:
    """Per city, the first and last event date of ``markets`` (the last discovery's: the dates
    the catch-up fetches too)."""
    out: dict[str, tuple[dt.date, dt.date]] = {}
    for m in markets:
        day = event_date(m.ticker.rsplit("-", 1)[0])
        lo, hi = out.get(m.city, (day, day))
        out[m.city] = (min(lo, day), max(hi, day))
    return out


#: How often a transform waiting for a city's lease tries again.
LEASE_RETRY_S = 1.0


async def transform_current(
    settings: Settings,
    cities: Sequence[City],
    markets: Iterable[FollowedMarket],
    *,
    wait_s: float = 0.0,
) -> Curated:
    """Transform each followed city's partitions of the current markets' event dates.

    A city whose transform lease is held is skipped (the next cadence comes soon), or, with
    ``wait_s``, tried again until it is free for up to that long: the last transform of a run
    must not be skipped because a thread of the run (a cadence's transform or a catch-up pass,
    which a stop cannot interrupt) still holds the lease.
    """
    from kalshi_lake.transform import run_transform

    done = Curated()
    by_name = {c.name: c for c in cities}
    deadline = time.monotonic() + wait_s
    for city, (start, end) in sorted(current_dates(markets).items()):
        if city not in by_name:
            continue
        try:
            while True:
                try:
                    await asyncio.to_thread(
                        run_transform, settings, city=by_name[city], start=start, end=end
                    )
                    break
                except LockedError:
                    if time.monotonic() + LEASE_RETRY_S > deadline:
                        raise
                    await asyncio.sleep(LEASE_RETRY_S)
        except LockedError as exc:  # the catch-up's transform, or one of the user's
            log.info("transform %s: %s", city, exc)
            if wait_s > 0:
                done.notes.append(f"transform {city}: {exc}")
            continue
        except Exception as exc:  # bad raw input (exit 3), a full disk, a bug: recording
            # comes first, so the recorder says so and goes on; the next pass tries again
            done.notes.append(f"transform {city}: {str(exc).splitlines()[0]}")
        done.transforms += 1
    return done


async def compact_followed(lake: Lake, cities: Sequence[City]) -> Curated:
    """Merge past hours of the followed cities' raw/ws minute files (:mod:`.compact`)."""
    done = Curated()
    try:
        result = await asyncio.to_thread(compact, lake, [c.name for c in cities])
    except Exception as exc:  # as for the transform: the recorder goes on, says so
        done.notes.append(f"compaction: {str(exc).splitlines()[0]}")
        return done
    done.compacted_files = result.files_in
    return done
