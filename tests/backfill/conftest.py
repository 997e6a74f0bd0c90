"""Fixtures for backfill tests: fast, quiet settings against a simulator."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kalshi_lake.config import Settings
from kalshi_lake.sim import SimServer


@pytest.fixture
def settings_for(lake_dir: Path) -> Callable[..., Settings]:
    """``settings_for(sim, **overrides)``: fast, quiet settings pointing at a simulator."""

    def make(sim: SimServer, **overrides: Any) -> Settings:
        base: dict[str, Any] = {
            "lake": str(lake_dir),
            "api_url": sim.base_url,
            "rate": 2000.0,
            "concurrency": 8,
            "max_retries": 8,
            "backoff_base_s": 0.005,
            "backoff_max_s": 0.05,
            "progress": False,
            "flush_seconds": 0.5,
        }
        base.update(overrides)
        return Settings(**base)

    return make
