"""Packing the live candles of one day's events (a city's highs and lows) into batch requests.

The batch candlestick endpoint takes up to 100 tickers and 10,000 candles a request, counted as
tickers x periods of ONE window for all of them. A six-market event open about 38 hours (2,281
periods) alone takes 2 requests (13,686 > 10,000); four markets fit in one (9,124). The same
day's high and low events share their window, so their 12 markets take 3 requests instead of 4:
each event's markets in chunks of as many as fit, then the chunks left part-full merged when
their windows allow (pure: planned here, fetched by :mod:`~kalshi_lake.backfill.units`).

Every full chunk holds one event's markets, so each event keeps pages of its own (its family and
date file them in the raw layer); only the part-full remainders share a page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from kalshi_lake.api.paging import BATCH_CANDLE_CAP, BATCH_TICKERS


@dataclass(frozen=True)
class Chunk:
    """One batch walk: its tickers (in event order) over one window, and their events."""

    tickers: tuple[str, ...]
    window: tuple[int, int]
    events: tuple[str, ...]


def periods(window: tuple[int, int], period_s: int = 60) -> int:
    """Candles a request over ``window`` may return per ticker (both ends count)."""
    return (window[1] - window[0]) // period_s + 1


def fits(n_tickers: int, window: tuple[int, int]) -> bool:
    """True when ``n_tickers`` over ``window`` is one request (tickers and candles capped)."""
    return n_tickers <= BATCH_TICKERS and n_tickers * periods(window) <= BATCH_CANDLE_CAP


def pack(events: Sequence[tuple[str, Sequence[str], tuple[int, int]]]) -> list[Chunk]:
    """Chunks covering every ``(event, tickers, window)``: each event's tickers in chunks of as
    many as one request fits over its window, then the part-full ones merged (first fit, in the
    order given) when the merged chunk still fits over the union of their windows.

    A window too long for even one ticker a request gives one-ticker chunks (the pager cuts each
    into several requests), as does any event that fits no more.
    """
    full: list[Chunk] = []
    partial: list[Chunk] = []
    for event, tickers, window in events:
        per = max(1, min(BATCH_TICKERS, BATCH_CANDLE_CAP // periods(window)))
        for i in range(0, len(tickers), per):
            chunk = Chunk(tuple(tickers[i : i + per]), window, (event,))
            (full if len(chunk.tickers) == per else partial).append(chunk)
    merged: list[Chunk] = []
    for chunk in partial:
        for j, m in enumerate(merged):
            union = (min(m.window[0], chunk.window[0]), max(m.window[1], chunk.window[1]))
            if fits(len(m.tickers) + len(chunk.tickers), union):
                merged[j] = Chunk(m.tickers + chunk.tickers, union, m.events + chunk.events)
                break
        else:
            merged.append(chunk)
    return full + merged
