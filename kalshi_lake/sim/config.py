"""The simulator's frozen configuration (pinned interface, see ``kalshi_lake.sim``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

from kalshi_lake.errors import ConfigError

UTC = dt.UTC

#: The seed and clock of the ``sim`` / ``sim_factory`` pytest fixtures (and the docs' examples):
#: tests import these rather than repeating them. With this "now" the historical cutoff
#: (60 days back) is 2026-09-22T00:00Z.
FIXTURE_SEED = 7
FIXTURE_NOW = dt.datetime(2026, 11, 21, 15, 0, tzinfo=UTC)

#: Hostile cursor behaviours ``SimConfig.cursor_fault`` can switch on.
CURSOR_FAULTS = ("cycle", "repeat", "empty")

#: Hostile answers ``SimConfig.payload_faults`` can switch on: the market kinds spoil one market
#: of every page each (in this order: the last market, the one before it, ...), see
#: :class:`~kalshi_lake.sim.faults.PayloadFaults`.
MARKET_FAULTS = ("strike_string", "volume_string", "status_number", "result_object")
PAYLOAD_FAULTS = ("event_no_ticker", *MARKET_FAULTS, "floor_number", "trade_conflict")


@dataclass(frozen=True)
class SimConfig:
    """Everything that decides what the simulator serves and how it misbehaves.

    ``now`` is the simulated clock at start (``None``: the real clock at start, truncated to the
    second). ``speed`` makes it advance: simulated seconds per real second (``None``: frozen for
    the server's lifetime, so equal requests get byte-identical answers); see
    :class:`~kalshi_lake.sim.clock.SimClock`, which tests can also hand the server in manual
    mode. ``rate`` / ``burst`` configure the token bucket in
    requests/s and bucket size (``rate=None``: no limit; ``burst=None``: two seconds of ``rate``,
    like Kalshi's Basic read bucket). ``latency_ms`` is added to every response, plus a uniform
    draw in ``[-jitter_ms, +jitter_ms]`` (never below zero). ``fail_rate`` / ``drop_rate`` /
    ``malformed_rate`` are the shares of requests answered 5xx, dropped without a response, or
    sent with a corrupt body. Faults draw from their own RNG seeded from ``seed``, so the same
    request sequence replays the same faults and the data never depends on them.

    ``cursor_fault`` makes cursor pagination hostile (see :class:`~kalshi_lake.sim.faults.
    CursorFault`): ``"cycle"`` (the last page hands on the first page's cursor, so the walk goes
    round for ever), ``"repeat"`` (after the last page, fresh cursors for ever, each serving the
    first page's items again) or ``"empty"`` (after the last page, fresh cursors for ever, each
    serving an empty page). ``cursor_fault_on`` picks the requests it applies to: an endpoint
    as in the stats (``"/markets/trades"``), optionally with query filters that must all match
    (``"/markets/trades?ticker=KX..."``); ``None``: every cursor-paginated endpoint.

    ``fail_on`` breaks one part of the API for good: every request whose target (path and
    query) contains this text, e.g. a series ticker (``"KXHIGHCHI"``: the series, its events,
    markets, trades and candles), is answered ``fail_on_status`` (404 or a 5xx), whatever else
    is configured.

    ``payload_faults`` (names from :data:`PAYLOAD_FAULTS`) serve well-formed JSON with hostile
    content, deterministically: ``"event_no_ticker"`` (the last event of every events page has
    no ``event_ticker``), ``"strike_string"`` (a strike ``"abc"``), ``"volume_string"``
    (``volume_fp`` ``"12x"``), ``"status_number"`` (``status`` ``7``), ``"result_object"``
    (``result`` an object), each on one market of every page that lists markets,
    ``"floor_number"`` (every ``settlement_floor_dollars`` a JSON number, not a string) and
    ``"trade_conflict"`` (every trades page after a walk's first starts with the previous page's
    last trade again, its price one cent off).

    The WebSocket endpoint (``/trade-api/ws/v2``, see :mod:`kalshi_lake.sim.ws`): a handshake
    needs the three ``KALSHI-ACCESS-*`` headers; with ``ws_public_key`` (PEM text of an RSA
    public key) the signature must verify against it, and with ``ws_key_id`` the key id must
    match. ``ws_reject_auth`` answers every handshake 401 (a revoked key). ``ws_ping_interval_s``
    is the heartbeat ping period (Kalshi: 10 s). Faults, shares of data frames, each seeded per
    connection: ``ws_drop_rate`` (a frame with a seq not sent, its seq still taken: a gap),
    ``ws_overflow_rate`` (error 25 on the sid, which ends), ``ws_disconnect_rate`` (the
    connection is cut after the frame), ``ws_oddity_rate`` (an unknown field in the frame, or an
    unknown frame type after it). ``ws_disconnect_at``: simulated instants at which every open
    connection is cut, after the data up to them (an exact number of disconnects).
    ``ws_maintenance`` closes connections and refuses handshakes (503) on Thursdays 03:00-05:00
    ET of the simulated clock. ``ws_deflate`` offers permessage-deflate.
    """

    seed: int = 0
    now: dt.datetime | None = None
    speed: float | None = None
    rate: float | None = None
    burst: float | None = None
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    fail_rate: float = 0.0
    drop_rate: float = 0.0
    malformed_rate: float = 0.0
    cutoff_lag_days: int = 60
    cursor_fault: str | None = None
    cursor_fault_on: str | None = None
    payload_faults: tuple[str, ...] = ()
    fail_on: str | None = None
    fail_on_status: int = 404
    host: str = "127.0.0.1"
    port: int = 0
    ws_public_key: str | None = None
    ws_key_id: str | None = None
    ws_reject_auth: bool = False
    ws_ping_interval_s: float = 10.0
    ws_drop_rate: float = 0.0
    ws_overflow_rate: float = 0.0
    ws_disconnect_rate: float = 0.0
    ws_oddity_rate: float = 0.0
    ws_maintenance: bool = False
    ws_disconnect_at: tuple[dt.datetime, ...] = ()
    ws_deflate: bool = True

    def __post_init__(self) -> None:
        if self.now is not None:
            if not isinstance(self.now, dt.datetime):
                raise ConfigError(f"now must be a datetime, got {self.now!r}")
            now = self.now if self.now.tzinfo else self.now.replace(tzinfo=UTC)
            object.__setattr__(self, "now", now.astimezone(UTC))
        if self.speed is not None and not self.speed > 0:
            raise ConfigError(
                f"sim speed must be positive (or None for a frozen clock), got {self.speed}"
            )
        if self.rate is not None and self.rate <= 0:
            raise ConfigError(f"sim rate must be positive (or None for unlimited), got {self.rate}")
        if self.burst is not None and self.burst < 1:
            raise ConfigError(f"sim burst must be at least 1, got {self.burst}")
        for name in (
            "fail_rate",
            "drop_rate",
            "malformed_rate",
            "ws_drop_rate",
            "ws_overflow_rate",
            "ws_disconnect_rate",
            "ws_oddity_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be between 0 and 1, got {value}")
        if self.latency_ms < 0 or self.jitter_ms < 0:
            raise ConfigError("latency_ms and jitter_ms must not be negative")
        if self.cursor_fault is not None and self.cursor_fault not in CURSOR_FAULTS:
            raise ConfigError(
                f"cursor_fault must be one of {', '.join(CURSOR_FAULTS)}, got {self.cursor_fault!r}"
            )
        if self.cursor_fault_on is not None:
            if self.cursor_fault is None:
                raise ConfigError("cursor_fault_on needs a cursor_fault")
            if not self.cursor_fault_on.startswith("/"):
                raise ConfigError(
                    f"cursor_fault_on must be an endpoint path such as /markets/trades, got "
                    f"{self.cursor_fault_on!r}"
                )
        object.__setattr__(self, "payload_faults", tuple(self.payload_faults))
        unknown = [f for f in self.payload_faults if f not in PAYLOAD_FAULTS]
        if unknown:
            raise ConfigError(
                f"payload_faults must be among {', '.join(PAYLOAD_FAULTS)}, got {unknown[0]!r}"
            )
        if self.fail_on == "":
            raise ConfigError("fail_on must name some text of the requests to fail (or be None)")
        if self.fail_on_status != 404 and not 500 <= self.fail_on_status <= 599:
            raise ConfigError(f"fail_on_status must be 404 or a 5xx, got {self.fail_on_status}")
        if self.cutoff_lag_days < 0:
            raise ConfigError(f"cutoff_lag_days must not be negative, got {self.cutoff_lag_days}")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be 0..65535, got {self.port}")
        cuts = []
        for t in self.ws_disconnect_at:
            if not isinstance(t, dt.datetime):
                raise ConfigError(f"ws_disconnect_at must hold datetimes, got {t!r}")
            cuts.append((t if t.tzinfo else t.replace(tzinfo=UTC)).astimezone(UTC))
        object.__setattr__(self, "ws_disconnect_at", tuple(sorted(cuts)))
        if not self.ws_ping_interval_s > 0:
            raise ConfigError(f"ws_ping_interval_s must be positive, got {self.ws_ping_interval_s}")
        if self.ws_public_key is not None:
            from kalshi_lake.sim.ws_auth import load_public_key

            load_public_key(self.ws_public_key)  # a ConfigError now, not at the first handshake

    @property
    def effective_burst(self) -> float:
        """Bucket size in requests (only meaningful when ``rate`` is set)."""
        if self.burst is not None:
            return float(self.burst)
        return max(1.0, 2.0 * (self.rate or 1.0))

    def resolved_now(self) -> dt.datetime:
        """``now``, or the real clock truncated to the second."""
        if self.now is not None:
            return self.now
        return dt.datetime.now(UTC).replace(microsecond=0)

    def with_(self, **changes: Any) -> SimConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def started(self, **overrides: Any) -> SimConfig:
        """This config with ``overrides``, and ``now`` fixed to the moment of the call when it
        is unset: a server's or transport's simulated clock starts when it does."""
        cfg = self.with_(**overrides) if overrides else self
        return cfg if cfg.now is not None else cfg.with_(now=cfg.resolved_now())
