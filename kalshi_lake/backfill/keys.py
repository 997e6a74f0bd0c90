"""State keys of a backfill and the records saved under them.

Every unit of work has a key in the city's :class:`~kalshi_lake.lake.state.StateStore`
(``_state/backfill/city=<name>``). Existing lakes hold these exact strings, so a re-run resumes
only if the formats below never change::

    trades/<ticker>                          TradesRecord: newest stored trade; an open market
                                             resumes at min_ts=hi
    candles/<ticker>                         CandlesRecord: last stored candle; an open market
                                             resumes there
    market/<ticker>                          MarketInfo.to_state(): market facts and ``final``
    event/<event>                            EventRecord: a final event is skipped entirely
    walk/trades/<tier>/<ticker>/<min_ts>     the pager checkpoint of an unfinished walk, with its
    walk/ecandles/<event>/<start>-<end>      running totals under ``agg`` (removed once the
    walk/hcandles/<ticker>/<start>-<end>     walk is done and its unit record is saved)
"""

from __future__ import annotations

from typing import Any, TypedDict, cast

from kalshi_lake.lake.state import StateStore

EVENT_PREFIX = "event/"


class TradesRecord(TypedDict):
    """``trades/<ticker>``: the span of stored trades (epoch seconds) and whether it is complete."""

    lo: float | None
    hi: float | None
    final: bool


class CandlesRecord(TypedDict):
    """``candles/<ticker>``: end of the newest stored candle and whether it is complete."""

    hi: float | None
    final: bool


class EventRecord(TypedDict):
    """``event/<event>``: the event's date, its markets, and whether all of it is stored."""

    date: str
    markets: list[str]
    final: bool


def trades_key(ticker: str) -> str:
    """Key of a market's trades unit."""
    return f"trades/{ticker}"


def candles_key(ticker: str) -> str:
    """Key of a market's candles unit."""
    return f"candles/{ticker}"


def market_key(ticker: str) -> str:
    """Key of a market's saved facts."""
    return f"market/{ticker}"


def event_key(event: str) -> str:
    """Key of an event's record."""
    return f"{EVENT_PREFIX}{event}"


def trades_walk_key(tier: str, ticker: str, min_ts: int | None) -> str:
    """Key of one trades cursor walk (one per tier and starting ``min_ts``)."""
    return f"walk/trades/{tier}/{ticker}/{min_ts or 0}"


def event_candles_walk_key(event: str, window: tuple[int, int]) -> str:
    """Key of one live event-candlestick walk over ``window``."""
    return f"walk/ecandles/{event}/{window[0]}-{window[1]}"


def market_candles_walk_key(ticker: str, window: tuple[int, int]) -> str:
    """Key of one historical per-market candlestick walk over ``window``."""
    return f"walk/hcandles/{ticker}/{window[0]}-{window[1]}"


class SavedState:
    """What earlier runs saved, as this run may use it: nothing at all under ``--refresh``."""

    def __init__(self, state: StateStore, refresh: bool) -> None:
        self.state = state
        self.refresh = refresh

    def get(self, key: str) -> dict[str, Any] | None:
        """The saved record of ``key`` (None under ``--refresh``)."""
        return None if self.refresh else self.state.get(key)

    def trades(self, ticker: str) -> TradesRecord | None:
        """The saved ``trades/<ticker>`` record."""
        return cast("TradesRecord | None", self.get(trades_key(ticker)))

    def candles(self, ticker: str) -> CandlesRecord | None:
        """The saved ``candles/<ticker>`` record."""
        return cast("CandlesRecord | None", self.get(candles_key(ticker)))

    def event(self, event: str) -> EventRecord | None:
        """The saved ``event/<event>`` record."""
        return cast("EventRecord | None", self.get(event_key(event)))

    def market(self, ticker: str) -> dict[str, Any] | None:
        """The saved ``market/<ticker>`` record (see ``MarketInfo.to_state``)."""
        return self.get(market_key(ticker))

    def final_event_dates(self) -> set[str]:
        """ISO dates that have a finished event (empty under ``--refresh``)."""
        if self.refresh:
            return set()
        return {
            rec["date"]
            for _, rec in self.state.items(EVENT_PREFIX)
            if rec.get("final") and rec.get("date")
        }
