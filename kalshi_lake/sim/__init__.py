"""A deterministic, seeded Kalshi Trade API v2 simulator, and the project's one home for fake data.

Interface::

    from kalshi_lake.sim import SimClock, SimConfig, SimServer, SimTransport, World

    cfg = SimConfig(seed=7, now=datetime(2026, 11, 21, 15, 0, tzinfo=UTC),
                    speed=None,                       # simulated s per real s; None = frozen
                    rate=None, burst=None,            # token bucket (req/s, bucket size); None = off
                    latency_ms=0, jitter_ms=0,        # added per request (uniform +-jitter)
                    fail_rate=0.0,                    # share of requests answered 5xx
                    drop_rate=0.0,                    # share of connections closed with no answer
                    malformed_rate=0.0,               # share of bodies truncated / not JSON
                    cutoff_lag_days=60,               # historical cutoff: now - lag, at 00:00Z
                    cursor_fault=None,                # "cycle" | "repeat" | "empty": hostile cursors
                    cursor_fault_on=None,             # on "/endpoint[?k=v...]" (None: every listing)
                    payload_faults=(),                # hostile content: see config.PAYLOAD_FAULTS
                    host="127.0.0.1", port=0)
    with SimServer(cfg) as sim:                       # asyncio server in a thread
        sim.base_url                                  # "http://127.0.0.1:PORT/trade-api/v2"
        sim.clock                                     # SimClock: now_us(), now()
        sim.world                                     # World: the deterministic data (at start)
        sim.world_now()                               # the World at the clock's now
        sim.stats()                                   # same dict as GET /_sim/stats
        sim.app.handle("GET", "/trade-api/v2/...")    # the exact reply, without a socket

    transport = SimTransport(cfg)                     # the same simulator in-process, as an
    httpx.AsyncClient(transport=transport)            # httpx transport: same answers, same faults

    clock = SimClock.manual(start)                    # tests: a clock moved by hand
    SimServer(cfg, clock=clock)                       # (SimTransport too); clock.advance(s),
                                                      # clock.set(instant); never backwards

    World (pure python; data deterministic from (seed, series, date); "now" only decides what
    exists, statuses and tiers; faults never touch it):
        world.now, world.cutoff -> {"market_settled_ts", "trades_created_ts", "orders_updated_ts",
                                    "market_positions_last_updated_ts"}: aware UTC datetimes
        world.event(city, date, family=None) -> Event | None
                                                  (event_ticker, series_ticker, city, date, family,
                                                    high, low, value: the settled temperature,
                                                    markets: list[Market]); the city's high
                                                    series unless family="low"; None before the
                                                    series' first_event or before it is created
        world.event_by_ticker(t), world.market(t) -> Event | Market | None  (any family)
        world.events(cities=None, first=None, last=None) -> list[Event], newest first (default:
                                                  every series of every family, sim.world.SERIES)
        world.market_payload(ticker) -> dict      exactly the Market JSON object served
        world.event_payload(event) -> dict        the EventData object (no nested markets)
        world.trades(ticker) -> list[dict]        Trade objects created <= now, oldest first
                                                  (both tiers)
        world.candles(ticker, period=1) -> list[dict]             live shape, completed periods
        world.historical_candles(ticker, period=1) -> list[dict]  flat historical shape
        world.is_historical(ticker) -> bool       settled before market_settled_ts
        world.book_at(ticker, ts_us=None) -> Book the market's order book (default: at now;
                                                  .yes/.no: cents -> size in cc, best_bid(),
                                                  best_ask() on the YES scale)
        world.book_changes(ticker, t0_us, t1_us)  its level changes in (t0, t1]: BookChange(ts_us,
                                                  market_ticker, side, price_c, delta_cc, cause)
                                                  (pure: kalshi_lake.sim.book, from (seed, event))

Fake data at other levels, on the same :mod:`~kalshi_lake.sim.model` (ladders, tickers,
fixed-point and time formats), for tests and benchmarks that need volume rather than a server:
:mod:`kalshi_lake.sim.rawgen` (``generate_raw(lake, SynthSpec(...))``: a raw layer as the backfill
writes it) and :mod:`kalshi_lake.sim.curated` (``build_synthetic_lake(lake, ...)``: curated
tables as the transform writes them).

``sim.stats()`` / ``GET /_sim/stats`` (also under the API prefix; not counted, never limited):
``{"requests": n, "by_endpoint": {"/markets/{ticker}": {"200": n, "404": n}, ...},
"by_status": {...}, "faults": {"delayed", "dropped", "failed", "malformed", "rate_limited"}}``;
a dropped connection counts under status ``"dropped"``.

pytest fixtures (tests/conftest.py): ``sim`` (running SimServer, seed ``FIXTURE_SEED`` = 7, now
``FIXTURE_NOW`` = 2026-11-21T15:00Z, so the cutoff is 2026-09-22T00:00Z) and
``sim_factory(**SimConfig kwargs)`` (same defaults; every server stopped at teardown).
CLI: ``kalshi-lake sim [--port 0] [--seed N] [--now ISO] [--speed X] [--rate R] ...`` prints the
base URL as its first line and serves until SIGINT/SIGTERM.

Choices where the reference is silent or ambiguous (see ``api.py`` for the details):

- ``now`` is frozen for a server's lifetime (``None``: the clock at start), so equal requests get
  byte-identical answers, unless ``speed`` moves it or a test moves a manual clock; every answer
  is computed at the instant its request arrives (``GET /_sim/clock``: the simulated now).
- Order books: unknown, closed and archived markets answer an empty book (HTTP 200); the batch
  ``/markets/orderbooks`` answers one entry per distinct ticker in request order, an unknown one
  with an empty book.
- ``limit`` above the maximum is a 400 (the spec's validators say ``lte``), ``0`` = default.
- Listings (events, markets, historical markets, trades) are newest first.
- Candle caps are computed on the requested range: > 5,000 periods is a 400 on per-market paths,
  tickers x periods > 10,000 on the batch path; the event path truncates and returns
  ``adjusted_end_ts = start_ts + (5000 // n_markets) * period``.
- Every ladder has 6 markets (2 tails + 4 two-degree brackets), also in 2021-2022 when real NYC and
  Chicago ladders were narrower.
- ``/markets/trades`` without ``ticker`` merges all markets trading in ``[min_ts, max_ts]`` and
  refuses (400) windows spanning more than 600 markets (a simulator-only limit).
- ``/historical/markets``: ``tickers`` / ``event_ticker`` / ``series_ticker`` are mutually
  exclusive (400); ``mve_filter=exclude`` may accompany any of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kalshi_lake.sim.clock import SimClock
    from kalshi_lake.sim.config import SimConfig
    from kalshi_lake.sim.server import SimServer, run_sim
    from kalshi_lake.sim.transport import SimTransport
    from kalshi_lake.sim.world import Event, Market, World

__all__ = [
    "Event",
    "Market",
    "SimClock",
    "SimConfig",
    "SimServer",
    "SimTransport",
    "World",
    "run_sim",
]


def __getattr__(name: str) -> Any:
    # Lazy so that importing the package (for the docstring, or World alone) stays cheap.
    if name == "SimClock":
        from kalshi_lake.sim import clock

        return clock.SimClock
    if name == "SimConfig":
        from kalshi_lake.sim import config

        return config.SimConfig
    if name in ("SimServer", "run_sim"):
        from kalshi_lake.sim import server

        return getattr(server, name)
    if name == "SimTransport":
        from kalshi_lake.sim import transport

        return transport.SimTransport
    if name in ("Event", "Market", "World"):
        from kalshi_lake.sim import world

        return getattr(world, name)
    raise AttributeError(f"module 'kalshi_lake.sim' has no attribute {name!r}")
