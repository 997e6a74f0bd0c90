"""How ``follow`` runs: its options, the mode the key decides, and where its journal lives."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from kalshi_lake.config import Settings
from kalshi_lake.errors import ConfigError, UsageError
from kalshi_lake.lake.state import STATE_DIR
from kalshi_lake.lake.storage import Lake

ORDERBOOK_MODES = ("auto", "ws", "rest", "off")


@dataclass(frozen=True)
class FollowOptions:
    """How ``follow`` runs; the defaults are the command's."""

    orderbook: str = "auto"
    duration_s: float | None = None
    discover_every_s: float = 300.0
    catch_up_every_s: float = 300.0
    #: A gap asks for a catch-up this soon (several gaps in a burst share one pass).
    catch_up_after_gap_s: float = 20.0
    book_every_s: float = 10.0
    #: How often closed journal segments are rolled into raw/ws.
    roll_every_s: float = 60.0
    #: Journal segments close every minute; the hourly compaction
    #: (:mod:`~kalshi_lake.live.compact`) keeps raw/ws to tens of files a day.
    segment_s: float = 60.0
    #: How often the followed cities' current partitions are transformed (0: never; the final
    #: one at a clean stop too), after rolling what the journal holds. A trade waits on average
    #: half of this, plus the transform's own time, to reach the curated tables: every 60 s
    #: gave a p95 of 64 s (goal 60 s) under load in the lag bench, every 30 s 44 s.
    transform_every_s: float = 30.0
    #: How often past hours of raw/ws are compacted.
    compact_every_s: float = 600.0
    heartbeat_every_s: float = 5.0
    #: Subscribe to markets opening within this much time.
    ahead_s: float = 600.0
    journal_dir: str | None = None
    use_yes_price: bool = False

    def __post_init__(self) -> None:
        if self.orderbook not in ORDERBOOK_MODES:
            raise UsageError(f"--orderbook must be one of {', '.join(ORDERBOOK_MODES)}")
        if self.duration_s is not None and self.duration_s <= 0:
            raise UsageError("--for must be a positive duration")


@dataclass(frozen=True)
class Mode:
    """What runs: the stream (``ws`` or ``rest``) and the order books (``ws``, ``rest``, ``off``)."""

    stream: str
    books: str
    why: str


def choose_mode(settings: Settings, orderbook: str) -> Mode:
    """The mode for these settings; ``--orderbook ws`` without a key is a :class:`ConfigError`."""
    if orderbook == "ws" and not settings.signed:
        raise ConfigError(
            "--orderbook ws needs an API key (Kalshi's WebSocket refuses unsigned connections): "
            "set KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH, or use --orderbook rest"
        )
    if settings.signed:
        books = "ws" if orderbook == "auto" else orderbook
        why = "an API key is configured: WebSocket (trades, ticker, lifecycle"
        why += ", order books)" if books == "ws" else f"), order books {books}"
        return Mode("ws", books, why)
    books = "rest" if orderbook == "auto" else orderbook
    why = (
        "no API key (KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH): the WebSocket needs one, so "
        f"trades come from REST polling and order books are {books}"
    )
    return Mode("rest", books, why)


def journal_folder(settings: Settings, chosen: str | None) -> Path:
    """Where the journal lives: ``chosen``, else ``<lake>/_state/journal`` for a local lake, else
    a folder per lake under ``~/.cache/kalshi-lake/journal`` (the journal is always local)."""
    if chosen:
        return Path(chosen).expanduser()
    lake = Lake.of(settings)
    if lake.is_local:
        return Path(lake.path(STATE_DIR, "journal"))
    digest = hashlib.sha256(settings.lake.encode()).hexdigest()[:16]
    return Path.home() / ".cache" / "kalshi-lake" / "journal" / digest
