"""Importing kalshi_lake sets the allocator defaults the transform is tuned for, never
overriding a value the user chose (see kalshi_lake/__init__.py)."""

from __future__ import annotations

import os
import subprocess
import sys

SHOW = (
    "import kalshi_lake, os; "
    "print(os.environ['_RJEM_MALLOC_CONF'], os.environ['MIMALLOC_PURGE_DELAY'])"
)


def _run(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", SHOW], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_import_sets_allocator_defaults_and_keeps_user_values() -> None:
    base = {
        k: v
        for k, v in os.environ.items()
        if k not in ("_RJEM_MALLOC_CONF", "MIMALLOC_PURGE_DELAY")
    }
    assert _run(base) == "dirty_decay_ms:5000,muzzy_decay_ms:5000 5000"
    mine = {**base, "_RJEM_MALLOC_CONF": "dirty_decay_ms:0", "MIMALLOC_PURGE_DELAY": "0"}
    assert _run(mine) == "dirty_decay_ms:0 0"
