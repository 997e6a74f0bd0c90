"""The report tests' simulator lake: what it holds, and how its hole is planted."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from kalshi_lake.backfill import run_backfill
from kalshi_lake.cities import get_city
from kalshi_lake.config import Settings
from kalshi_lake.sim import SimConfig, SimServer
from kalshi_lake.sim.config import FIXTURE_NOW as SIM_NOW
from kalshi_lake.sim.config import FIXTURE_SEED as SIM_SEED
from kalshi_lake.transform import run_transform

#: The simulator lake: two cities, both families, these event dates.
CITIES = ("chicago", "nyc")
START, END = dt.date(2026, 11, 14), dt.date(2026, 11, 20)
#: The planted hole: chicago's trades and candle pages of this date are deleted.
HOLE = dt.date(2026, 11, 17)
#: Raw endpoints whose pages of a day make it "fetched" (fetched_days_in).
_DAY_ENDPOINTS = ("trades", "candlesticks", "event_candlesticks", "batch_candlesticks")


def delete_day(lake: Path, city: str, day: dt.date) -> None:
    """Delete a day's trades and candle pages from the raw layer (a hole in a backfill)."""
    for endpoint in _DAY_ENDPOINTS:
        shutil.rmtree(lake / "raw" / endpoint / f"city={city}" / f"date={day}", ignore_errors=True)


def build_sim_lake(root: Path) -> Path:
    """Backfill ``CITIES`` for ``START..END`` from the simulator into ``root``, delete chicago's
    ``HOLE`` day from the raw layer and transform."""
    settings = Settings(lake=str(root))
    with SimServer(SimConfig(seed=SIM_SEED, now=SIM_NOW)) as sim:
        run = settings.with_(api_url=sim.base_url, rate=1000.0, burst=1000.0, progress=False)
        for name in CITIES:
            run_backfill(run, get_city(name), START, END)
    delete_day(root, "chicago", HOLE)
    run_transform(settings)
    return root
