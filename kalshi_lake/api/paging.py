"""Pagination as small pure state machines: they build requests and read responses, never send.

Three shapes occur in the Kalshi API:

- :class:`CursorPager`: listings and trades. Pass the previous page's opaque ``cursor``; a
  missing, ``null`` or ``""`` cursor ends the walk (``if not cursor``). See
  https://docs.kalshi.com/getting_started/pagination.
- :class:`AdjustedEndPager`: the live event candlestick endpoint. When more than 5,000 candles
  would be returned it answers up to ``adjusted_end_ts``, which becomes the next ``start_ts``
  (https://docs.kalshi.com/changelog, 15 Sep 2025).
- :class:`ChunkPager`: per-market candlesticks (archived markets, see
  https://docs.kalshi.com/getting_started/historical_data), split client-side so no request asks
  for more than 5,000 periods.
- :class:`BatchPager`: the live batch candlestick endpoint (``GET /markets/candlesticks``, see
  https://docs.kalshi.com/api-reference/market/batch-get-market-candlesticks): up to 100 tickers
  and 10,000 candles (tickers x periods) per request, split client-side like :class:`ChunkPager`.

All four satisfy :class:`Pager`, the one interface a walk needs: ``next_params()`` (``None``
when finished), ``update(data)`` with the parsed page, ``page`` (the number of the next page),
``cursor`` (the cursor the next request sends, if any), ``cursor_out(data)`` (the cursor a page
hands on, as sent) and ``checkpoint()``/``restore()`` so a walk interrupted by a crash continues
from its last durable page.

:class:`WalkGuard` watches one walk's pages and says when it would never end: a cursor handed
out twice (A, B, A...), pages that bring only items already seen, an endless run of empty pages,
or more pages than any real walk of its kind.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from kalshi_lake.errors import SchemaError

#: Most candles one candlestick request may return: more is refused with HTTP 400 "max
#: candlesticks: 5000" (observed live; the docs state it only for the event endpoint).
CANDLE_CAP = 5000
#: Most candles one batch candlestick request may ask for, counted across its tickers.
BATCH_CANDLE_CAP = 10_000
#: Most tickers one batch candlestick request may name.
BATCH_TICKERS = 100


class Pager(Protocol):
    """A pure, resumable pagination state machine: builds requests, reads responses, never sends."""

    @property
    def page(self) -> int:
        """Number of the next page (pages read so far)."""
        ...

    @property
    def cursor(self) -> str | None:
        """The cursor the next request sends (None for pagers without cursors)."""
        ...

    def next_params(self) -> dict[str, Any] | None:
        """Query parameters of the next request, or None when the walk is finished."""
        ...

    def update(self, data: dict[str, Any]) -> Any:
        """Read one parsed response page and advance."""
        ...

    def cursor_out(self, data: dict[str, Any]) -> str | None:
        """The cursor a page hands on, as the API sent it (None for pagers without cursors)."""
        ...

    def checkpoint(self) -> dict[str, Any]:
        """JSON-able progress to resume from."""
        ...

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`checkpoint`."""
        ...


@dataclass
class CursorPager:
    """Walk a cursor-paginated listing to its end."""

    params: dict[str, Any]
    cursor: str | None = None
    page: int = 0
    done: bool = False

    def next_params(self) -> dict[str, Any] | None:
        """Query parameters of the next request, or None when the walk is finished."""
        if self.done:
            return None
        out = dict(self.params)
        if self.cursor:
            out["cursor"] = self.cursor
        return out

    def update(self, data: dict[str, Any]) -> str | None:
        """Read one page; returns the cursor for the next page (None at the end)."""
        nxt = data.get("cursor")
        if nxt is not None and not isinstance(nxt, str):
            raise SchemaError(f"cursor is a {type(nxt).__name__}, expected a string")
        self.page += 1
        if not nxt:
            self.done = True
            self.cursor = None
            return None
        # A cursor that comes back (now or pages later) is caught by the walk's WalkGuard.
        self.cursor = nxt
        return nxt

    def cursor_out(self, data: dict[str, Any]) -> str | None:
        """The page's ``cursor`` field as sent (``""`` on the last page of the sim and the API)."""
        out = data.get("cursor")
        return out if isinstance(out, str) else None

    def checkpoint(self) -> dict[str, Any]:
        """JSON-able progress: the cursor of the next page and its number."""
        return {"cursor": self.cursor, "page": self.page, "done": self.done}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`checkpoint`."""
        self.cursor = state.get("cursor") or None
        self.page = int(state.get("page", 0))
        self.done = bool(state.get("done", False))


class _Windowed:
    """Progress of a walk over ``[start_ts, end_ts]``: no cursor, resumes from ``start_ts``."""

    start_ts: int
    end_ts: int
    page: int
    done: bool

    @property
    def cursor(self) -> str | None:
        """Windowed walks send no cursor."""
        return None

    def cursor_out(self, data: dict[str, Any]) -> str | None:
        """Windowed walks hand on no cursor."""
        return None

    def checkpoint(self) -> dict[str, Any]:
        """JSON-able progress: the next request's ``start_ts`` and page number."""
        return {"start_ts": self.start_ts, "page": self.page, "done": self.done}

    def restore(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`checkpoint` (done once the window is covered)."""
        self.start_ts = int(state.get("start_ts", self.start_ts))
        self.page = int(state.get("page", 0))
        self.done = bool(state.get("done", False)) or self.start_ts > self.end_ts


@dataclass
class AdjustedEndPager(_Windowed):
    """Walk ``[start_ts, end_ts]`` of the event candlestick endpoint, following ``adjusted_end_ts``.

    The boundary candle at ``adjusted_end_ts`` comes back twice; the transform dedups it on
    ``(ticker, end_period_ts)``.
    """

    start_ts: int
    end_ts: int
    period: int = 1
    page: int = 0
    done: bool = False

    def __post_init__(self) -> None:
        if self.end_ts < self.start_ts:
            self.done = True

    def next_params(self) -> dict[str, Any] | None:
        """``start_ts``, ``end_ts``, ``period_interval`` of the next request."""
        if self.done:
            return None
        return {"start_ts": self.start_ts, "end_ts": self.end_ts, "period_interval": self.period}

    def update(self, data: dict[str, Any]) -> int | None:
        """Read one response; returns the next ``start_ts`` or None when the window is covered."""
        self.page += 1
        adj = data.get("adjusted_end_ts")
        if adj is None:
            self.done = True
            return None
        if not isinstance(adj, int) or isinstance(adj, bool):
            raise SchemaError(f"adjusted_end_ts is a {type(adj).__name__}, expected an integer")
        if adj >= self.end_ts:
            self.done = True
            return None
        if adj <= self.start_ts:
            raise SchemaError(
                f"adjusted_end_ts {adj} does not advance past start_ts {self.start_ts}"
            )
        self.start_ts = adj
        return adj


@dataclass
class ChunkPager(_Windowed):
    """Split ``[start_ts, end_ts]`` into requests of at most ``cap`` periods each.

    A request ``[s, e]`` returns candles *ending* in ``[s, e]``: at most ``(e - s) / step + 1`` of
    them, so chunks span ``(cap - 1) * step`` seconds and the next starts one step later (no gap,
    no overlap).
    """

    start_ts: int
    end_ts: int
    period: int = 1
    cap: int = CANDLE_CAP
    page: int = 0
    done: bool = False
    _chunk_end: int = field(default=0, repr=False)

    def __post_init__(self) -> None:
        if self.cap < 1:
            raise ValueError("cap must be at least 1")
        if self.end_ts < self.start_ts:
            self.done = True

    @property
    def step(self) -> int:
        """Seconds per period."""
        return self.period * 60

    def next_params(self) -> dict[str, Any] | None:
        """The next chunk's ``start_ts``, ``end_ts`` and ``period_interval``."""
        if self.done:
            return None
        self._chunk_end = min(self.end_ts, self.start_ts + (self.cap - 1) * self.step)
        return {
            "start_ts": self.start_ts,
            "end_ts": self._chunk_end,
            "period_interval": self.period,
        }

    def update(self, data: dict[str, Any]) -> int | None:
        """Advance past the chunk just fetched; returns the next ``start_ts`` or None at the end."""
        self.page += 1
        if not self._chunk_end:
            self._chunk_end = min(self.end_ts, self.start_ts + (self.cap - 1) * self.step)
        nxt = self._chunk_end + self.step
        if nxt > self.end_ts:
            self.done = True
            return None
        self.start_ts = nxt
        return nxt


@dataclass
class BatchPager(ChunkPager):
    """Walk ``[start_ts, end_ts]`` of the batch candlestick endpoint for up to 100 ``tickers``.

    Each request names every ticker, so its time chunk is cut to ``BATCH_CANDLE_CAP //
    len(tickers)`` periods: the candles it may return (tickers x periods, counting both ends of
    the range) never exceed 10,000.
    """

    tickers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= len(self.tickers) <= BATCH_TICKERS:
            raise ValueError(f"a batch names 1 to {BATCH_TICKERS} tickers, got {len(self.tickers)}")
        self.cap = BATCH_CANDLE_CAP // len(self.tickers)
        super().__post_init__()

    def next_params(self) -> dict[str, Any] | None:
        """The next chunk's parameters with ``market_tickers`` (comma-separated)."""
        params = super().next_params()
        if params is None:
            return None
        return {"market_tickers": ",".join(self.tickers), **params}


#: Pages in a row that bring items, every one already seen in this walk, before the walk counts
#: as stuck. One such page can happen for real (a newest-first listing that shifted by a whole
#: page between two requests); three in a row is a server serving the same items again.
STALE_PAGES = 3
#: Empty pages in a row that still hand on a cursor before the walk counts as stuck. A filtered
#: listing may answer an empty page with a cursor to go on (filtering after paging); ten in a row
#: is a server that will never say "the end".
EMPTY_PAGES = 10


@dataclass
class WalkGuard:
    """Notices a walk that would never end (pure: one per walk, fed every page in order).

    Sees only what this walk fetched since it started or resumed: a walk resumed from a saved
    cursor starts with nothing seen, and a cycle of ``n`` cursors is still caught within ``n + 1``
    pages (and any walk at ``max_pages``).
    """

    #: More pages than this is not a real walk of its kind (counted from the walk's first page,
    #: across resumes: pass the pager's page number).
    max_pages: int
    stale_limit: int = STALE_PAGES
    empty_limit: int = EMPTY_PAGES
    cursors: set[str] = field(default_factory=set, repr=False)
    items: set[Hashable] = field(default_factory=set, repr=False)
    stale: int = 0
    empty: int = 0

    def check(
        self,
        pages: int,
        cursor_in: str | None,
        cursor_out: str | None,
        keys: Sequence[Hashable | None],
    ) -> str | None:
        """Read one page of a walk that goes on; returns why it is stuck (None: it may go on).

        ``pages`` is the number of pages read so far (this one included), ``cursor_in`` the
        cursor this page was asked with, ``cursor_out`` the one it hands on (windowed walks:
        None), ``keys`` the identity of each item on it (None: an item without one, which
        counts as new). Call it only when the walk is not finished: a last page may be empty
        or repeat items without harm.
        """
        if cursor_in:
            self.cursors.add(cursor_in)
        fresh = False
        for key in keys:
            if key is None or key not in self.items:
                fresh = True
                if key is not None:
                    self.items.add(key)
        if fresh:
            self.stale = 0
        elif keys:
            self.stale += 1
        self.empty = self.empty + 1 if not keys and cursor_out else 0
        if cursor_out and cursor_out in self.cursors:
            return (
                f"the API handed back a cursor it had already sent in this walk "
                f"({_short(cursor_out)}): its pages go round in a circle"
            )
        if self.stale >= self.stale_limit:
            return (
                f"{self.stale} pages in a row brought only items already seen in this walk, "
                "each with a new cursor"
            )
        if self.empty >= self.empty_limit:
            return f"{self.empty} empty pages in a row, each handing on another cursor"
        if pages >= self.max_pages:
            return (
                f"{pages:,} pages and still not at the end (no real walk of this kind needs "
                f"{self.max_pages:,})"
            )
        return None


def _short(cursor: str, n: int = 16) -> str:
    return repr(cursor if len(cursor) <= n else cursor[:n] + "...")
