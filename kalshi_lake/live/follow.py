"""``kalshi-lake follow``: record what only exists live, and keep the lake current.

:func:`run_follow` runs until stopped (Ctrl-C, SIGTERM, or ``--for``); this module is the run's
loop, wiring the parts, each a module of its own, and the state they share (the followed
markets, the freshness of each, the summary):

- **discovery** (:mod:`~kalshi_lake.live.markets`), every ``discover_every_s``: the followed
  series' current markets from REST, kept raw; the WebSocket subscriptions follow the result;
- **the WebSocket session** (:mod:`~kalshi_lake.live.session`) when a key is configured (the
  WebSocket refuses unsigned connections, https://docs.kalshi.com/websockets/websocket-connection):
  order books, trades, ticker and lifecycle, every frame into the journal;
- **REST catch-up** (:mod:`~kalshi_lake.live.catch_up`), every ``catch_up_every_s`` and soon
  after any gap the session reports. Without a key this is how trades arrive;
- **REST order books** (:mod:`~kalshi_lake.live.rest_books`; no key, or ``--orderbook rest``)
  every ``book_every_s``, kept raw;
- **the journal** (:mod:`~kalshi_lake.live.journal`): frames durable within half a second on local
  disk, in minute segments rolled into ``raw/ws`` as they close (and everything at a clean
  stop); whatever an earlier run left is rolled first;
- **the curated tables** (:mod:`~kalshi_lake.live.curate`), every ``transform_every_s``: the
  journal rolled, then a transform of the followed cities' current event dates only, and once
  more at a clean stop; every ``compact_every_s`` past hours of ``raw/ws`` are compacted;
- **a heartbeat** per city and family under ``_state/live/`` for ``kalshi-lake status``, and the
  follower's own events (start, each catch-up pass) in the journal beside the session's
  (:mod:`~kalshi_lake.live.heartbeat`).

Options and the mode are :mod:`~kalshi_lake.live.options`; the run summary
(:mod:`~kalshi_lake.live.summary`) counts frames, gaps, resyncs, reconnects and REST requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import time
from collections.abc import Awaitable, Callable, Sequence

import httpx

from kalshi_lake.api.auth import signer_from_settings
from kalshi_lake.api.client import KalshiClient
from kalshi_lake.api.wsproto import ws_url_for
from kalshi_lake.cities import City, city_for_ticker, family_for_ticker
from kalshi_lake.config import Settings
from kalshi_lake.errors import KalshiLakeError, UsageError
from kalshi_lake.lake.state import new_run_id
from kalshi_lake.lake.storage import Lake
from kalshi_lake.live.catch_up import CatchUp, CatchUpPass
from kalshi_lake.live.curate import Curated, compact_followed, transform_current
from kalshi_lake.live.heartbeat import (
    FOLLOWER_CONN,
    Freshness,
    beat_body,
    tag_event,
    write_heartbeat,
)
from kalshi_lake.live.journal import Journal
from kalshi_lake.live.markets import Discovered, discover
from kalshi_lake.live.options import FollowOptions, Mode, choose_mode, journal_folder
from kalshi_lake.live.records import FrameRecord
from kalshi_lake.live.rest_books import poll_books
from kalshi_lake.live.session import Gap, WsSession
from kalshi_lake.live.summary import FollowSummary
from kalshi_lake.log import get_logger

__all__ = ["FollowOptions", "FollowSummary", "Mode", "choose_mode", "run_follow"]

log = get_logger(__name__)


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


#: How long the last transform of a clean stop waits for a city's transform lease.
FINAL_TRANSFORM_WAIT_S = 60.0


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
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.settings = settings
        self.clock = clock
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
        # A catch-up pass (a backfill) deletes the temp files under raw/ of its cities that
        # predate its lease, taking them for a killed run's: our own page writes (discovery,
        # book polls) must not be in flight then, or their rename fails.
        self.raw_writes = asyncio.Lock()
        self.catch_up = CatchUp(
            settings,
            self.cities,
            families,
            transport,
            every_s=options.catch_up_every_s,
            after_gap_s=options.catch_up_after_gap_s,
            raw_writes=self.raw_writes,
            clock=clock,
        )
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
        self.catch_up.due.set()

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
            now = self.clock()
            found = await discover(
                client, self.lake, self.cities, self.families, run_id=self.run_id, now=now
            )
        self.summary.rest_requests += found.requests
        self.discovered = found
        self.followed = found.tickers(now, dt.timedelta(seconds=self.opt.ahead_s))
        self.summary.followed = max(self.summary.followed, len(self.followed))
        if self.session is not None:
            self.session.want(self.followed)

    def on_catch_up(self, done: CatchUpPass) -> None:
        """Count a catch-up pass and record it (a finished pass repairs every gap before it:
        the ``live_gap_unrepaired`` check)."""
        self.summary.rest_requests += done.requests
        self.summary.catch_up_passes += 1
        if done.note:
            self.summary.notes.append(done.note)
        self.event("catch_up", started_us=done.started_us, ok=done.ok, markets=len(done.tickers))
        if done.ok and self.mode.stream == "rest":
            self.fresh.confirm(done.tickers, done.started_us)

    async def poll_books(self, client: KalshiClient) -> None:
        """One REST poll of the followed markets' order books (:mod:`.rest_books`)."""
        if not self.followed:
            return
        poll = await poll_books(
            client, self.lake, self.followed, run_id=self.run_id, raw_writes=self.raw_writes
        )
        self.summary.rest_requests += poll.requests
        if poll.pages:
            self.summary.book_polls += 1
            for chunk, asked_us in poll.asked:
                self.fresh.confirm(chunk, asked_us)

    async def roll(self, older_than_s: float | None) -> None:
        result = await asyncio.to_thread(self.journal.roll, self.lake, older_than_s=older_than_s)
        self.summary.raw_files += result.files_written

    async def curate(self) -> None:
        """Roll the journal so far, then transform the followed cities' current partitions
        (the event dates of their followed markets): bounded, never the whole lake."""
        await self.roll(older_than_s=0)
        await self.transform()

    async def transform(self, wait_s: float = 0.0) -> None:
        """Transform the followed cities' current partitions (see :meth:`curate`); ``wait_s``:
        how long to wait for a city's lease held by another transform."""
        markets = self.discovered.markets if self.discovered else ()
        done = await transform_current(self.settings, self.cities, markets, wait_s=wait_s)
        self._tally_curated(done)

    async def compact(self) -> None:
        """Merge past hours of the followed cities' raw/ws minute files (module compact)."""
        self._tally_curated(await compact_followed(self.lake, self.cities))

    def _tally_curated(self, done: Curated) -> None:
        self.summary.transforms += done.transforms
        self.summary.compacted_files += done.compacted_files
        for note in done.notes:
            log.warning("%s", note)
            self.summary.note_once(note)

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
            tasks.append(
                asyncio.create_task(
                    self.catch_up.run(self.stop, lambda: self.followed, self.on_catch_up)
                )
            )
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
                # the curated tables up to the last frame, once this run's own transforms (in
                # threads a stop does not interrupt) have let go of the leases
                await self.transform(wait_s=FINAL_TRANSFORM_WAIT_S)
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
    clock: Callable[[], dt.datetime] | None = None,
) -> FollowSummary:
    """Follow ``cities`` until stopped or ``options.duration_s`` has passed; the run's summary.

    ``clock`` is the instant which markets are open and which days are current are judged at
    (default: the real UTC clock; tests hand in the simulator's, which may run at another
    hour or speed). Frames are always stamped with the real clock.

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
    follower = _Follower(settings, cities, families, options, mode, transport, clock or _utc_now)
    try:
        return asyncio.run(follower.run())
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM is how a recorder is stopped: the run has closed its journal and
        # rolled every frame (its ``finally``); report it like any other end.
        follower.summary.notes.append("stopped by a signal")
        return follower.summary
