"""Fixtures of the transform tests (helpers live in transform_helpers.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from transform_helpers import SYNTH_SPEC

from kalshi_lake.config import Settings
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim.rawgen import generate_raw


@pytest.fixture
def settings(lake_dir: Path) -> Settings:
    """Settings pointing at the empty test lake."""
    return Settings(lake=str(lake_dir), progress=False)


@pytest.fixture(scope="session")
def synth_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated raw layer (2 cities, 2 months, trades + candles + events + listing),
    built once per session; copy it with ``synth_copy`` before transforming."""
    root = tmp_path_factory.mktemp("synth") / "lake"
    generate_raw(Lake(str(root)), SYNTH_SPEC)
    return root


@pytest.fixture
def synth_copy(synth_lake: Path, tmp_path: Path) -> Callable[[str], Path]:
    """A fresh copy of the generated raw layer: ``synth_copy("name")`` -> its folder."""

    def copy(name: str) -> Path:
        dest = tmp_path / name
        shutil.copytree(synth_lake, dest)
        return dest

    return copy
