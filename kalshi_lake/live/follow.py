"""``kalshi-lake follow``: record what only exists live, and keep the lake current.

:func:`run_follow` runs until stopped (Ctrl-C, SIGTERM, or ``--for``):

- **discovery** (:mod:`~kalshi_lake.live.markets`), every ``discover_every_s``: the followed
  series' current markets from REST, kept raw; the WebSocket subscriptions follow the result;
- **the WebSocket session** (:mod:`~kalshi_lake.live.session`) when a key is configured (the
  WebSocket refuses unsigned connections, https://docs.kalshi.com/websockets/websocket-connection):
  order books, trades, ticker and lifecycle, every frame into the journal;
- **REST catch-up**, every ``catch_up_every_s`` and soon after any gap the session reports (a hole
  in a sequence, a buffer overflow, a reconnect): a backfill of the followed cities' current event
  days (:func:`~kalshi_lake.backfill.run_backfills`: incremental from each market's saved
  watermark, so a pass costs a few requests per market). Without a key this is how trades arrive;
- **REST order books** (no key, or ``--orderbook rest``): ``GET /markets/orderbooks`` for every
  followed market of a city (up to 100 tickers a request) every ``book_every_s``, kept raw;
- **the journal** (:mod:`~kalshi_lake.live.journal`): frames durable within half a second on local
  disk, in minute segments rolled into ``raw/ws`` as they close (and everything at a clean
  stop); whatever an earlier run left is rolled first;
- **the curated tables**, every ``transform_every_s``: the journal rolled, then a transform of
  the followed cities' current event dates only (their partitions, never the whole lake), and
  once more at a clean stop; every ``compact_every_s`` past hours of ``raw/ws`` are compacted
  (:mod:`~kalshi_lake.live.compact`: an hour's minute files of a city and date into one);
- **a heartbeat** per city and family under ``_state/live/`` for ``kalshi-lake status``, and the
  follower's own events (start, each catch-up pass) in the journal beside the session's
  (:mod:`~kalshi_lake.live.heartbeat`).

The run summary counts frames, gaps, resyncs, reconnects and REST requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import itertools
import json
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from kalshi_lake.api.auth import signer_from_settings
from kalshi_lake.api.client import KalshiClient
from kalshi_lake.api.wsproto import ws_url_for
from kalshi_lake.cities import City, event_date, family_for_ticker
from kalshi_lake.config import Settings
from kalshi_lake.errors import ConfigError, KalshiLakeError, LockedError, UsageError
from kalshi_lake.lake.raw import RawPage, write_pages
from kalshi_lake.lake.state import STATE_DIR, new_run_id
from kalshi_lake.lake.storage import Lake
from kalshi_lake.live.compact import compact
from kalshi_lake.live.heartbeat import (
    FOLLOWER_CONN,
    Freshness,
    beat_body,
    tag_event,
    write_heartbeat,
)
from kalshi_lake.live.journal import Journal
from kalshi_lake.live.markets import Discovered, discover
from kalshi_lake.live.records import FrameRecord
from kalshi_lake.live.session import Gap, WsSession
from kalshi_lake.log import get_logger

log = get_logger(__name__)

ORDERBOOK_MODES = ("auto", "ws", "rest", "off")
#: Tickers per ``GET /markets/orderbooks`` request (Kalshi's maximum).
BOOKS_PER_REQUEST = 100


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
    #: Journal segments close every minute, so the curated tables follow within a minute; the
    #: hourly compaction (:mod:`~kalshi_lake.live.compact`) keeps raw/ws to tens of files a day.
    segment_s: float = 60.0
    #: How often the followed cities' current partitions are transformed (0: never; the final
    #: one at a clean stop too), after rolling what the journal holds.
    transform_every_s: float = 60.0
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


@dataclass
class FollowSummary:
    """What one ``follow`` run did."""

    run_id: str
    mode: Mode
    cities: list[str]
    seconds: float = 0.0
    frames_in: int = 0
    frames_out: int = 0
    frames_kept: int = 0
    firehose_skipped: int = 0
    gaps: int = 0
    resyncs: int = 0
    connects: int = 0
    disconnects: int = 0
    rest_requests: int = 0
    catch_up_passes: int = 0
    book_polls: int = 0
    raw_files: int = 0
    followed: int = 0
    transforms: int = 0
    compacted_files: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        out = dict(self.__dict__)
        out["mode"] = {"stream": self.mode.stream, "books": self.mode.books}
        return out

    def render(self) -> str:
        """The lines printed at the end."""
        lines = [
            f"follow {','.join(self.cities)}: {self.seconds:.0f} s, stream {self.mode.stream}, "
            f"order books {self.mode.books}, {self.followed} markets followed",
            f"  frames: {self.frames_in} in, {self.frames_out} out, {self.frames_kept} kept "
            f"({self.firehose_skipped} lifecycle frames of other markets skipped)",
            f"  gaps {self.gaps}, resyncs {self.resyncs}, connects {self.connects}, "
            f"disconnects {self.disconnects}",
            f"  REST: {self.rest_requests} requests, {self.catch_up_passes} catch-up passes, "
            f"{self.book_polls} order book polls; {self.raw_files} raw files written",
            f"  curated: {self.transforms} transforms; {self.compacted_files} raw/ws files "
            "compacted",
        ]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


class _Follower:
    """The loops of one run (see the module doc)."""

    def __init__(
        self,
        settings: Settings,
        cities: Sequence[City],
        families: Sequence[str] | None,
        options: FollowOptions,
        mode: Mode,
        transport: httpx.AsyncBaseTransport | None,
    ) -> None:
        self.settings = settings
        self.cities = list(cities)
        self.families = families
        self.opt = options
        self.mode = mode
        self.transport = transport
        self.lake = Lake.of(settings)
        self.run_id = new_run_id()
        self.summary = FollowSummary(self.run_id, mode, [c.name for c in self.cities])
        self.journal = Journal(
            journal_folder(settings, options.journal_dir), segment_s=options.segment_s
        )
        self.stop = asyncio.Event()
        self.catch_up_due = asyncio.Event()
        # A catch-up pass (a backfill) deletes the temp files under raw/ of its cities that
        # predate its lease, taking them for a killed run's: our own page writes (discovery,
        # book polls) must not be in flight then, or their rename fails.
        self.raw_writes = asyncio.Lock()
        self.followed: list[str] = []
        self.discovered: Discovered | None = None
        self.last_frame: dict[tuple[str, str], dict[str, int]] = {}
        self.fresh = Freshness()
        self._event_numbers = itertools.count(1)
        self.session: WsSession | None = None
        names = {c.name for c in self.cities}
        self._names = names

    # --- frames --------------------------------------------------------------------------------
    def follows(self, ticker: str) -> bool:
        """A ticker (market or event) of a followed city and family."""
        from kalshi_lake.cities import city_for_ticker

        city = city_for_ticker(ticker)
        if city is None or city.name not in self._names:
            return False
        return self.families is None or family_for_ticker(ticker) in self.families

    def _families(self) -> list[str]:
        have = sorted({f for c in self.cities for f in c.families})
        return [f for f in have if self.families is None or f in self.families]

    def record(self, rec: FrameRecord) -> None:
        """Journal one frame; remember when each city, family and market last heard anything."""
        if rec.direction == "event":
            rec = tag_event(rec, sorted(self._names), self._families())
        self.journal.append(rec)
        if rec.direction == "in" and rec.market_ticker and rec.city:
            family = family_for_ticker(rec.market_ticker) or "?"
            per = self.last_frame.setdefault((rec.city, family), {})
            per[rec.channel or "?"] = rec.recv_us
            self.fresh.seen(rec.market_ticker, rec.recv_us)

    def event(self, what: str, **fields: object) -> None:
        """The follower's own event record (``conn_id`` ``<run id>.follow``)."""
        at = time.time_ns() // 1000
        body = json.dumps({"event": what, "at_us": at, **fields}, separators=(",", ":"))
        self.record(
            FrameRecord(
                recv_us=at,
                conn_id=f"{self.run_id}.{FOLLOWER_CONN}",
                frame_no=next(self._event_numbers),
                direction="event",
                channel=None,
                msg_type=what,
                sid=None,
                seq=None,
                market_ticker=None,
                city=None,
                date=None,
                body=body,
            )
        )

    async def on_gap(self, gap: Gap) -> None:
        log.info("gap (%s on %s): a REST catch-up follows", gap.reason, gap.channel or "all")
        self.catch_up_due.set()

    # --- loops ---------------------------------------------------------------------------------
    async def _every(self, seconds: float, step: Callable[[], Awaitable[None]]) -> None:
        while not self.stop.is_set():
            try:
                await step()
            except KalshiLakeError as exc:
                if exc.exit_code == 2 and not exc.transient:
                    raise
                log.warning("%s", exc)
                self.summary.notes.append(str(exc))
            except OSError as exc:
                # A REST page not written is fetched again by the next catch-up pass; the
                # recorder itself (the journal) fails loudly on its own.
                log.warning("could not write to the lake: %s", exc)
                self.summary.notes.append(f"could not write to the lake: {exc}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), seconds)

    async def discover_once(self, client: KalshiClient) -> None:
        async with self.raw_writes:
            now = dt.datetime.now(dt.UTC)
            found = await discover(
                client, self.lake, self.cities, self.families, run_id=self.run_id, now=now
            )
        self.summary.rest_requests += found.requests
        self.discovered = found
        self.followed = found.tickers(now, dt.timedelta(seconds=self.opt.ahead_s))
        self.summary.followed = max(self.summary.followed, len(self.followed))
        if self.session is not None:
            self.session.want(self.followed)

    async def catch_up_loop(self) -> None:
        from kalshi_lake.backfill.multi import run_backfills
        from kalshi_lake.errors import FetchIncompleteError, LockedError

        while not self.stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.catch_up_due.wait(), self.opt.catch_up_every_s)
            if self.stop.is_set():
                return
            if self.catch_up_due.is_set() and self.summary.catch_up_passes:
                # let a burst of gaps settle into one pass
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stop.wait(), self.opt.catch_up_after_gap_s)
            self.catch_up_due.clear()
            started_us = time.time_ns() // 1000
            tickers = list(self.followed)
            ok = False
            today = dt.datetime.now(dt.UTC).date()
            settings = self.settings.with_(progress=False)
            try:
                async with self.raw_writes:
                    summary = await asyncio.to_thread(
                        run_backfills,
                        settings,
                        self.cities,
                        today - dt.timedelta(days=2),
                        today + dt.timedelta(days=1),
                        families=self.families,
                        transport=self.transport,
                    )
                self.summary.rest_requests += summary.requests
                ok = True
            except (FetchIncompleteError, LockedError) as exc:
                log.warning("catch-up: %s", exc)
                self.summary.notes.append(f"catch-up: {exc}")
            self.summary.catch_up_passes += 1
            # a finished pass repairs every gap before it (the live_gap_unrepaired check)
            self.event("catch_up", started_us=started_us, ok=ok, markets=len(tickers))
            if ok and self.mode.stream == "rest":
                self.fresh.confirm(tickers, started_us)

    async def poll_books(self, client: KalshiClient) -> None:
        if not self.followed:
            return
        by_city: dict[str, list[str]] = {}
        from kalshi_lake.cities import city_for_ticker

        for t in self.followed:
            found = city_for_ticker(t)
            if found is not None:
                by_city.setdefault(found.name, []).append(t)
        pages = []
        polled: list[tuple[list[str], int]] = []
        for city, tickers in sorted(by_city.items()):
            for i in range(0, len(tickers), BOOKS_PER_REQUEST):
                chunk = tickers[i : i + BOOKS_PER_REQUEST]
                asked_us = time.time_ns() // 1000
                resp = await client.get(
                    "/markets/orderbooks", {"tickers": chunk}, expect="orderbooks"
                )
                polled.append((chunk, asked_us))
                self.summary.rest_requests += 1
                pages.append(
                    RawPage(
                        endpoint="orderbooks",
                        tier="live",
                        city=city,
                        date=resp.fetched_at.astimezone(dt.UTC).date(),
                        request_path=resp.path,
                        request_params=resp.params,
                        body=resp.text,
                        fetched_at=resp.fetched_at,
                        run_id=self.run_id,
                        http_status=resp.status,
                    )
                )
        if pages:
            async with self.raw_writes:
                await asyncio.to_thread(write_pages, self.lake, pages)
            self.summary.book_polls += 1
            for chunk, asked_us in polled:
                self.fresh.confirm(chunk, asked_us)

    async def roll(self, older_than_s: float | None) -> None:
        result = await asyncio.to_thread(self.journal.roll, self.lake, older_than_s=older_than_s)
        self.summary.raw_files += result.files_written

    async def curate(self) -> None:
        """Roll the journal so far, then transform the followed cities' current partitions
        (the event dates of their followed markets): bounded, never the whole lake."""
        await self.roll(older_than_s=0)
        await self.transform()

    async def transform(self) -> None:
        """Transform the followed cities' current partitions (see :meth:`curate`)."""
        from kalshi_lake.transform import run_transform

        by_name = {c.name: c for c in self.cities}
        for city, (start, end) in sorted(self._current_dates().items()):
            try:
                await asyncio.to_thread(
                    run_transform, self.settings, city=by_name[city], start=start, end=end
                )
            except LockedError as exc:  # the catch-up's transform, or one of the user's
                log.info("transform %s: %s", city, exc)
                continue
            except Exception as exc:  # bad raw input (exit 3), a full disk, a bug: recording
                # comes first, so the recorder says so and goes on; the next pass tries again
                self._note_once(f"transform {city}: {str(exc).splitlines()[0]}")
            self.summary.transforms += 1

    def _current_dates(self) -> dict[str, tuple[dt.date, dt.date]]:
        """Per followed city, the first and last event date of its current markets (the last
        discovery's: the dates the catch-up fetches too)."""
        out: dict[str, tuple[dt.date, dt.date]] = {}
        for m in self.discovered.markets if self.discovered else ():
            day = event_date(m.ticker.rsplit("-", 1)[0])
            lo, hi = out.get(m.city, (day, day))
            out[m.city] = (min(lo, day), max(hi, day))
        return out

    async def compact(self) -> None:
        """Merge past hours of the followed cities' raw/ws minute files (module compact)."""
        try:
            result = await asyncio.to_thread(compact, self.lake, [c.name for c in self.cities])
        except Exception as exc:  # as for the transform: the recorder goes on, says so
            self._note_once(f"compaction: {str(exc).splitlines()[0]}")
            return
        self.summary.compacted_files += result.files_in

    def _note_once(self, note: str) -> None:
        log.warning("%s", note)
        if note not in self.summary.notes:
            self.summary.notes.append(note)

    async def heartbeat(self) -> None:
        """Write the heartbeat of every followed city and family (:mod:`.heartbeat`)."""
        now_us = time.time_ns() // 1000
        stats = self.session.stats if self.session is not None else None
        stopped = self.stop.is_set()
        subscribed: frozenset[str] = frozenset()
        if stats is not None and stats.connected_since_us is not None:
            subscribed = stats.subscribed
            if not stopped:
                self.fresh.confirm(subscribed, now_us)
        counters = {
            "gaps": stats.gaps if stats else 0,
            "resyncs": stats.resyncs if stats else 0,
            "disconnects": stats.disconnects if stats else 0,
        }
        for city in self.cities:
            for family in city.families:
                if self.families is not None and family not in self.families:
                    continue
                markets = [
                    m.ticker
                    for m in (self.discovered.markets if self.discovered else ())
                    if m.city == city.name and m.family == family and m.ticker in self.followed
                ]
                body = beat_body(
                    city=city.name,
                    family=family,
                    run_id=self.run_id,
                    stream=self.mode.stream,
                    books=self.mode.books,
                    every_s=self.opt.heartbeat_every_s,
                    now_us=now_us,
                    connected_since_us=None if stopped or not stats else stats.connected_since_us,
                    last_frame_us=self.last_frame.get((city.name, family), {}),
                    markets=markets,
                    subscribed=subscribed,
                    freshness=self.fresh,
                    counters=counters,
                    stopped=stopped,
                )
                await asyncio.to_thread(write_heartbeat, self.lake, body)

    # --- the run -------------------------------------------------------------------------------
    async def run(self) -> FollowSummary:
        started = time.monotonic()
        client = KalshiClient(self.settings, transport=self.transport)
        await client.__aenter__()
        tasks: list[asyncio.Task[None]] = []
        self.catch_up_due.set()  # the first pass at once: what traded before we started
        clean = False  # an end by --for, a stop or a signal (not an error) transforms once more
        try:
            await self.roll(older_than_s=0)  # what an earlier run left in the journal
            self.event(
                "follow_started", stream=self.mode.stream, books=self.mode.books, why=self.mode.why
            )
            await self.discover_once(client)
            if self.mode.stream == "ws":
                channels = ("trade", "ticker") + (
                    ("orderbook_delta",) if self.mode.books == "ws" else ()
                )
                self.session = WsSession(
                    ws_url_for(self.settings.api_url),
                    client.signer,
                    run_id=self.run_id,
                    journal=self.record,
                    follows=self.follows,
                    on_gap=self.on_gap,
                    use_yes_price=self.opt.use_yes_price,
                    market_channels=channels,
                )
                self.session.want(self.followed)
                tasks.append(asyncio.create_task(self.session.run(self.stop)))
            tasks.append(
                asyncio.create_task(
                    self._every(self.opt.discover_every_s, lambda: self.discover_once(client))
                )
            )
            tasks.append(asyncio.create_task(self.catch_up_loop()))
            if self.mode.books == "rest":
                tasks.append(
                    asyncio.create_task(
                        self._every(self.opt.book_every_s, lambda: self.poll_books(client))
                    )
                )
            tasks.append(
                asyncio.create_task(self._every(self.opt.roll_every_s, lambda: self.roll(None)))
            )
            if self.opt.transform_every_s > 0:
                tasks.append(
                    asyncio.create_task(self._every(self.opt.transform_every_s, self.curate))
                )
            tasks.append(asyncio.create_task(self._every(self.opt.compact_every_s, self.compact)))
            tasks.append(
                asyncio.create_task(self._every(self.opt.heartbeat_every_s, self.heartbeat))
            )
            waiter = asyncio.create_task(self.stop.wait())
            timer = self.opt.duration_s
            done, _ = await asyncio.wait(
                {waiter, *tasks}, timeout=timer, return_when=asyncio.FIRST_COMPLETED
            )
            for t in done:
                if t is not waiter and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]
            clean = True
        except asyncio.CancelledError:
            clean = True  # Ctrl-C or SIGTERM: the normal way to stop a recorder
            raise
        finally:
            self.stop.set()
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await client.aclose()
            try:
                await self.roll(older_than_s=0)  # everything recorded, into raw/ws
            finally:
                self.journal.close()
            if clean and self.opt.transform_every_s > 0:
                await self.transform()  # the curated tables up to the last frame
            with contextlib.suppress(Exception):
                await self.heartbeat()
            self._tally(started)
        return self.summary

    def _tally(self, started: float) -> None:
        s = self.summary
        s.seconds = time.monotonic() - started
        if self.session is not None:
            st = self.session.stats
            s.frames_in, s.frames_out, s.frames_kept = st.frames_in, st.frames_out, st.kept
            s.firehose_skipped, s.gaps, s.resyncs = st.firehose_skipped, st.gaps, st.resyncs
            s.connects, s.disconnects = st.connects, st.disconnects


def run_follow(
    settings: Settings,
    cities: Sequence[City],
    *,
    families: Sequence[str] | None = None,
    options: FollowOptions | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    on_start: Callable[[Mode], None] | None = None,
) -> FollowSummary:
    """Follow ``cities`` until stopped or ``options.duration_s`` has passed; the run's summary.

    Raises :class:`ConfigError` (exit 2) for ``--orderbook ws`` without a key, an unreadable key
    or a refused one (:class:`~kalshi_lake.errors.AuthRefusedError`), and
    :class:`~kalshi_lake.errors.LockedError` when another ``follow`` holds the journal.
    """
    options = options or FollowOptions()
    if not cities:
        raise UsageError("no city to follow")
    mode = choose_mode(settings, options.orderbook)
    # A key file that cannot be used fails now, before anything is announced or started.
    signer_from_settings(settings.api_key_id, settings.private_key_path)
    if on_start is not None:
        on_start(mode)
    follower = _Follower(settings, cities, families, options, mode, transport)
    try:
        return asyncio.run(follower.run())
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM is how a recorder is stopped: the run has closed its journal and
        # rolled every frame (its ``finally``); report it like any other end.
        follower.summary.notes.append("stopped by a signal")
        return follower.summary
