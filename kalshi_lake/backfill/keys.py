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
    walk/bcandles/<event>/<start>-<end>[:i]  live batch candlesticks of an event's markets (``:i``
                                             for its i-th batch of 100 tickers, i >= 1)
    walk/bcandles/<event>/<start>-<end>~<h>  one packed chunk of a day's events' markets
                                             (``<event>``: its first event; ``<h>``: a hash of its
                                             tickers)

Lakes written before the batch endpoint hold ``walk/ecandles/`` keys: a live event is now fetched
with the batch endpoint, resuming from each market's ``candles/`` record, and a leftover event
walk over the same window is dropped once the batch walk is done.

:func:`keys_covering` maps lost raw pages (an endpoint and an event date) back to these keys:
the progress those pages proved, which a repair deletes so the next run fetches them again.
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any, NotRequired, TypedDict, cast

from kalshi_lake.cities import event_date
from kalshi_lake.lake.state import StateStore

EVENT_PREFIX = "event/"


class TradesRecord(TypedDict):
    """``trades/<ticker>``: the span of stored trades (epoch seconds) and whether it is complete."""

    lo: float | None
    hi: float | None
    final: bool
    #: Why the trades were not walked (e.g. the market closed with volume 0); absent if walked.
    skipped: NotRequired[str]


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


def batch_candles_walk_key(event: str, window: tuple[int, int], batch: int = 0) -> str:
    """Key of one live batch-candlestick walk of an event's markets (``batch``: which 100)."""
    suffix = f":{batch}" if batch else ""
    return f"walk/bcandles/{event}/{window[0]}-{window[1]}{suffix}"


def packed_candles_walk_key(event: str, tickers: Sequence[str], window: tuple[int, int]) -> str:
    """Key of one packed live batch walk (:mod:`~kalshi_lake.backfill.packing`): named by its
    first event (so a lost page of that day drops it) and a hash of all its tickers."""
    digest = zlib.crc32(",".join(tickers).encode()) & 0xFFFFFFFF
    return f"walk/bcandles/{event}/{window[0]}-{window[1]}~{digest:08x}"


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

    def final_event_dates(self, prefixes: Collection[str] | None = None) -> set[str]:
        """ISO dates that have a finished event (empty under ``--refresh``).

        ``prefixes``: only events whose ticker starts with one of these series tickers or legacy
        prefixes (one family's; a city's highs and lows share dates, never event tickers).
        """
        if self.refresh:
            return set()
        return {
            rec["date"]
            for key, rec in self.state.items(EVENT_PREFIX)
            if rec.get("final")
            and rec.get("date")
            and (prefixes is None or key[len(EVENT_PREFIX) :].split("-", 1)[0] in prefixes)
        }


#: Raw endpoints whose pages a ``trades/`` unit (and its walks) stands for.
TRADES_ENDPOINTS = frozenset({"trades"})
#: Raw endpoints whose pages a ``candles/`` unit (and its walks) stands for.
CANDLE_ENDPOINTS = frozenset({"candlesticks", "event_candlesticks", "batch_candlesticks"})
#: Families of state keys (see :func:`key_family`).
TRADES, CANDLES, EVENT, MARKET = "trades", "candles", "event", "market"


def key_family(key: str) -> tuple[str, str] | None:
    """``(family, ticker)`` of a unit key: ``trades`` (``trades/`` and ``walk/trades/``),
    ``candles`` (``candles/``, ``walk/ecandles/``, ``walk/bcandles/``, ``walk/hcandles/``), ``event`` or
    ``market``, with the market or event ticker the key is about; None for anything else."""
    parts = key.split("/")
    match parts:
        case ["trades", ticker]:
            return TRADES, ticker
        case ["candles", ticker]:
            return CANDLES, ticker
        case ["event", ticker]:
            return EVENT, ticker
        case ["market", ticker]:
            return MARKET, ticker
        case ["walk", "trades", _tier, ticker, _min_ts]:
            return TRADES, ticker
        case ["walk", "ecandles" | "bcandles" | "hcandles", ticker, _window]:
            return CANDLES, ticker
    return None


def families_of(endpoint: str) -> frozenset[str]:
    """The unit families whose progress pages of ``endpoint`` prove.

    Trades pages prove ``trades/`` units, candle pages ``candles/`` units, and every page of
    an event proves its ``event/`` record (a final event is skipped whole). Market listings
    (and single events or markets) prove only the event record: with it gone, the event's
    markets are listed again. The events listing, the series and the cutoff are fetched again
    by every run, so no progress stands for them.
    """
    if endpoint in TRADES_ENDPOINTS:
        return frozenset({TRADES, EVENT})
    if endpoint in CANDLE_ENDPOINTS:
        return frozenset({CANDLES, EVENT})
    if endpoint in ("markets", "event", "market"):
        return frozenset({EVENT})
    return frozenset()


def keys_covering(
    items: Iterable[tuple[str, Mapping[str, Any]]],
    lost: Mapping[dt.date, Collection[str]],
) -> list[str]:
    """The saved keys that claim pages now lost, so a run fetches those pages again.

    ``items`` are a city's saved ``(key, record)`` pairs; ``lost`` maps an event's climate
    date to the endpoints whose pages of that date are gone. A unit key is returned when its
    ticker's event falls on a lost date and its family is one of :func:`families_of` those
    endpoints. Market facts (``market/``) are never returned: they are not progress.
    """
    wanted: dict[dt.date, set[str]] = {}
    for d, endpoints in lost.items():
        fams = wanted.setdefault(d, set())
        for ep in endpoints:
            fams |= families_of(ep)
    out: list[str] = []
    for key, _rec in items:
        fam = key_family(key)
        if fam is None or fam[0] == MARKET:
            continue
        try:
            d = event_date(fam[1])
        except ValueError:
            continue
        if fam[0] in wanted.get(d, ()):
            out.append(key)
    return sorted(out)
