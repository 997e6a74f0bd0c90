"""The WebSocket endpoint's handshake: authentication, maintenance, heartbeat pings."""

from __future__ import annotations

import asyncio
import datetime as dt
import json

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from websockets.exceptions import ConnectionClosed, InvalidStatus
from ws_support import (
    ANY_HEADERS,
    open_ws,
    public_pem,
    run,
    signed_headers,
    ws_sim,
)

from kalshi_lake.errors import ConfigError
from kalshi_lake.sim import SimConfig
from kalshi_lake.sim.model import to_us
from kalshi_lake.sim.ws import in_maintenance

UTC = dt.UTC


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


async def _status(sim: object, headers: dict[str, str]) -> tuple[int, dict[str, str]]:
    try:
        async with open_ws(sim, headers):  # type: ignore[arg-type]
            return 101, {}
    except InvalidStatus as exc:
        return exc.response.status_code, json.loads(exc.response.body)


def test_handshake_without_headers_is_401_json() -> None:
    with ws_sim() as sim:
        status, body = run(_status(sim, {}))
        assert (status, body) == (401, {"code": "token_authentication_failure"})
        partial = dict(ANY_HEADERS)
        del partial["KALSHI-ACCESS-SIGNATURE"]
        assert run(_status(sim, partial))[0] == 401
        assert sim.ws.stats.rejected == 2


def test_any_headers_pass_when_no_public_key_is_configured() -> None:
    with ws_sim() as sim:
        assert run(_status(sim, ANY_HEADERS))[0] == 101
        assert sim.ws.stats.accepted == 1


def test_signature_is_verified_against_the_configured_public_key(key: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with ws_sim(ws_public_key=public_pem(key), ws_key_id="key-1") as sim:
        assert run(_status(sim, signed_headers(key)))[0] == 101
        status, body = run(_status(sim, signed_headers(other)))
        assert (status, body["details"]) == (401, "INVALID_SIGNATURE")
        status, body = run(_status(sim, signed_headers(key, key_id="key-2")))
        assert (status, body["details"]) == (401, "NOT_FOUND")
        # A signature over another timestamp than the one sent does not verify either.
        headers = signed_headers(key)
        headers["KALSHI-ACCESS-TIMESTAMP"] = str(int(headers["KALSHI-ACCESS-TIMESTAMP"]) + 1)
        assert run(_status(sim, headers))[0] == 401


def test_revoked_key_is_refused(key: rsa.RSAPrivateKey) -> None:
    with ws_sim(ws_public_key=public_pem(key), ws_reject_auth=True) as sim:
        status, body = run(_status(sim, signed_headers(key)))
        assert (status, body["code"]) == (401, "authentication_error")


def test_a_bad_public_key_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="ws_public_key"):
        SimConfig(ws_public_key="not a key")


def test_plain_get_on_the_ws_path_is_not_an_upgrade_and_rest_still_works() -> None:
    with ws_sim() as sim:
        r = httpx.get(f"http://{sim.host}:{sim.port}/trade-api/ws/v2", headers=ANY_HEADERS)
        assert r.status_code in (400, 426)
        assert httpx.get(sim.base_url + "/series/KXHIGHCHI").status_code == 200


def test_server_pings_heartbeat_and_the_client_pongs() -> None:
    async def body(sim: object) -> None:
        async with open_ws(sim):  # type: ignore[arg-type]
            await asyncio.sleep(1.2)

    with ws_sim(ws_ping_interval_s=0.2) as sim:
        run(body(sim))
        counts = sim.ws.session_counts()
        assert counts["pongs"] >= 2
        assert sim.ws.sessions[0].pong_payloads == {b"heartbeat"}


# Thursday 2026-11-19, 03:00 ET = 08:00Z
WINDOW = dt.datetime(2026, 11, 19, 8, 0, tzinfo=UTC)


def test_maintenance_window_is_thursday_3_to_5_et() -> None:
    assert in_maintenance(to_us(WINDOW))
    assert in_maintenance(to_us(WINDOW + dt.timedelta(hours=1, minutes=59)))
    assert not in_maintenance(to_us(WINDOW - dt.timedelta(seconds=1)))
    assert not in_maintenance(to_us(WINDOW + dt.timedelta(hours=2)))
    assert not in_maintenance(to_us(WINDOW + dt.timedelta(days=1)))


def test_maintenance_closes_connections_and_refuses_handshakes() -> None:
    async def body(sim: object) -> int | None:
        async with open_ws(sim) as ws:  # type: ignore[arg-type]
            sim.clock.set(WINDOW)  # type: ignore[attr-defined]
            with pytest.raises(ConnectionClosed) as info:
                await asyncio.wait_for(ws.recv(), 30)
            assert info.value.rcvd is not None
            return info.value.rcvd.code

    with ws_sim(WINDOW - dt.timedelta(minutes=1), ws_maintenance=True) as sim:
        assert run(body(sim)) == 1001
        status, body_ = run(_status(sim, ANY_HEADERS))
        assert (status, body_["code"]) == (503, "service_unavailable")
        assert sim.ws.stats.closed_for_maintenance == 1
    # Off by default: the same instant is served.
    with ws_sim(WINDOW) as sim:
        assert run(_status(sim, ANY_HEADERS))[0] == 101
