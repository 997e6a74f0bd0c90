"""Importing kalshi_lake sets the allocator defaults the transform is tuned for, never
overriding a value the user chose (see kalshi_lake/__init__.py)."""

from __future__ import annotations

import os
import subprocess
import sys

SHOW = (
    "import kalshi_lake, os; "
    "print(os.environ['_RJEM_MALLOC_CONF'], os.environ['MIMALLOC_PURGE_DELAY'], "
    "os.environ['DUCKDB_JE_MALLOC_CONF'])"
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
        if k not in ("_RJEM_MALLOC_CONF", "MIMALLOC_PURGE_DELAY", "DUCKDB_JE_MALLOC_CONF")
    }
    decay = "dirty_decay_ms:5000,muzzy_decay_ms:5000"
    assert _run(base) == f"{decay} 5000 {decay}"
    mine = {
        **base,
        "_RJEM_MALLOC_CONF": "dirty_decay_ms:0",
        "MIMALLOC_PURGE_DELAY": "0",
        "DUCKDB_JE_MALLOC_CONF": "dirty_decay_ms:1",
    }
    assert _run(mine) == "dirty_decay_ms:0 0 dirty_decay_ms:1"


def test_duckdb_reads_its_allocator_variable() -> None:
    # DuckDB's bundled jemalloc must read DUCKDB_JE_MALLOC_CONF, or the default set above is
    # a no-op (a DuckDB release with another prefix would show here): a bad pair is reported.
    env = {**os.environ, "DUCKDB_JE_MALLOC_CONF": "not_a_jemalloc_key:1"}
    out = subprocess.run(
        [sys.executable, "-c", "import duckdb; duckdb.sql('SELECT 1').fetchall()"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "not_a_jemalloc_key" in out.stderr


def test_small_parses_do_not_warn_about_their_deliberate_copy() -> None:
    # parse._run(small=True) takes the DB-API Arrow path on purpose; DuckDB's "extra copy"
    # warning is silenced for this module's calls only, also under -W error
    code = (
        "import duckdb; from kalshi_lake.transform import parse; con = duckdb.connect(); "
        "con.register('p', parse.pages_table([])); print(parse.parse_pages(con, 'p').shape); "
        "con.execute('SELECT 1').to_arrow_table()"  # a caller's own copy still warns
    )
    out = subprocess.run(
        [sys.executable, "-W", "error::UserWarning", "-c", code], capture_output=True, text=True
    )
    assert out.stdout.strip() == "(0, 7)"
    assert out.returncode != 0 and "Arrow output on a DB-API result" in out.stderr
