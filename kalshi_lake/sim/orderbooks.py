"""The REST order book routes: one market's book, or up to 100 in one request.

Both show :func:`kalshi_lake.sim.book.book_at` at the world's now, in the ``orderbook_fp`` shape
(https://docs.kalshi.com/api-reference/market/get-market-orderbook and
https://docs.kalshi.com/api-reference/market/get-multiple-market-orderbooks): YES bids and NO
bids (NO-leg prices), each ascending with the best bid last, ``[price, size]`` pairs of 4-dp
dollar strings and 2-dp count strings; no timestamp. A ticker the world does not know, or a
market that is closed or archived, is an empty book (HTTP 200), as Kalshi answers.
"""

from __future__ import annotations

from typing import Any

from kalshi_lake.sim.book import Book
from kalshi_lake.sim.model import count_fp, dollars
from kalshi_lake.sim.wire import Params, invalid
from kalshi_lake.sim.world import World

__all__ = ["MAX_DEPTH", "MAX_TICKERS", "get_orderbook", "get_orderbooks", "orderbook_fp"]

MAX_DEPTH = 100
MAX_TICKERS = 100
MAX_TICKER_LEN = 200

_EMPTY = Book({}, {})


def orderbook_fp(book: Book, depth: int = 0) -> dict[str, list[list[str]]]:
    """A book as ``{"yes_dollars": [...], "no_dollars": [...]}``: ascending, best last; with
    ``depth > 0`` only the best ``depth`` levels of each side."""

    def side(ladder: dict[int, int]) -> list[list[str]]:
        levels = [[dollars(p), count_fp(ladder[p])] for p in sorted(ladder)]
        return levels[-depth:] if depth > 0 else levels

    return {"yes_dollars": side(book.yes), "no_dollars": side(book.no)}


def _book_now(world: World, ticker: str) -> Book:
    try:
        return world.book_at(ticker)
    except KeyError:
        return _EMPTY  # unknown (or not yet created) tickers get an empty book, not a 404


def get_orderbook(world: World, params: Params, ticker: str) -> dict[str, Any]:
    """GET /markets/{ticker}/orderbook[?depth=N]: ``depth`` 1..100 keeps the best N levels per
    side, 0 or negative all of them, above 100 is a 400."""
    depth = params.integer("depth") or 0
    if depth > MAX_DEPTH:
        raise invalid("Depth", "max")
    return {"orderbook_fp": orderbook_fp(_book_now(world, ticker), depth)}


def get_orderbooks(world: World, params: Params) -> dict[str, Any]:
    """GET /markets/orderbooks?tickers=A&tickers=B: one book per distinct ticker, in request
    order. The parameter repeats (1..100 values, each <= 200 characters); a comma-joined value is
    one ticker (that no market has), as Kalshi reads it."""
    tickers = params.repeated("tickers")
    if not tickers:
        raise invalid("Tickers", "required")
    if len(tickers) > MAX_TICKERS or any(len(t) > MAX_TICKER_LEN for t in tickers):
        raise invalid("Tickers", "max")
    return {
        "orderbooks": [
            {"orderbook_fp": orderbook_fp(_book_now(world, t)), "ticker": t}
            for t in dict.fromkeys(tickers)
        ]
    }
