"""The client over httpx.MockTransport: retries by error kind, budget, exact bodies, fail-fast."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from kalshi_lake.api.client import KalshiClient, auto_concurrency, client_burst
from kalshi_lake.config import Settings
from kalshi_lake.errors import (
    ApiUnreachableError,
    ClientError,
    NotFoundError,
    RateLimitedError,
    ServerError,
    TimeoutError_,
)

OK_BODY = '{"trades": [], "cursor":  ""}'


def run(
    settings: Settings,
    handler: Callable[[httpx.Request], httpx.Response],
    path: str = "/markets/trades",
    **kw: Any,
) -> tuple[Any, KalshiClient]:
    client = KalshiClient(settings, transport=httpx.MockTransport(handler))

    async def go() -> Any:
        async with client:
            return await client.get(path, {"ticker": "T", "limit": 1000}, **kw)

    return asyncio.run(go()), client


def script(*steps: Any) -> Callable[[httpx.Request], httpx.Response]:
    """A handler answering with each step in turn (exceptions are raised)."""
    it = iter(steps)

    def handler(request: httpx.Request) -> httpx.Response:
        step = next(it)
        if isinstance(step, Exception):
            raise step
        return step

    return handler


def test_body_is_kept_byte_for_byte(fast_settings: Settings) -> None:
    resp, client = run(fast_settings, script(httpx.Response(200, text=OK_BODY)), expect="trades")
    assert resp.text == OK_BODY and resp.data == {"trades": [], "cursor": ""}
    assert resp.path == "/markets/trades" and resp.params == {"ticker": "T", "limit": "1000"}
    assert client.stats.sent == 1 and client.stats.ok == 1


@pytest.mark.parametrize(
    "failure",
    [
        httpx.Response(429, json={"error": "too many requests"}),
        httpx.Response(500, text="oops"),
        httpx.Response(503, text="busy"),
        httpx.Response(408),
        httpx.Response(200, text='{"trades": [{"trade_id": "a"'),  # truncated
        httpx.Response(200, text="<html>bad gateway</html>"),  # not JSON
        httpx.Response(200, json={"unexpected": 1}),  # JSON without the expected key
        httpx.ReadError("connection reset"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadTimeout("read timed out"),
    ],
    ids=[
        "429",
        "500",
        "503",
        "408",
        "truncated",
        "html",
        "wrong-shape",
        "reset",
        "closed",
        "timeout",
    ],
)
def test_transient_failures_are_retried(fast_settings: Settings, failure: Any) -> None:
    handler = script(failure, httpx.Response(200, text=OK_BODY))
    resp, client = run(fast_settings, handler, expect="trades")
    assert resp.text == OK_BODY
    assert client.stats.retries == 1 and client.stats.sent == 2


def test_retry_after_is_honoured(fast_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def fake_sleep(d: float) -> None:
        slept.append(d)
        await real_sleep(0)

    monkeypatch.setattr("kalshi_lake.api.client.asyncio.sleep", fake_sleep)
    handler = script(
        httpx.Response(429, headers={"Retry-After": "2"}, json={"error": "too many requests"}),
        httpx.Response(200, text=OK_BODY),
    )
    resp, client = run(fast_settings, handler, expect="trades")
    assert resp.status == 200 and client.stats.rate_limited == 1
    assert slept and slept[0] >= 2.0


def test_gives_up_after_max_retries_with_the_last_error(fast_settings: Settings) -> None:
    handler = script(*[httpx.Response(502, text="bad gateway")] * 10)
    with pytest.raises(ServerError, match="gave up after 4 attempts") as info:
        run(fast_settings, handler)
    assert info.value.status == 502 and info.value.exit_code == 3


def test_retry_budget_is_shared_by_the_run(fast_settings: Settings) -> None:
    settings = fast_settings.with_(retry_budget=2, max_retries=10)
    handler = script(*[httpx.Response(429, json={"error": "too many requests"})] * 10)
    with pytest.raises(RateLimitedError, match="budget of 2 spent"):
        run(settings, handler)


def test_a_429_while_others_succeed_queues_again_without_spending_retries(
    fast_settings: Settings,
) -> None:
    # No retries at all: any charged retry would end the request.
    settings = fast_settings.with_(retry_budget=0, max_retries=0)
    served = asyncio.Event()
    slow_calls = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal slow_calls
        if request.url.path.endswith("/fast"):
            served.set()
            return httpx.Response(200, text=OK_BODY)
        slow_calls += 1
        if slow_calls == 1:
            await served.wait()
            await asyncio.sleep(0.05)  # /fast has been counted as a success by now
            return httpx.Response(429, json={"error": "too many requests"})
        return httpx.Response(200, text=OK_BODY)

    client = KalshiClient(settings, transport=httpx.MockTransport(handler))

    async def go() -> list[Any]:
        async with client:
            return await asyncio.gather(client.get("/slow"), client.get("/fast"))

    slow, _ = asyncio.run(go())
    assert slow.status == 200 and slow.attempts == 2
    assert client.stats.rate_limited == 1 and client.budget.used == 0
    # The 429 still slowed the whole client down (the limiter was cut once).
    assert client.limiter.epoch == 1


def test_a_request_refused_while_others_succeed_is_charged_in_the_end(
    fast_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kalshi_lake.api.client.MAX_QUEUED_RATE_LIMITED", 3)
    monkeypatch.setattr("kalshi_lake.api.client.RATE_LIMIT_PAUSE_S", 0.001)
    settings = fast_settings.with_(retry_budget=0, max_retries=0)

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.002)
        if request.url.path.endswith("/never"):
            return httpx.Response(429, json={"error": "too many requests"})
        return httpx.Response(200, text=OK_BODY)

    client = KalshiClient(settings, transport=httpx.MockTransport(handler))

    async def go() -> None:
        async with client:
            never = asyncio.ensure_future(client.get("/never"))
            while not never.done():
                await client.get("/ok")
            await never

    with pytest.raises(RateLimitedError, match="gave up after 4 attempts"):
        asyncio.run(go())
    assert client.stats.rate_limited == 4


@pytest.mark.parametrize(
    ("status", "kind"),
    [(404, NotFoundError), (400, ClientError), (401, ClientError), (301, ClientError)],
)
def test_other_4xx_fail_at_once(fast_settings: Settings, status: int, kind: type) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(
            status, json={"error": {"code": "x", "message": "max candlesticks: 5000"}}
        )

    with pytest.raises(kind) as info:
        run(fast_settings, handler)
    assert len(calls) == 1 and info.value.exit_code == 3
    assert str(status) in str(info.value)


def test_unreachable_api_fails_fast_with_exit_3(fast_settings: Settings) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("[Errno 111] Connection refused")

    settings = fast_settings.with_(max_retries=8, backoff_base_s=0.001)
    with pytest.raises(
        ApiUnreachableError, match=r"cannot reach the Kalshi API at https://api\.test"
    ):
        run(settings, handler)
    assert len(calls) == 2


def test_connection_refused_mid_run_is_transient(fast_settings: Settings) -> None:
    handler = script(
        httpx.Response(200, text=OK_BODY),
        httpx.ConnectError("refused"),
        httpx.Response(200, text=OK_BODY),
    )
    client = KalshiClient(fast_settings, transport=httpx.MockTransport(handler))

    async def go() -> None:
        async with client:
            await client.get("/a", expect="trades")
            await client.get("/b", expect="trades")

    asyncio.run(go())
    assert client.stats.retries == 1 and client.stats.dropped == 1


def test_timeouts_are_counted_and_classified(fast_settings: Settings) -> None:
    # Once the API has answered, a read timeout is a slow page: retried, then TimeoutError_.
    # (Before any answer it means nothing is listening properly: see test_cli_failures.)
    handler = script(httpx.Response(200, text=OK_BODY), *[httpx.ReadTimeout("slow")] * 10)
    client = KalshiClient(fast_settings, transport=httpx.MockTransport(handler))

    async def go() -> None:
        async with client:
            await client.get("/markets/trades")
            await client.get("/markets/trades")

    with pytest.raises(TimeoutError_):
        asyncio.run(go())
    assert client.stats.timeouts == fast_settings.max_retries + 1


def test_concurrency_bounds_requests_in_flight(fast_settings: Settings) -> None:
    in_flight = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.01)
        in_flight -= 1
        return httpx.Response(200, text=OK_BODY)

    settings = fast_settings.with_(concurrency=3)
    client = KalshiClient(settings, transport=httpx.MockTransport(handler))

    async def go() -> None:
        async with client:
            await asyncio.gather(*(client.get(f"/x{i}") for i in range(12)))

    asyncio.run(go())
    assert peak == 3 and client.stats.sent == 12


def test_rate_limit_spaces_requests(fast_settings: Settings) -> None:
    stamps: list[float] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        stamps.append(asyncio.get_running_loop().time())
        return httpx.Response(200, text=OK_BODY)

    # 50 req/s with a burst of 1: 11 requests need at least 0.2 s (no timing upper bound).
    settings = fast_settings.with_(rate=50.0, burst=1.0, concurrency=8)
    client = KalshiClient(settings, transport=httpx.MockTransport(handler))

    async def go() -> None:
        async with client:
            await asyncio.gather(*(client.get(f"/x{i}") for i in range(11)))

    asyncio.run(go())
    assert stamps[-1] - stamps[0] >= 0.2 - 0.02


def test_booleans_are_sent_lowercase(fast_settings: Settings) -> None:
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url)
        return httpx.Response(200, text=json.dumps({"events": []}))

    client = KalshiClient(fast_settings, transport=httpx.MockTransport(handler))

    async def go() -> None:
        async with client:
            await client.get("/events", {"with_nested_markets": True, "cursor": None})

    asyncio.run(go())
    assert seen[0].params == httpx.QueryParams({"with_nested_markets": "true"})
    assert seen[0].path == "/trade-api/v2/events"


def test_defaults_keep_the_bucket_busy_at_high_latency() -> None:
    assert auto_concurrency(20.0) >= 20 * 0.15  # 150 ms
    assert auto_concurrency(20.0, 1.0) >= 20
    assert Settings.load(env={}, rate=40.0).concurrency >= 40
    assert Settings.load(env={}, rate=40.0, concurrency=3).concurrency == 3
    # The client's bucket holds less than Kalshi's two seconds so the server keeps spare tokens.
    assert client_burst(Settings(rate=20.0)) == 20.0
    assert client_burst(Settings(rate=20.0, burst=5.0)) == 5.0
