"""No walk runs forever: cursor cycles, pages with nothing new, endless empty pages, page caps.

The end-to-end tests point a hostile simulator (``SimConfig.cursor_fault``) at one market's
trades walk (or the events listing); before the guard existed each of them requested for ever.
Their timeout markers use the thread method, which ends even a run whose event loop never
returns control to the test (an alarm signal did not stop the old endless walk).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kalshi_lake.api.paging import EMPTY_PAGES, STALE_PAGES, CursorPager, WalkGuard
from kalshi_lake.backfill import BackfillSummary, run_backfill
from kalshi_lake.backfill.walk import KINDS, OTHER_KIND
from kalshi_lake.cities import get_city
from kalshi_lake.cli import cli
from kalshi_lake.errors import FetchIncompleteError, PermanentError, WalkStuckError
from kalshi_lake.lake.state import StateStore
from kalshi_lake.lake.storage import Lake

CITY = get_city("chicago")
DAY = dt.date(2026, 11, 5)
#: 1,509 trades: two pages of 1,000, so a cycle can go A, B, A (not just "the same cursor twice").
VICTIM = "KXHIGHCHI-26NOV05-B60.5"
TARGET = f"/markets/trades?ticker={VICTIM}"

# --- the guard on its own ----------------------------------------------------------------------


def _feed(
    guard: WalkGuard, pages: list[tuple[str | None, str | None, list[Hashable | None]]]
) -> tuple[int, str | None]:
    """Feed pages ``(cursor_in, cursor_out, keys)``; returns (pages read, reason) at the first
    stuck page, or (all pages, None)."""
    for n, (cin, cout, keys) in enumerate(pages, start=1):
        reason = guard.check(n, cin, cout, keys)
        if reason is not None:
            return n, reason
    return len(pages), None


def test_a_cursor_cycle_anywhere_in_the_walk_is_caught() -> None:
    # A, B, A: the pager's old check (same as the previous cursor) never fires.
    pages = [(None, "A", [1]), ("A", "B", [2]), ("B", "A", [3]), ("A", "B", [4])]
    n, reason = _feed(WalkGuard(1000), pages)
    assert n == 3 and reason is not None and "round in a circle" in reason and "'A'" in reason


def test_the_same_cursor_twice_is_a_cycle_of_one() -> None:
    n, reason = _feed(WalkGuard(1000), [(None, "A", [1]), ("A", "A", [2])])
    assert n == 2 and reason is not None and "circle" in reason


def test_fresh_cursors_with_nothing_new_are_caught_after_a_few_pages() -> None:
    first: list[Hashable | None] = ["t1", "t2"]
    pages = [(None, "c0", first)] + [(f"c{i}", f"c{i + 1}", first) for i in range(50)]
    n, reason = _feed(WalkGuard(1000), pages)
    assert n == 1 + STALE_PAGES and reason is not None and "already seen" in reason


def test_one_page_of_repeats_among_new_pages_is_not_stuck() -> None:
    # A listing that shifted by a whole page between two requests: one stale page, then new items.
    pages = [(None, "c0", ["a"]), ("c0", "c1", ["a"]), ("c1", "c2", ["b"]), ("c2", "c3", ["a"])]
    assert _feed(WalkGuard(1000), pages) == (4, None)


def test_items_without_an_identity_count_as_new() -> None:
    pages = [(None, "c0", [None]), *((f"c{i}", f"c{i + 1}", [None]) for i in range(20))]
    assert _feed(WalkGuard(1000), pages) == (21, None)


def test_an_endless_run_of_empty_pages_is_caught() -> None:
    pages = [(None, "c0", ["x"])] + [(f"c{i}", f"c{i + 1}", []) for i in range(100)]
    n, reason = _feed(WalkGuard(1000), pages)
    assert n == 1 + EMPTY_PAGES and reason is not None and "empty pages" in reason


def test_a_few_empty_pages_between_full_ones_are_fine() -> None:
    empties = [(f"e{i}", f"e{i + 1}", []) for i in range(EMPTY_PAGES - 1)]
    pages = [(None, "e0", ["x"]), *empties, (f"e{EMPTY_PAGES - 1}", "z", ["y"])]
    assert _feed(WalkGuard(1000), pages)[1] is None
    # Windowed walks hand on no cursor: empty pages there are quiet minutes, never "endless".
    assert _feed(WalkGuard(1000), [(None, None, [])] * 50)[1] is None


def test_the_page_cap_stops_a_walk_that_keeps_bringing_new_items() -> None:
    pages = [(f"c{i}" if i else None, f"c{i + 1}", [i]) for i in range(100)]
    n, reason = _feed(WalkGuard(max_pages=40), pages)
    assert n == 40 and reason is not None and "40 pages and still not at the end" in reason


def test_a_resumed_walk_still_catches_a_cycle_within_its_length() -> None:
    # The walk resumed from a saved cursor inside a cycle of 5: nothing seen yet, caught as soon
    # as the first cursor comes round again.
    ring = [f"c{i}" for i in range(5)]
    pages = [(ring[i % 5], ring[(i + 1) % 5], [i]) for i in range(3, 40)]
    n, reason = _feed(WalkGuard(1000), pages)
    assert n <= len(ring) + 1 and reason is not None and "circle" in reason


def test_the_pager_leaves_cycles_to_the_guard() -> None:
    # (It used to refuse only a cursor equal to the previous one; the guard sees the whole walk.)
    pager = CursorPager({})
    pager.update({"cursor": "same"})
    pager.update({"cursor": "same"})
    assert pager.next_params() == {"cursor": "same"}


def test_item_identity_per_walk_kind() -> None:
    assert KINDS["trades"].keys({"trades": [{"trade_id": "t1"}, {"x": 1}, "junk"]}) == [
        "t1",
        None,
        None,
    ]
    assert KINDS["markets"].keys({"markets": [{"ticker": "M1"}]}) == ["M1"]
    assert KINDS["events"].keys({"events": [{"event_ticker": "E1"}]}) == ["E1"]
    assert KINDS["candlesticks"].keys({"candlesticks": [{"end_period_ts": 60}]}) == [60]
    page = {
        "market_tickers": ["A", "B"],
        "market_candlesticks": [[{"end_period_ts": 60}], [{"end_period_ts": 60}]],
    }
    # The same minute of two markets is two candles.
    assert KINDS["event_candlesticks"].keys(page) == [("A", 60), ("B", 60)]
    batch = {
        "markets": [
            {"market_ticker": "A", "candlesticks": [{"end_period_ts": 60}]},
            {"market_ticker": "B", "candlesticks": [{"end_period_ts": 60}, {"x": 1}]},
        ]
    }
    assert KINDS["batch_candlesticks"].keys(batch) == [("A", 60), ("B", 60), None]
    assert OTHER_KIND.keys({"anything": [1]}) == []


def test_caps_leave_room_for_the_biggest_real_walks() -> None:
    # A trade every second for a market's two-day life, 1,000 a page.
    assert KINDS["trades"].max_pages > 50 * (2 * 86_400 // 1000)
    assert KINDS["events"].max_pages * 200 > 365 * 100
    assert issubclass(WalkStuckError, PermanentError) and WalkStuckError.exit_code == 3


# --- a hostile simulator, end to end -----------------------------------------------------------

REASONS = {
    "cycle": "round in a circle",
    "repeat": "only items already seen",
    "empty": "empty pages in a row",
}


@pytest.mark.timeout(90, method="thread")
@pytest.mark.parametrize("fault", sorted(REASONS))
def test_a_hostile_trades_walk_fails_its_unit_only_and_a_rerun_completes(
    sim_factory: Callable[..., Any],
    lake_dir: Path,
    settings_for: Callable[..., Any],
    raw_of: Callable[..., Any],
    truth_of: Callable[..., Any],
    fault: str,
) -> None:
    hostile = sim_factory(cursor_fault=fault, cursor_fault_on=TARGET)
    with pytest.raises(FetchIncompleteError) as info:
        run_high_backfill(settings_for(hostile), CITY, DAY, DAY)
    err = info.value
    msg = str(err)
    assert err.exit_code == 3 and "\n" not in msg
    # One line naming the unit, the endpoint with the ticker that identifies it, and the reason.
    assert f"trades {VICTIM}" in msg and f"GET {TARGET}:" in msg and REASONS[fault] in msg
    summary = err.summary
    assert isinstance(summary, BackfillSummary) and summary.status == "incomplete"
    assert len(summary.failures) == 1
    # Bounded: the honest day is 9 trades pages; the stuck walk adds a dozen at most.
    trades_requests = sum(hostile.stats()["by_endpoint"]["/markets/trades"].values())
    assert trades_requests <= 9 + EMPTY_PAGES + 2
    # Every other unit completed: the other markets' trades and every candle are in the raw layer.
    truth = truth_of(hostile.world, CITY, DAY, DAY, families=["high"])
    others = {t["trade_id"] for t in hostile.world.trades(VICTIM)}
    raw = raw_of(lake_dir)
    assert truth.trades - others <= set(raw.trades) and raw.candles == truth.candles
    # The stuck walk left no cursor to resume from, and its unit is not done.
    state = StateStore(Lake(str(lake_dir)), f"backfill/city={CITY.name}").load()
    assert state.get(f"trades/{VICTIM}") is None
    assert not [k for k, _ in state.items("walk/")]

    # The server heals: the same command resumes and completes.
    healthy = sim_factory()
    again = run_high_backfill(settings_for(healthy), CITY, DAY, DAY)
    assert again.status == "ok" and not again.failures
    assert set(raw_of(lake_dir).trades) == truth.trades
    # Only what was missing was fetched: the victim's trades (2 pages), nothing else of trades.
    assert healthy.stats()["by_endpoint"]["/markets/trades"] == {"200": 2}


@pytest.mark.timeout(90, method="thread")
def test_the_cli_exits_3_with_one_line_naming_the_endpoint(
    sim_factory: Callable[..., Any], lake_dir: Path
) -> None:
    hostile = sim_factory(cursor_fault="cycle", cursor_fault_on=TARGET)
    result = CliRunner().invoke(
        cli,
        ["--lake", str(lake_dir), "backfill", "--city", "chicago", "--start", str(DAY), "--end",
         str(DAY), "--api-url", hostile.base_url, "--no-transform"],
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "Traceback" not in result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: ") and f"GET {TARGET}:" in last and "circle" in last


@pytest.mark.timeout(120, method="thread")
def test_a_cycling_events_listing_stops_discovery_with_exit_3(
    sim_factory: Callable[..., Any], lake_dir: Path, settings_for: Callable[..., Any]
) -> None:
    # The series' first day: the events listing (read until it is past the range, newest
    # first) is its whole history, many pages of 200, so the walk reaches the last page and
    # the wrapped-round cursor is not the previous one.
    day = CITY.series("high").first_event
    hostile = sim_factory(cursor_fault="cycle", cursor_fault_on="/events")
    with pytest.raises(FetchIncompleteError) as info:
        run_high_backfill(settings_for(hostile), CITY, day, day)
    msg = str(info.value)
    assert "discovery of KXHIGHCHI" in msg and "GET /events?series_ticker=KXHIGHCHI:" in msg
    assert "circle" in msg
    pages = sum(hostile.stats()["by_endpoint"]["/events"].values())
    honest = sim_factory()
    assert run_high_backfill(settings_for(honest), CITY, day, day).status == "ok"
    # Caught one page after the listing wrapped round to its first page.
    listing = sum(honest.stats()["by_endpoint"]["/events"].values())
    assert listing > 2 and pages <= listing + 2


def run_high_backfill(*args: Any, **kwargs: Any) -> Any:
    """``run_backfill`` of the high family alone: these tests follow one series' walks."""
    return run_backfill(*args, families=["high"], **kwargs)
