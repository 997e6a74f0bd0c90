"""Shared fixtures. Package-specific fixtures live in the test module folders' conftest files."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference"


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    """An empty local lake folder."""
    d = tmp_path / "lake"
    d.mkdir()
    return d
