"""What a --start/--end-scoped transform leaves behind, and says it leaves (pure plan)."""

from __future__ import annotations

import datetime as dt

from kalshi_lake.transform.plan import left_out_of_scope
from kalshi_lake.transform.state import CityState

OLD = "raw/events/city=chicago/date=2026-11-01/a.parquet"
NEW = "raw/markets/city=chicago/date=2026-11-21/b.parquet"


def _state() -> CityState:
    st = CityState(city="chicago", version=1)
    st.partitions = {"2026-09": {}, "2026-10": {}, "2026-11": {}}
    st.listings = {OLD: ["2026-08", "2026-09", "2026-11"], NEW: ["2026-10", "2026-11"]}
    return st


def test_new_listing_input_outside_the_scope_is_named() -> None:
    nov = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
    # NEW is new to this run: October (built before, now due) and August (never built: due)
    left = left_out_of_scope({"chicago": _state()}, {"chicago": {OLD}}, *nov)
    assert left == [("chicago", "2026-08"), ("chicago", "2026-10")]
    # nothing new: only the month no build has recorded yet
    left = left_out_of_scope({"chicago": _state()}, {"chicago": {OLD, NEW}}, *nov)
    assert left == [("chicago", "2026-08")]


def test_an_unscoped_run_leaves_nothing() -> None:
    assert left_out_of_scope({"chicago": _state()}, {"chicago": set()}, None, None) == []
