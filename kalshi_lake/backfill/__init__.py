"""Backfill: discovery, live/historical routing, resumable walks into the raw layer.

``run_backfill(settings, city, start, end, *, families=None, refresh=False,
candle_window="full")`` is the entry point (``families=None``: every family the city has); see :mod:`kalshi_lake.backfill.run` for how a run is put together.
"""

from kalshi_lake.backfill.run import BackfillSummary, resolve_range, run_backfill

__all__ = ["BackfillSummary", "resolve_range", "run_backfill"]
