"""The Kalshi REST client: async httpx, pooled keep-alive connections, a token bucket, retries.

One :class:`KalshiClient` per run. Every request goes through the same path::

    concurrency slot -> token from the bucket -> (sign) -> send -> classify -> retry or return

Classification turns every outcome into a success or an :mod:`kalshi_lake.errors` kind:

==============================================  ===========================================
outcome                                         error
==============================================  ===========================================
HTTP 429                                        ``RateLimitedError`` (transient)
HTTP 5xx                                        ``ServerError`` (transient)
HTTP 408, connect/read/write/pool timeouts      ``TimeoutError_`` (transient)
reset, closed early, cut-short or non-JSON body ``ConnectionDroppedError`` (transient)
HTTP 404                                        ``NotFoundError`` (permanent)
other 4xx / 3xx                                 ``ClientError`` (permanent)
no connection ever made to the API              ``ApiUnreachableError`` (exit 3, at once)
==============================================  ===========================================

Transient errors are retried (exponential backoff with full jitter, ``Retry-After`` honoured) until
the request's retries or the run's retry budget run out; the last error is then raised. Sleeping
between retries happens outside the concurrency slot, so other requests keep the bucket busy.

A 429 is not a failure like the others while the server keeps answering: it says the client is
ahead of the server's rate. It cuts the shared bucket's rate (once per overrun, with the
``Retry-After`` as the pause) and, when some request succeeded since this one joined the queue,
the request simply queues again: no backoff sleep of its own (the bucket paces it) and no retry
charged to it or to the run's budget. Otherwise a long storm would spend the budget and end a run
that was making steady progress. A 429 with no success anywhere since the request queued (the
server refuses everything) is charged like any transient error, so a server that never lets a
request through still ends the run; so is every 429 after
:data:`~kalshi_lake.api.retry.MAX_QUEUED_RATE_LIMITED` free ones for one request.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
import time
from collections import Counter
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import httpx

from kalshi_lake.api.auth import Signer, signer_from_settings
from kalshi_lake.api.limiter import TokenBucket
from kalshi_lake.api.retry import (
    MAX_QUEUED_RATE_LIMITED,
    MAX_RETRY_AFTER_S,
    RetryBudget,
    RetryPolicy,
    parse_retry_after,
)
from kalshi_lake.config import Settings
from kalshi_lake.errors import (
    ApiUnreachableError,
    ClientError,
    ConnectionDroppedError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TimeoutError_,
    TransientError,
)
from kalshi_lake.log import get_logger

log = get_logger(__name__)

USER_AGENT = "kalshi-lake/0.1 (+https://github.com/kalshi-lake)"

#: Attempts at a first connection before declaring the API unreachable (fail fast, exit 3).
UNREACHABLE_ATTEMPTS = 2

#: Minimum pause of the whole client after a 429 (see TokenBucket.penalize).
RATE_LIMIT_PAUSE_S = 0.5


def auto_concurrency(rate: float, expected_latency_s: float = 1.0) -> int:
    """Requests in flight needed to keep a ``rate`` bucket busy at ``expected_latency_s``.

    Little's law: in-flight = rate x latency. One second covers slow real-API pages with margin.
    """
    return max(8, math.ceil(rate * expected_latency_s))


def client_burst(settings: Settings) -> float:
    """The client bucket's capacity.

    An explicit ``Settings.burst`` wins. Otherwise one second of the rate: half of the two seconds
    Kalshi's read bucket holds, so the server keeps spare tokens to absorb network jitter instead
    of both buckets sitting at zero (where every early arrival is a 429).
    """
    if settings.burst is not None:
        return settings.effective_burst
    return max(1.0, settings.rate)


@dataclass
class ApiResponse:
    """One successful response: the exact body text, its parsed JSON and the request."""

    path: str
    params: dict[str, Any]
    status: int
    text: str
    data: dict[str, Any]
    fetched_at: dt.datetime
    attempts: int
    elapsed_s: float


@dataclass
class ClientStats:
    """Counters for the progress display and the run summary."""

    sent: int = 0
    ok: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    timeouts: int = 0
    dropped: int = 0
    malformed: int = 0
    client_errors: int = 0
    retries: int = 0
    bytes: int = 0
    by_tier: Counter[str] = field(default_factory=Counter)
    first_sent: float | None = None
    last_done: float | None = None

    def rate(self, now: float | None = None) -> float:
        """Requests sent per second since the first one."""
        if self.first_sent is None:
            return 0.0
        end = self.last_done if now is None else now
        span = (end or time.monotonic()) - self.first_sent
        return self.sent / span if span > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-able counters."""
        return {
            "requests": self.sent,
            "ok": self.ok,
            "rate_limited": self.rate_limited,
            "server_errors": self.server_errors,
            "timeouts": self.timeouts,
            "dropped": self.dropped,
            "malformed": self.malformed,
            "client_errors": self.client_errors,
            "retries": self.retries,
            "bytes": self.bytes,
            "requests_by_tier": dict(self.by_tier),
        }


#: Counters the current task's requests are also counted in, besides the client's own: a run of
#: several cities over one client sets one per city (asyncio tasks inherit it), so each city's
#: summary has its own request figures while every city shares the slots, limiter and budget.
ALSO_COUNT: ContextVar[ClientStats | None] = ContextVar("kalshi_also_count", default=None)


#: Query parameters as sent: text, or a list of texts for a repeated parameter.
Query = dict[str, str | list[str]]


def _encode_params(params: dict[str, Any] | None) -> Query:
    """Query values as text; a list or tuple becomes a repeated parameter (``?tickers=A&tickers=B``,
    the form ``GET /markets/orderbooks`` needs)."""
    out: Query = {}
    for k, v in (params or {}).items():
        if v is None:
            continue
        if isinstance(v, (list, tuple)):
            out[k] = [str(x) for x in v]
        else:
            out[k] = ("true" if v else "false") if isinstance(v, bool) else str(v)
    return out


class KalshiClient:
    """Async client for the read-only market-data endpoints, relative to ``Settings.api_url``.

    Use as ``async with KalshiClient(settings) as client: resp = await client.get("/series/X")``.
    ``transport`` replaces the network (tests pass ``httpx.MockTransport``).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        signer: Signer | None = None,
        limiter: TokenBucket | None = None,
        budget: RetryBudget | None = None,
    ) -> None:
        self.settings = settings
        self.base_url = settings.api_url.rstrip("/")
        # Loading the key here makes a bad key file fail before any request (exit 2).
        self.signer = signer or signer_from_settings(settings.api_key_id, settings.private_key_path)
        self.limiter = limiter or TokenBucket(settings.rate, client_burst(settings))
        self.policy = RetryPolicy(
            settings.max_retries, settings.backoff_base_s, settings.backoff_max_s
        )
        self.budget = budget or RetryBudget(settings.retry_budget)
        self.concurrency = max(1, int(settings.concurrency))
        self._slots = asyncio.Semaphore(self.concurrency)
        self.stats = ClientStats()
        self._connected = False
        self._transport = transport
        self._http: httpx.AsyncClient | None = None

    async def __aenter__(self) -> KalshiClient:
        timeout = httpx.Timeout(self.settings.timeout_s, connect=min(10.0, self.settings.timeout_s))
        limits = httpx.Limits(
            max_connections=self.concurrency,
            max_keepalive_connections=self.concurrency,
            keepalive_expiry=30.0,
        )
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            timeout=timeout,
            limits=limits,
            transport=self._transport,
            auth=self.signer,
            # English pinned: Kalshi translates titles into the request's language (es, pt),
            # and a proxy may add one; raw pages must stay reproducible.
            headers={
                "User-Agent": USER_AGENT,
                "Accept": "application/json",
                "Accept-Language": "en",
            },
            follow_redirects=False,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close pooled connections."""
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def get(
        self,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        expect: str | None = None,
        tier: str = "live",
    ) -> ApiResponse:
        """GET ``path`` (relative to the API base, e.g. ``/markets/trades``) with retries.

        ``expect`` names a top-level key the JSON object must have; a body without it is treated
        like a truncated one (retried). Raises a :class:`TransientError` when retries or the budget
        run out, a :class:`ClientError` for other 4xx, and :class:`ApiUnreachableError` when the
        API could never be reached at all.
        """
        if self._http is None:
            raise RuntimeError("KalshiClient used outside 'async with'")
        query = _encode_params(params)
        attempt = 0  # charged retries: drive the backoff, max_retries and the run's budget
        sends = 0
        queued_429s = 0
        epoch = 0
        t0 = time.monotonic()
        while True:
            ok_before = self.stats.ok
            sends += 1
            try:
                resp, fetched_at, epoch = await self._send_once(path, query, tier)
                return self._parse(resp, path, query, expect, fetched_at, sends, t0)
            except TransientError as err:
                if isinstance(err, RateLimitedError):
                    retry_after = min(err.retry_after or 0.0, MAX_RETRY_AFTER_S)
                    self.limiter.penalize(max(RATE_LIMIT_PAUSE_S, retry_after), sent_epoch=epoch)
                    if self.stats.ok > ok_before and queued_429s < MAX_QUEUED_RATE_LIMITED:
                        # The server is serving, just not this fast: queue again, uncharged.
                        queued_429s += 1
                        self._count_retry()
                        log.debug("429 on %s: queued again behind the limiter", path)
                        continue
                if self._give_up(err, path, attempt, sends):
                    raise
                delay = self.policy.backoff(attempt, err.retry_after)
                self._count_retry()
                log.info("retry %d of %s in %.2fs: %s", attempt + 1, path, delay, err)
                await asyncio.sleep(delay)
                attempt += 1

    def _count_retry(self) -> None:
        self.stats.retries += 1
        also = ALSO_COUNT.get()
        if also is not None:
            also.retries += 1

    def _give_up(self, err: TransientError, path: str, attempt: int, sends: int) -> bool:
        if not self._connected and isinstance(err, _Unreachable):
            if attempt + 1 >= UNREACHABLE_ATTEMPTS:
                raise ApiUnreachableError(
                    f"cannot reach the Kalshi API at {self.base_url} ({err}); check --api-url / "
                    "KALSHI_API_URL and the network"
                ) from None
            return False
        if attempt >= self.policy.max_retries:
            err.args = (f"{err} (gave up after {sends} attempts)",)
            return True
        if not self.budget.take():
            err.args = (f"{err} (run retry budget of {self.budget.total} spent)",)
            return True
        return False

    async def _send_once(
        self, path: str, query: Query, tier: str
    ) -> tuple[httpx.Response, dt.datetime, int]:
        assert self._http is not None
        async with self._slots:
            epoch = await self.limiter.acquire()
            now = time.monotonic()
            if self.stats.first_sent is None:
                self.stats.first_sent = now
            self.stats.sent += 1
            self.stats.by_tier[tier] += 1
            also = ALSO_COUNT.get()
            if also is not None:
                if also.first_sent is None:
                    also.first_sent = now
                also.sent += 1
                also.by_tier[tier] += 1
            timeout = self._timeout()
            try:
                resp = await self._http.get(path, params=query, timeout=timeout)
                # The body is read inside the slot: a connection cut mid-body is this attempt's.
                await resp.aread()
            except httpx.ConnectError as exc:
                self.stats.dropped += 1
                if not self._connected:
                    raise _Unreachable(_describe(exc)) from None
                raise ConnectionDroppedError(f"GET {path}: {_describe(exc)}") from None
            except httpx.TimeoutException as exc:
                self.stats.timeouts += 1
                if not self._connected and isinstance(exc, httpx.ConnectTimeout):
                    raise _Unreachable(_describe(exc)) from None
                if not self._connected and isinstance(exc, httpx.ReadTimeout):
                    # Connected, but nothing ever answered: a wrong port or a hung proxy, not a
                    # slow page. Fail fast like a refused connection instead of retrying for
                    # minutes in silence.
                    raise _Unreachable(
                        f"it accepted a connection but sent no answer within {timeout.read:g} s"
                    ) from None
                raise TimeoutError_(f"GET {path}: {_describe(exc)}") from None
            except (httpx.TransportError, httpx.DecodingError) as exc:
                self.stats.dropped += 1
                raise ConnectionDroppedError(f"GET {path}: {_describe(exc)}") from None
            finally:
                self.stats.last_done = time.monotonic()
            self._connected = True
            self.stats.bytes += len(resp.content)
            return resp, dt.datetime.now(dt.UTC), epoch

    def _timeout(self) -> httpx.Timeout:
        """The request timeout: until the API has answered once, the read timeout is the short
        ``Settings.first_answer_timeout_s`` (see :class:`~kalshi_lake.config.Settings`)."""
        read = self.settings.timeout_s
        if not self._connected:
            read = min(read, self.settings.first_answer_timeout_s)
        return httpx.Timeout(read, connect=min(10.0, self.settings.timeout_s))

    def _parse(
        self,
        resp: httpx.Response,
        path: str,
        query: Query,
        expect: str | None,
        fetched_at: dt.datetime,
        attempts: int,
        t0: float,
    ) -> ApiResponse:
        status = resp.status_code
        if status == 429:
            self.stats.rate_limited += 1
            also = ALSO_COUNT.get()
            if also is not None:
                also.rate_limited += 1
            raise RateLimitedError(
                f"GET {path}: HTTP 429 too many requests",
                status=429,
                retry_after=parse_retry_after(resp.headers.get("Retry-After")),
            )
        if status >= 500:
            self.stats.server_errors += 1
            raise ServerError(
                f"GET {path}: HTTP {status} {_snippet(resp.content)}",
                status=status,
                retry_after=parse_retry_after(resp.headers.get("Retry-After")),
            )
        if status == 408:
            self.stats.timeouts += 1
            raise TimeoutError_(f"GET {path}: HTTP 408", status=408)
        if status == 404:
            self.stats.client_errors += 1
            raise NotFoundError(f"GET {path}: HTTP 404 {_snippet(resp.content)}", status=404)
        if not 200 <= status < 300:
            self.stats.client_errors += 1
            raise ClientError(
                f"GET {path} {_query_text(query)}: HTTP {status} {_snippet(resp.content)}",
                status=status,
                body=resp.content[:2000].decode("utf-8", "replace"),
            )
        try:
            text = resp.content.decode("utf-8")
            data = json.loads(text)
        except (UnicodeDecodeError, ValueError):
            self.stats.malformed += 1
            raise ConnectionDroppedError(
                f"GET {path}: malformed body ({len(resp.content)} bytes, not JSON)", status=status
            ) from None
        if not isinstance(data, dict) or (expect is not None and expect not in data):
            self.stats.malformed += 1
            raise ConnectionDroppedError(
                f"GET {path}: malformed body (no {expect!r} in the JSON object)", status=status
            )
        self.stats.ok += 1
        self.limiter.reward()
        return ApiResponse(
            path=path,
            params=dict(query),
            status=status,
            text=text,
            data=data,
            fetched_at=fetched_at,
            attempts=attempts,
            elapsed_s=time.monotonic() - t0,
        )


class _Unreachable(ConnectionDroppedError):
    """No connection could be made and none ever was: the URL or the network is wrong."""


def _describe(exc: Exception) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def _snippet(body: bytes, n: int = 160) -> str:
    text = body[:n].decode("utf-8", "replace").replace("\n", " ")
    return text + ("..." if len(body) > n else "")


def _query_text(query: Query) -> str:
    pairs = [(k, x) for k, v in query.items() for x in ([v] if isinstance(v, str) else v)]
    return "?" + "&".join(f"{k}={v}" for k, v in pairs) if pairs else ""
