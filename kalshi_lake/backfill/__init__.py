"""Backfill: discovery, live/historical routing, resumable walks into the raw layer.

``run_backfill(settings, city, start, end, *, families=None, refresh=False,
candle_window="full")`` is the entry point (``families=None``: every family the city has); see
:mod:`kalshi_lake.backfill.run` for how a run is put together. ``run_backfills(settings, cities,
start, end, ...)`` backfills several cities in one process over one client and rate limiter
(:mod:`kalshi_lake.backfill.multi`).
"""

from kalshi_lake.backfill.multi import run_backfills
from kalshi_lake.backfill.run import BackfillSummary, resolve_range, run_backfill
from kalshi_lake.backfill.summary import CitiesSummary

__all__ = ["BackfillSummary", "CitiesSummary", "resolve_range", "run_backfill", "run_backfills"]
