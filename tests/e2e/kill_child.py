"""Child process for the kill -9 tests: one backfill run with small, frequent flushes.

Usage: python kill_child.py LAKE API_URL CITY START END
"""

from __future__ import annotations

import datetime as dt
import sys

import kalshi_lake.backfill.units as backfill_units
from kalshi_lake.backfill import run_backfill
from kalshi_lake.cities import get_city
from kalshi_lake.config import Settings
from kalshi_lake.errors import KalshiLakeError


def main() -> int:
    lake, api_url, city, start, end = sys.argv[1:6]
    # Small trade pages turn every market's trades into a multi-page cursor walk, so kills land
    # in the middle of walks and the re-run must continue them from the saved cursor.
    backfill_units.TRADES_LIMIT = 100
    settings = Settings(
        lake=lake,
        api_url=api_url,
        rate=400.0,
        concurrency=4,
        backoff_base_s=0.01,
        backoff_max_s=0.1,
        progress=False,
        # Flush often so a kill lands between durable batches, mid-walk.
        flush_pages=3,
        flush_seconds=0.05,
    )
    try:
        s = run_backfill(
            settings, get_city(city), dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        )
    except KalshiLakeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"requests={s.requests} skipped={s.events_skipped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
