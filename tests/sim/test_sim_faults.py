"""Rate limiting, seeded fault injection, stats, and byte-identical replies."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest

from kalshi_lake.sim import SimConfig, SimServer

Factory = Callable[..., SimServer]
PATHS = [
    "/historical/cutoff",
    "/series/KXHIGHNY",
    "/events?series_ticker=KXHIGHCHI&limit=5",
    "/markets?series_ticker=KXHIGHTSEA&limit=20",
    "/events/KXHIGHNY-26NOV20",
    "/markets/trades?ticker=KXHIGHNY-26NOV20-B49.5&limit=50",
    "/historical/markets?event_ticker=KXHIGHNY-26SEP01",
]


def test_token_bucket_answers_429_without_retry_after(sim_factory: Factory) -> None:
    sim = sim_factory(rate=0.5, burst=2)
    with httpx.Client(base_url=sim.base_url) as c:
        replies = [c.get("/historical/cutoff") for _ in range(30)]
    codes = [r.status_code for r in replies]
    assert codes[:2] == [200, 200], "the bucket starts full"
    limited = [r for r in replies if r.status_code == 429]
    assert len(limited) >= 20
    for r in limited:
        assert r.content == b'{"error": "too many requests"}'
        assert "retry-after" not in r.headers
        assert not any(h.startswith("x-ratelimit") for h in r.headers)
    stats = sim.stats()
    assert stats["by_endpoint"]["/historical/cutoff"]["429"] == len(limited)
    assert stats["faults"]["rate_limited"] == len(limited)


def test_tokens_refill_at_the_configured_rate(sim_factory: Factory) -> None:
    sim = sim_factory(rate=20, burst=1)
    with httpx.Client(base_url=sim.base_url) as c:
        assert c.get("/historical/cutoff").status_code == 200
        time.sleep(0.2)  # four tokens' worth, capped at the burst of one
        assert c.get("/historical/cutoff").status_code == 200


def test_unlimited_by_default(sim: SimServer) -> None:
    with httpx.Client(base_url=sim.base_url) as c:
        assert {c.get("/historical/cutoff").status_code for _ in range(100)} == {200}


def test_server_errors_at_roughly_the_configured_rate(sim_factory: Factory) -> None:
    sim = sim_factory(fail_rate=0.3)
    with httpx.Client(base_url=sim.base_url) as c:
        codes = [c.get("/historical/cutoff").status_code for _ in range(400)]
    failed = [x for x in codes if x >= 500]
    assert set(failed) <= {500, 502, 503, 504} and len(set(failed)) >= 3
    assert 0.2 < len(failed) / len(codes) < 0.4
    assert set(codes) - set(failed) == {200}
    assert sim.stats()["faults"]["failed"] == len(failed)


def test_dropped_connections_raise_in_the_client(sim_factory: Factory) -> None:
    sim = sim_factory(drop_rate=1.0)
    with httpx.Client(base_url=sim.base_url) as c:
        for _ in range(3):
            with pytest.raises(httpx.TransportError):
                c.get("/historical/cutoff")
    assert sim.stats()["by_endpoint"]["/historical/cutoff"] == {"dropped": 3}


def test_malformed_bodies_are_not_json(sim_factory: Factory) -> None:
    sim = sim_factory(malformed_rate=1.0)
    kinds = set()
    with httpx.Client(base_url=sim.base_url) as c:
        for path in PATHS * 3:
            try:
                r = c.get(path)
            except httpx.TransportError:
                kinds.add("short read")
                continue
            assert r.status_code == 200
            with pytest.raises(json.JSONDecodeError):
                json.loads(r.content)
            kinds.add("cut")
    assert kinds == {"short read", "cut"}
    assert sim.stats()["faults"]["malformed"] == len(PATHS) * 3


def test_latency_is_added(sim_factory: Factory) -> None:
    sim = sim_factory(latency_ms=150, jitter_ms=50)
    with httpx.Client(base_url=sim.base_url) as c:
        c.get("/historical/cutoff")
        t0 = time.perf_counter()
        c.get("/historical/cutoff")
        assert time.perf_counter() - t0 >= 0.099  # lower bound only: never a timing flake
    assert sim.stats()["faults"]["delayed"] == 2


def _sequence(sim: SimServer) -> list[tuple[int, bytes]]:
    out = []
    with httpx.Client(base_url=sim.base_url) as c:
        for path in PATHS * 6:
            try:
                r = c.get(path)
                out.append((r.status_code, r.content))
            except httpx.TransportError as exc:
                out.append((-1, type(exc).__name__.encode()))
    return out


def test_faults_replay_exactly_for_the_same_seed(sim_factory: Factory) -> None:
    faulty = {"fail_rate": 0.2, "drop_rate": 0.1, "malformed_rate": 0.1}
    a = _sequence(sim_factory(seed=11, **faulty))
    b = _sequence(sim_factory(seed=11, **faulty))
    c = _sequence(sim_factory(seed=12, **faulty))
    assert a == b
    assert [s for s, _ in a] != [s for s, _ in c]
    assert {s for s, _ in a} >= {200, -1}


def test_faults_do_not_change_the_data(sim_factory: Factory) -> None:
    clean = _sequence(sim_factory(seed=11))
    noisy = _sequence(sim_factory(seed=11, fail_rate=0.3, latency_ms=1, jitter_ms=1))
    assert any(status >= 500 for status, _ in noisy)
    served = [(c, n) for c, n in zip(clean, noisy, strict=True) if n[0] == 200]
    assert served and all(c == n for c, n in served)


def test_same_seed_same_bytes_across_servers(sim_factory: Factory) -> None:
    paths = [*PATHS, "/series/KXHIGHNY/markets/KXHIGHNY-26NOV20-B49.5/candlesticks"
             "?start_ts=1795100000&end_ts=1795250000&period_interval=1"]  # fmt: skip
    one, two = sim_factory(), sim_factory()
    other = sim_factory(seed=99)
    with (
        httpx.Client(base_url=one.base_url) as a,
        httpx.Client(base_url=two.base_url) as b,
        httpx.Client(base_url=other.base_url) as o,
    ):
        for path in paths:
            ra, rb = a.get(path), b.get(path)
            assert ra.status_code == 200, (path, ra.text)
            assert ra.content == rb.content
            assert ra.headers == rb.headers
        assert a.get(PATHS[4]).content != o.get(PATHS[4]).content


def test_stats_endpoint_counts_requests_by_endpoint_and_status(sim: SimServer) -> None:
    with httpx.Client(base_url=sim.base_url) as c:
        c.get("/markets/KXHIGHNY-26NOV20-B49.5")
        c.get("/markets/NOPE-26NOV20-T1")
        c.get("/historical/cutoff")
        c.get("/nowhere")
        stats = c.get(f"http://127.0.0.1:{sim.port}/_sim/stats").json()
        also = c.get("/_sim/stats").json()
    assert stats["by_endpoint"]["/markets/{ticker}"] == {"200": 1, "404": 1}
    assert stats["by_endpoint"]["/historical/cutoff"] == {"200": 1}
    assert stats["by_endpoint"]["unknown"] == {"404": 1}
    assert stats["requests"] == 4 and stats["by_status"] == {"200": 2, "404": 2}
    assert also == stats == sim.stats(), "stats requests are not counted"


def test_keep_alive_serves_many_requests_on_one_connection(sim: SimServer) -> None:
    with httpx.Client(base_url=sim.base_url, limits=httpx.Limits(max_connections=1)) as c:
        for _ in range(50):
            assert c.get("/historical/cutoff").status_code == 200
    # a client that asks to close gets "Connection: close"
    r = httpx.get(f"{sim.base_url}/historical/cutoff", headers={"Connection": "close"})
    assert r.headers.get("connection") == "close"


def test_bad_config_is_refused() -> None:
    from kalshi_lake.errors import ConfigError

    for bad in ({"fail_rate": 1.5}, {"rate": 0}, {"burst": 0.5}, {"latency_ms": -1}):
        with pytest.raises(ConfigError):
            SimConfig(**bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [404, 500])
def test_fail_on_breaks_every_request_naming_it_and_nothing_else(
    sim_factory: Factory, status: int
) -> None:
    sim = sim_factory(fail_on="KXHIGHCHI", fail_on_status=status)
    with httpx.Client(base_url=sim.base_url) as c:
        codes = {p: c.get(p).status_code for p in PATHS}
    assert codes.pop("/events?series_ticker=KXHIGHCHI&limit=5") == status
    assert set(codes.values()) == {200}
    assert sim.stats()["faults"]["failed"] == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"fail_on": ""}, "fail_on must name"), ({"fail_on": "X", "fail_on_status": 418}, "404 or")],
)
def test_bad_fail_on_settings_are_refused(kwargs: dict[str, object], message: str) -> None:
    from kalshi_lake.errors import ConfigError

    with pytest.raises(ConfigError, match=message):
        SimConfig(**kwargs)  # type: ignore[arg-type]
