"""Child process for the lease test: a backfill that pauses itself (SIGSTOP) after a flush.

Usage: python lease_child.py LAKE API_URL CITY START END LEASE_TTL_S PAUSE_AFTER_FLUSHES

The pause lands right after a flush has made its pages and state durable (and before the next
one starts), as a frozen VM or a ``kill -STOP`` would between two commits. The test resumes it
with SIGCONT once another worker has taken its lease over.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sys
from typing import Any

import kalshi_lake.backfill.units as backfill_units
from kalshi_lake.backfill import run_backfill
from kalshi_lake.backfill.sink import PageSink
from kalshi_lake.cities import get_city
from kalshi_lake.config import Settings
from kalshi_lake.errors import KalshiLakeError


def main() -> int:
    lake, api_url, city, start, end, ttl, pause_after = sys.argv[1:8]
    # Small trade pages: many short walks, so the run is mid-work when it pauses.
    backfill_units.TRADES_LIMIT = 100
    flushes = 0
    write = PageSink._write

    def write_then_pause(self: PageSink, *args: Any) -> None:
        nonlocal flushes
        write(self, *args)
        flushes += 1
        if flushes == int(pause_after):
            os.kill(os.getpid(), signal.SIGSTOP)

    PageSink._write = write_then_pause  # type: ignore[method-assign]
    settings = Settings(
        lake=lake,
        api_url=api_url,
        rate=400.0,
        concurrency=4,
        backoff_base_s=0.01,
        backoff_max_s=0.1,
        progress=False,
        flush_pages=3,
        flush_seconds=0.05,
        lease_ttl_s=float(ttl),
    )
    try:
        s = run_backfill(
            settings, get_city(city), dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        )
    except KalshiLakeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"requests={s.requests} flushes={flushes}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
