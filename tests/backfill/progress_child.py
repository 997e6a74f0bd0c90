"""Child process for the progress-line test: a slow-ish backfill with stderr not a terminal.

Usage: python progress_child.py LAKE API_URL INTERVAL_S
"""

from __future__ import annotations

import datetime as dt
import sys

from kalshi_lake.backfill import run_backfill
from kalshi_lake.cities import get_city
from kalshi_lake.config import Settings
from kalshi_lake.errors import KalshiLakeError


def main() -> int:
    lake, api_url, interval = sys.argv[1:4]
    settings = Settings(
        lake=lake,
        api_url=api_url,
        rate=15.0,  # with no burst, slow enough that the run lasts a few seconds
        burst=1.0,
        concurrency=4,
        progress=True,
        progress_interval_s=float(interval),
    )
    try:
        s = run_backfill(settings, get_city("chicago"), dt.date(2026, 11, 1), dt.date(2026, 11, 3))
    except KalshiLakeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"requests={s.requests}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
