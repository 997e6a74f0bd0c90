"""Importing kalshi_lake leaves the process environment alone; the CLI sets the allocator
defaults the transform is tuned for (kalshi_lake/allocators.py), never overriding a value the
user chose."""

from __future__ import annotations

import os
import subprocess
import sys

NAMES = ("_RJEM_MALLOC_CONF", "MIMALLOC_PURGE_DELAY", "DUCKDB_JE_MALLOC_CONF")
SHOW = f"import os; print(' '.join(os.environ.get(n, '-') for n in {NAMES!r}))"
#: What the CLI's entry point sees (its ``cities`` command imports nothing heavy).
CLI = (
    "import os, sys; from kalshi_lake import cli; sys.argv = ['kalshi-lake', 'cities', '--json']; "
    "import contextlib, io\n"
    "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit): cli.main()\n"
    + SHOW
)


def _run(code: str, env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in NAMES}


def test_import_changes_no_environment_variable() -> None:
    # polars sets its own allocator default when it loads: load the libraries first, so
    # only what kalshi_lake itself does is compared.
    code = (
        "import os, polars, pyarrow, duckdb; before = dict(os.environ); "
        "import kalshi_lake, kalshi_lake.transform, kalshi_lake.sql, kalshi_lake.cli; "
        "print(dict(os.environ) == before, os.environ.get('MIMALLOC_PURGE_DELAY'))"
    )
    assert _run(code, _clean_env()) == "True None"
    assert _run("import os, kalshi_lake; " + SHOW[len("import os; ") :], _clean_env()) == "- - -"


def test_cli_sets_allocator_defaults_and_keeps_user_values() -> None:
    base = _clean_env()
    decay = "dirty_decay_ms:5000,muzzy_decay_ms:5000"
    assert _run(CLI, base) == f"{decay} 5000 {decay}"
    mine = {
        **base,
        "_RJEM_MALLOC_CONF": "dirty_decay_ms:0",
        "MIMALLOC_PURGE_DELAY": "0",
        "DUCKDB_JE_MALLOC_CONF": "dirty_decay_ms:1",
    }
    assert _run(CLI, mine) == "dirty_decay_ms:0 0 dirty_decay_ms:1"


def test_cli_module_loads_no_allocator_before_main() -> None:
    # The settings are read when polars, pyarrow and DuckDB load: the CLI module must not
    # import them before main() has set the variables.
    code = (
        "import sys; from kalshi_lake import cli; "
        "print(sorted(m for m in ('polars', 'pyarrow', 'duckdb') if m in sys.modules))"
    )
    assert _run(code, _clean_env()) == "[]"


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
