"""The one set-up of a ``follow`` against the simulator on loopback, for the live tests (the
``sim_follow`` fixture of conftest.py; the type here annotates it)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from kalshi_lake.config import Settings
from kalshi_lake.sim import SimConfig, SimServer

#: ``with sim_follow(cfg, lake, key) as (sim, settings)``: see :func:`sim_follow`.
SimFollow = Callable[..., AbstractContextManager[tuple[SimServer, Settings]]]


@contextmanager
def sim_follow(
    cfg: SimConfig, lake: Path, key: Path | None = None
) -> Iterator[tuple[SimServer, Settings]]:
    """The simulator serving ``cfg`` on loopback, and the settings of a ``follow`` of it into
    the folder ``lake``: signed with the private key file ``key`` (the WebSocket;
    ``cfg.ws_public_key`` must be its public half), or with no key (REST polling)."""
    with SimServer(cfg).start() as sim:
        flags: dict[str, object] = {"lake": str(lake), "api_url": sim.base_url, "progress": False}
        if key is not None:
            flags.update(api_key_id="key-1", private_key_path=str(key))
        yield sim, Settings.load(env={}, **flags)
