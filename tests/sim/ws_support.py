"""Helpers of the WebSocket endpoint's tests: a simulator on a manual clock, a signed client,
and a reader that collects frames up to a command's reply (the session answers a command only
after streaming everything up to the clock's instant, so the reply is a barrier)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from websockets.asyncio.client import ClientConnection, connect

from kalshi_lake.sim import SimConfig, SimServer
from kalshi_lake.sim.clock import SimClock
from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED

T = TypeVar("T")
WS_PATH = "/trade-api/ws/v2"
#: A Saturday afternoon: the climate day 2026-11-21's ladders trade, the 22nd's are listed.
START = FIXTURE_NOW
PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH)


def run(coro: Awaitable[T], timeout: float = 120) -> T:
    """Run a coroutine to completion (tests are plain functions)."""

    async def bounded() -> T:
        return await asyncio.wait_for(coro, timeout)

    return asyncio.run(bounded())


@contextmanager
def ws_sim(start: dt.datetime = START, **config: Any) -> Iterator[SimServer]:
    """A simulator whose clock is manual, started at ``start``."""
    config.setdefault("seed", FIXTURE_SEED)
    config.setdefault("now", start)
    server = SimServer(SimConfig(**config), clock=SimClock.manual(start)).start()
    try:
        yield server
    finally:
        server.stop()


def ws_url(sim: SimServer) -> str:
    """The endpoint's URL."""
    return f"ws://{sim.host}:{sim.port}{WS_PATH}"


def signed_headers(key: rsa.RSAPrivateKey, key_id: str = "key-1") -> dict[str, str]:
    """The three KALSHI-ACCESS-* headers, signed as Kalshi's docs say."""
    ts = str(int(time.time() * 1000))
    sig = key.sign(f"{ts}GET{WS_PATH}".encode(), PSS, hashes.SHA256())
    return {
        "KALSHI-ACCESS-KEY": key_id,
        "KALSHI-ACCESS-TIMESTAMP": ts,
        "KALSHI-ACCESS-SIGNATURE": base64.b64encode(sig).decode(),
    }


#: Headers that pass when the simulator verifies no signature.
ANY_HEADERS = {
    "KALSHI-ACCESS-KEY": "key-1",
    "KALSHI-ACCESS-TIMESTAMP": "1790000000000",
    "KALSHI-ACCESS-SIGNATURE": "c2lnbmF0dXJl",
}


def public_pem(key: rsa.RSAPrivateKey) -> str:
    """PEM text of the key's public half."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def open_ws(sim: SimServer, headers: dict[str, str] | None = None) -> Any:
    """``async with open_ws(sim) as ws``: a client connection with passing headers."""
    return connect(
        ws_url(sim), additional_headers=ANY_HEADERS if headers is None else headers, open_timeout=30
    )


class Reader:
    """Sends commands with fresh ids and collects every frame the server sends, in order."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self.texts: list[str] = []
        self._id = 0

    async def send(self, cmd: str, params: dict[str, Any] | None = None) -> int:
        """Send one command; returns its id."""
        self._id += 1
        body: dict[str, Any] = {"id": self._id, "cmd": cmd}
        if params is not None:
            body["params"] = params
        await self.ws.send(json.dumps(body))
        return self._id

    async def until(self, done: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        """Frames received until (and including) the first for which ``done`` is true."""
        got = []
        while True:
            text = await asyncio.wait_for(self.ws.recv(), 60)
            assert isinstance(text, str)
            frame = json.loads(text)
            self.texts.append(text)
            self.frames.append(frame)
            got.append(frame)
            if done(frame):
                return got

    async def reply(self, cmd_id: int) -> list[dict[str, Any]]:
        """Frames up to the last reply to ``cmd_id`` that can be recognised as final: the
        first frame echoing the id."""
        return await self.until(lambda f: f.get("id") == cmd_id)

    async def barrier(self) -> list[dict[str, Any]]:
        """Everything the server streamed up to now: frames until a list_subscriptions reply
        (which comes after all data up to the clock's instant)."""
        cmd_id = await self.send("list_subscriptions")
        got = await self.reply(cmd_id)
        return got[:-1]

    async def command(self, cmd: str, params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        """Send a command and collect what follows it up to a barrier (its replies, snapshots
        and whatever data came up to now)."""
        await self.send(cmd, params)
        return await self.barrier()


async def step_clock(
    sim: SimServer, reader: Reader, until: dt.datetime, step: dt.timedelta
) -> list[dict[str, Any]]:
    """Move the manual clock to ``until`` in steps, collecting the frames streamed meanwhile."""
    got: list[dict[str, Any]] = []
    clock = sim.clock
    t = clock.now()
    while t < until:
        t = min(until, t + step)
        clock.set(t)
        got.extend(await reader.barrier())
    return got
