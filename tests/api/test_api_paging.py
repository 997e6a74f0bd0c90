"""Pagination state machines: cursor walks, adjusted_end_ts, and 5,000-candle chunks."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_lake.api.paging import (
    CANDLE_CAP,
    AdjustedEndPager,
    BatchPager,
    ChunkPager,
    CursorPager,
    Pager,
)
from kalshi_lake.errors import SchemaError


@pytest.mark.parametrize("last", ["", None, "missing"])
def test_cursor_walk_ends_on_any_empty_cursor(last: str | None) -> None:
    pager = CursorPager({"ticker": "X", "limit": 1000})
    assert pager.next_params() == {"ticker": "X", "limit": 1000}
    pager.update({"cursor": "abc"})
    assert pager.next_params() == {"ticker": "X", "limit": 1000, "cursor": "abc"}
    pager.update({} if last == "missing" else {"cursor": last})
    assert pager.done and pager.next_params() is None and pager.page == 2


def test_cursor_checkpoint_round_trip() -> None:
    pager = CursorPager({"a": 1})
    pager.update({"cursor": "c1"})
    again = CursorPager({"a": 1})
    again.restore(pager.checkpoint())
    assert again.next_params() == {"a": 1, "cursor": "c1"} and again.page == 1


def test_adjusted_end_is_followed_until_the_end() -> None:
    pager = AdjustedEndPager(1000, 5000)
    assert pager.next_params() == {"start_ts": 1000, "end_ts": 5000, "period_interval": 1}
    assert pager.update({"adjusted_end_ts": 3000}) == 3000
    assert pager.next_params() == {"start_ts": 3000, "end_ts": 5000, "period_interval": 1}
    assert pager.update({"adjusted_end_ts": 5000}) is None
    assert pager.done and pager.page == 2


def test_adjusted_end_that_does_not_advance_is_an_error() -> None:
    pager = AdjustedEndPager(1000, 5000)
    with pytest.raises(SchemaError):
        pager.update({"adjusted_end_ts": 1000})


# No deadline: cap=1 over 40,000 minutes is 40,001 chunks, slow on a loaded 2-core machine.
@settings(deadline=None)
@given(
    start=st.integers(0, 10**9),
    minutes=st.integers(0, 40_000),
    cap=st.sampled_from([1, 2, 7, 100, CANDLE_CAP]),
)
def test_chunks_cover_the_window_without_gaps_or_overlap(
    start: int, minutes: int, cap: int
) -> None:
    start -= start % 60
    end = start + minutes * 60
    pager = ChunkPager(start, end, cap=cap)
    covered = []
    while (p := pager.next_params()) is not None:
        s, e = p["start_ts"], p["end_ts"]
        # Candles ending in [s, e] on minute boundaries: never more than the cap.
        assert (e - s) // 60 + 1 <= cap
        covered.append((s, e))
        pager.update({"candlesticks": []})
    assert covered[0][0] == start and covered[-1][1] == end
    for (_, e1), (s2, _) in itertools.pairwise(covered):
        assert s2 == e1 + 60
    assert len(covered) == -(-(minutes + 1) // cap)


def test_chunk_resume_continues_at_the_saved_chunk() -> None:
    pager = ChunkPager(0, 60 * 12_000)
    pager.next_params()
    pager.update({})
    again = ChunkPager(0, 60 * 12_000)
    again.restore(pager.checkpoint())
    assert again.next_params() == {"start_ts": 60 * 5000, "end_ts": 60 * 9999, "period_interval": 1}


def _drain(pager: Pager, pages: list[dict[str, object]]) -> list[tuple[str | None, str | None]]:
    """Walk ``pager`` over canned ``pages`` through the Pager interface alone, as the backfill's
    walk engine does; returns (cursor sent, cursor handed on) per page."""
    seen = []
    it = iter(pages)
    while pager.next_params() is not None:
        sent = pager.cursor
        data = next(it)
        pager.update(data)
        seen.append((sent, pager.cursor_out(data)))
    return seen


def test_every_pager_walks_through_the_one_pager_interface() -> None:
    cursor = _drain(CursorPager({}), [{"cursor": "a"}, {"cursor": "b"}, {"cursor": ""}])
    # The last page's cursor is recorded as sent ("", which marks a finished walk in the raw
    # layer), not as the pager's None.
    assert cursor == [(None, "a"), ("a", "b"), ("b", "")]
    adjusted = _drain(
        AdjustedEndPager(0, 600),
        [{"adjusted_end_ts": 300, "cursor": "x"}, {"adjusted_end_ts": 600}],
    )
    assert adjusted == [(None, None), (None, None)]
    chunks = _drain(ChunkPager(0, 600, cap=6), [{"candlesticks": []}] * 2)
    assert chunks == [(None, None), (None, None)]


@given(
    n=st.integers(1, 100),
    start=st.integers(0, 10_000).map(lambda x: x * 60),
    minutes=st.integers(0, 20_000),
)
@settings(max_examples=200, deadline=None)
def test_batch_pager_covers_the_window_under_10000_candles(
    n: int, start: int, minutes: int
) -> None:
    tickers = tuple(f"T{i}" for i in range(n))
    pager = BatchPager(start, start + minutes * 60, tickers=tickers)
    ends: list[int] = []
    nxt = start
    while (params := pager.next_params()) is not None:
        assert params["market_tickers"] == ",".join(tickers)
        assert params["start_ts"] == nxt  # no gap, no overlap
        periods = (params["end_ts"] - params["start_ts"]) // 60 + 1  # both ends count
        assert n * periods <= 10_000
        ends.append(params["end_ts"])
        nxt = params["end_ts"] + 60
        pager.update({"markets": []})
    assert ends[-1] == start + minutes * 60
    # As few requests as the cap allows.
    assert len(ends) == -(-(minutes + 1) // (10_000 // n))


def test_batch_pager_refuses_more_than_100_tickers_and_resumes() -> None:
    with pytest.raises(ValueError, match="1 to 100"):
        BatchPager(0, 60, tickers=tuple(f"T{i}" for i in range(101)))
    with pytest.raises(ValueError):
        BatchPager(0, 60, tickers=())
    a = BatchPager(0, 3000 * 60, tickers=("A", "B", "C", "D", "E", "F"))
    a.next_params()
    a.update({})
    b = BatchPager(0, 3000 * 60, tickers=("A", "B", "C", "D", "E", "F"))
    b.restore(a.checkpoint())
    assert b.next_params() == a.next_params() == {
        "market_tickers": "A,B,C,D,E,F", "start_ts": 1666 * 60, "end_ts": 3000 * 60,
        "period_interval": 1,
    }  # fmt: skip
