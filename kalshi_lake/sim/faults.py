"""Misbehaviour on purpose: the token-bucket rate limit, seeded fault injection, hostile cursors,
hostile payloads, and counters.

Faults draw from their own ``random.Random`` seeded from the simulator seed, five draws per API
request whatever the configuration, so the same request sequence always meets the same faults
(a failing test replays) and the data model's determinism is never touched.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from kalshi_lake.sim.config import MARKET_FAULTS, SimConfig

#: Exactly what Kalshi sends with a 429 (no Retry-After, no X-RateLimit-* headers).
RATE_LIMITED_BODY = b'{"error": "too many requests"}'

#: 5xx answers a flaky upstream gives: JSON from the API, HTML from the load balancer.
SERVER_ERRORS: tuple[tuple[int, str, bytes], ...] = (
    (
        500,
        "application/json; charset=utf-8",
        b'{"error":{"code":"internal_server_error","message":"internal server error"}}',
    ),
    (
        502,
        "text/html",
        b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway"
        b"</h1></center></body></html>",
    ),
    (
        503,
        "application/json; charset=utf-8",
        b'{"error":{"code":"service_unavailable","message":"service unavailable"}}',
    ),
    (
        504,
        "text/html",
        b"<html><head><title>504 Gateway Time-out</title></head><body><center><h1>504 Gateway "
        b"Time-out</h1></center></body></html>",
    ),
)


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` stored; one token per request."""

    def __init__(
        self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self.tokens = burst
        self.last = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        """Spend a token if one is available."""
        with self._lock:
            now = self.clock()
            self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens >= 1.0:
                self.tokens -= 1.0
                return True
            return False


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """What happens to one request."""

    delay_s: float
    drop: bool
    fail: tuple[int, str, bytes] | None
    malformed: str | None  # "cut" (valid framing, truncated JSON) or "short" (body cut on the wire)
    cut_fraction: float


class Faults:
    """The seeded fault stream."""

    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.rng = random.Random(f"kalshi-sim-faults|{config.seed}")
        self._lock = threading.Lock()

    def draw(self) -> FaultPlan:
        """The next request's faults (always five draws, so the stream stays aligned)."""
        cfg = self.config
        with self._lock:
            r_jitter, r_drop, r_fail, r_mal, r_kind = (self.rng.random() for _ in range(5))
        delay_ms = cfg.latency_ms + (2.0 * r_jitter - 1.0) * cfg.jitter_ms
        fail = None
        if r_fail < cfg.fail_rate:
            fail = SERVER_ERRORS[min(len(SERVER_ERRORS) - 1, int(r_kind * len(SERVER_ERRORS)))]
        malformed = None
        if r_mal < cfg.malformed_rate:
            malformed = "short" if r_kind < 1 / 3 else "cut"
        return FaultPlan(
            delay_s=max(0.0, delay_ms) / 1000.0,
            drop=r_drop < cfg.drop_rate,
            fail=fail,
            malformed=malformed,
            cut_fraction=0.2 + 0.6 * r_kind,
        )


@dataclass(frozen=True, slots=True)
class CursorFault:
    """Hostile cursor pagination on the requests it matches (deterministic, no draws).

    Offsets past the end of a listing never occur in honest cursors, so the fault's cursors are
    ordinary signed cursors of such offsets: a healthy simulator given one later answers an
    empty last page, and a walk resumed from it ends.
    """

    kind: str
    endpoint: str | None
    filters: tuple[tuple[str, str], ...]

    @classmethod
    def from_config(cls, config: SimConfig) -> CursorFault | None:
        """The configured fault, or None."""
        if config.cursor_fault is None:
            return None
        on = config.cursor_fault_on
        if on is None:
            return cls(config.cursor_fault, None, ())
        path, _, query = on.partition("?")
        return cls(config.cursor_fault, path, tuple(parse_qsl(query)))

    def applies(self, endpoint: str, params: dict[str, str]) -> bool:
        """True for a request to ``endpoint`` whose query has every configured filter."""
        if self.endpoint is not None and endpoint != self.endpoint:
            return False
        return all(params.get(k) == v for k, v in self.filters)

    def page(self, start: int, stop: int, total: int, limit: int) -> tuple[int, int, int]:
        """``(start, stop, next offset)`` of a page as the fault serves it: never the end.

        ``start``/``stop`` are the honest page's bounds (``start`` may lie past the end: a
        fault cursor).
        """
        if self.kind == "cycle":
            # The last page hands on the first page's cursor: round and round.
            return start, stop, stop if stop < total else 0
        if start >= total > 0 and self.kind == "repeat":
            # Past the end: the first page's items again, under a cursor never handed out yet.
            return 0, min(total, limit), start + 1
        if start >= total:
            return start, start, start + 1
        return start, stop, stop


def _spoil_strike(m: dict[str, Any]) -> None:
    # The strike the market has (a bottom tail has only cap_strike), else floor_strike.
    m["cap_strike" if "floor_strike" not in m and "cap_strike" in m else "floor_strike"] = "abc"


def _spoil_volume(m: dict[str, Any]) -> None:
    m["volume_fp"] = "12x"


def _spoil_status(m: dict[str, Any]) -> None:
    m["status"] = 7


def _spoil_result(m: dict[str, Any]) -> None:
    m["result"] = {"value": m.get("result")}


_MARKET_SPOILERS: dict[str, Callable[[dict[str, Any]], None]] = {
    "strike_string": _spoil_strike,
    "volume_string": _spoil_volume,
    "status_number": _spoil_status,
    "result_object": _spoil_result,
}


class PayloadFaults:
    """Well-formed JSON with hostile content (``SimConfig.payload_faults``), no draws: the same
    request always gets the same answer.

    - ``event_no_ticker``: the last event of every ``events`` page (and a single ``event``)
      comes without ``event_ticker``.
    - the market kinds (:data:`~kalshi_lake.sim.config.MARKET_FAULTS`): the k-th kind switched
      on (in that order) spoils the k-th market from the end of every list of markets (listing
      pages, single markets, markets nested in events), so several kinds never meet on one
      market of a page that has enough markets.
    - ``floor_number``: every market that has a ``settlement_floor_dollars`` sends it as a JSON
      number (``"0.0500"`` -> ``0.05``), not the fixed-point string of the spec.
    - ``trade_conflict``: every trades page after the first of its walk starts with the previous
      page's last trade again, its yes price one cent off (see :meth:`conflicting_trade`).
    """

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names = frozenset(names)
        self.market_kinds = [k for k in MARKET_FAULTS if k in self.names]

    @classmethod
    def from_config(cls, config: SimConfig) -> PayloadFaults | None:
        """The configured faults, or None."""
        return cls(config.payload_faults) if config.payload_faults else None

    @property
    def trade_conflict(self) -> bool:
        """True when trades pages repeat a trade with another price."""
        return "trade_conflict" in self.names

    def spoil(self, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` (an answer about to be served) with the configured faults; the objects of
        ``body`` are never mutated (the world caches them): spoiled items are copies."""
        out = dict(body)
        if "event_no_ticker" in self.names:
            if isinstance(out.get("events"), list) and out["events"]:
                out["events"] = [*out["events"][:-1], _without(out["events"][-1], "event_ticker")]
            if isinstance(out.get("event"), dict):
                out["event"] = _without(out["event"], "event_ticker")
        if self.market_kinds or "floor_number" in self.names:
            if isinstance(out.get("markets"), list):
                out["markets"] = self._markets(out["markets"])
            if isinstance(out.get("market"), dict):
                out["market"] = self._markets([out["market"]])[0]
            if isinstance(out.get("event"), dict):
                out["event"] = self._nested(out["event"])
            if isinstance(out.get("events"), list):
                out["events"] = [self._nested(ev) for ev in out["events"]]
        return out

    def _nested(self, event: Any) -> Any:
        """An event object with its nested markets spoiled (if it has any)."""
        if not isinstance(event, dict) or not isinstance(event.get("markets"), list):
            return event
        return {**event, "markets": self._markets(event["markets"])}

    def _markets(self, markets: list[Any]) -> list[Any]:
        out = list(markets)
        for k, kind in enumerate(self.market_kinds):
            i = len(out) - 1 - k
            if i >= 0 and isinstance(out[i], dict):
                out[i] = dict(out[i])
                _MARKET_SPOILERS[kind](out[i])
        if "floor_number" in self.names:
            out = [
                {**m, "settlement_floor_dollars": float(m["settlement_floor_dollars"])}
                if isinstance(m, dict) and isinstance(m.get("settlement_floor_dollars"), str)
                else m
                for m in out
            ]
        return out

    @staticmethod
    def conflicting_trade(trade: dict[str, Any]) -> dict[str, Any]:
        """A copy of ``trade`` under the same ``trade_id`` with its yes price one cent off (up,
        or down from 0.99) and the no price to match."""
        yes = round(float(trade["yes_price_dollars"]) * 100)
        yes = yes + 1 if yes < 99 else yes - 1
        return {
            **trade,
            "yes_price_dollars": f"{yes / 100:.4f}",
            "no_price_dollars": f"{(100 - yes) / 100:.4f}",
        }


def _without(obj: Any, key: str) -> Any:
    return {k: v for k, v in obj.items() if k != key} if isinstance(obj, dict) else obj


def cut_body(body: bytes, fraction: float) -> bytes:
    """A strict prefix of ``body`` (at least one byte shorter), never valid JSON for an object."""
    n = max(1, min(len(body) - 1, int(len(body) * fraction)))
    return body[:n]


class Stats:
    """Request counters by endpoint and status, plus fault counts (thread-safe)."""

    FAULTS = ("delayed", "dropped", "failed", "malformed", "rate_limited")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.total = 0
        self.by_endpoint: dict[str, dict[str, int]] = {}
        self.by_status: dict[str, int] = {}
        self.faults: dict[str, int] = dict.fromkeys(self.FAULTS, 0)
        #: ``Accept-Language`` values of the requests seen (``""``: none sent).
        self.languages: dict[str, int] = {}

    def record(self, endpoint: str, status: str, fault: str | None = None) -> None:
        """Count one answered (or dropped: ``status="dropped"``) request."""
        with self._lock:
            self.total += 1
            per = self.by_endpoint.setdefault(endpoint, {})
            per[status] = per.get(status, 0) + 1
            self.by_status[status] = self.by_status.get(status, 0) + 1
            if fault is not None:
                self.faults[fault] += 1

    def language(self, header: str | None) -> None:
        """Count one request's ``Accept-Language`` header (None: the request sent none)."""
        with self._lock:
            key = header or ""
            self.languages[key] = self.languages.get(key, 0) + 1

    def fault(self, name: str) -> None:
        """Count a fault that does not change the answer (latency)."""
        with self._lock:
            self.faults[name] += 1

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy: ``{requests, by_endpoint, by_status, faults, accept_language}``."""
        with self._lock:
            return {
                "requests": self.total,
                "by_endpoint": {
                    k: dict(sorted(v.items())) for k, v in sorted(self.by_endpoint.items())
                },
                "by_status": dict(sorted(self.by_status.items())),
                "faults": dict(self.faults),
                "accept_language": dict(sorted(self.languages.items())),
            }
