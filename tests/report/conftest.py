"""Fixtures of the report tests: a simulator lake with a planted hole, built once a session."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_lake import build_sim_lake


@pytest.fixture(scope="session")
def sim_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake backfilled from the simulator with chicago's ``HOLE`` day deleted from the raw
    layer, transformed after (read-only for tests)."""
    return build_sim_lake(tmp_path_factory.mktemp("report") / "lake")
