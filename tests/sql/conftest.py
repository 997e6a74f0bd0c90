"""Fixtures of the SQL tests: clean fixture lakes (see sql_lakefactory) and a lake writer."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import pytest
from sql_lakefactory import LakeData, build

from kalshi_lake.lake.storage import Lake

_CLEAN = build()


@pytest.fixture
def clean_data() -> LakeData:
    """A fresh clean fixture lake's rows (mutate freely)."""
    return copy.deepcopy(_CLEAN)


@pytest.fixture
def write_lake(tmp_path: Path) -> Callable[[LakeData], Lake]:
    """``write_lake(data)`` writes ``data`` to a new lake folder under tmp_path."""
    counter = iter(range(1_000_000))

    def _write(data: LakeData) -> Lake:
        return data.write(tmp_path / f"lake{next(counter)}")

    return _write


@pytest.fixture(scope="session")
def clean_lake(tmp_path_factory: pytest.TempPathFactory) -> Lake:
    """The clean fixture lake, written once per session (read-only for tests)."""
    return copy.deepcopy(_CLEAN).write(tmp_path_factory.mktemp("clean") / "lake")
