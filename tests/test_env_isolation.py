"""No test sees the developer's ``KALSHI_*``/``AWS_*`` variables (``clean_environ`` in
tests/conftest.py): a pytest run started from a shell that sets them still sees none."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: A shell that would break or slow the suite if any of it reached a test.
DIRTY = {
    "KALSHI_LAKE": "/nonexistent",
    "KALSHI_RATE": "0.001",
    "KALSHI_API_URL": "http://127.0.0.1:9/trade-api/v2",
    "KALSHI_QUERIES_DIR": "/nonexistent",
    "KALSHI_LOG_LEVEL": "DEBUG",
    "AWS_PROFILE": "nope",
    "AWS_ACCESS_KEY_ID": "x",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "FSSPEC_S3_ENDPOINT_URL": "http://127.0.0.1:9",
    "HTTP_PROXY": "http://127.0.0.1:9",
    "https_proxy": "http://127.0.0.1:9",
    "COLUMNS": "20",
}
#: The values the fixture pins instead (no AWS files, no instance-metadata lookup).
PINNED = {
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}


def _leaks(env: Mapping[str, str]) -> dict[str, str]:
    prefixes = ("KALSHI_", "AWS_", "FSSPEC_")
    return {
        k: v
        for k, v in env.items()
        if (k.upper().startswith(prefixes) or k in DIRTY) and PINNED.get(k) != v
    }


@pytest.fixture(scope="module")
def module_environ() -> dict[str, str]:
    """The environment a module-scoped fixture (a fixture lake, a server) starts in."""
    return dict(os.environ)


def test_no_developer_variable_is_visible(module_environ: dict[str, str]) -> None:
    assert _leaks(os.environ) == {}
    assert _leaks(module_environ) == {}
    assert {k: os.environ.get(k) for k in PINNED} == PINNED


def test_a_dirty_shell_does_not_reach_the_tests() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:xdist", "-p", "no:cacheprovider",
         f"{Path(__file__).relative_to(REPO)}::test_no_developer_variable_is_visible"],
        cwd=REPO, env={**env, **DIRTY}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0 and "1 passed" in proc.stdout, proc.stdout + proc.stderr
