"""The wheel ships what runs and nothing else: every query file inside the package, every
runtime module, no benchmarks or test helpers. ``.ci/wheel-smoke.sh`` installs the same wheel
in a fresh venv and runs the commands; this builds it offline and reads its file list."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import setuptools

from kalshi_lake.errors import ConfigError
from kalshi_lake.sql import sqlfiles

REPO = Path(__file__).resolve().parents[1]
#: Packages kept out of the wheel: they run from a checkout (`make bench`, the tests).
DEV_ONLY = ("bench", "testing")
_IMPORT_DEV = re.compile(rf"^\s*(from|import)\s+kalshi_lake\.({'|'.join(DEV_ONLY)})\b", re.M)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel built from a copy of the sources (the checkout's build/ must not leak in)."""
    major = int(setuptools.__version__.split(".")[0])
    assert major >= 77, f"setuptools {setuptools.__version__} < 77; run `make install`"
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("kalshi_lake", "queries"):
        shutil.copytree(REPO / name, src / name, ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(tmp / "dist"), str(src)],
        check=True, capture_output=True,
    )  # fmt: skip
    (path,) = (tmp / "dist").glob("kalshi_lake-*.whl")
    return zipfile.ZipFile(path)


def test_wheel_ships_every_query_file_inside_the_package(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    queries = REPO / "queries"
    want = {f"kalshi_lake/queries/{p.relative_to(queries).as_posix()}" for p in queries.rglob("*")}
    want = {n for n in want if n.endswith((".sql", ".md"))}
    assert len(want) > 30 and "kalshi_lake/queries/views/trades.sql" in want
    assert want <= names, sorted(want - names)
    assert not [n for n in names if n.startswith("queries/")]


def test_wheel_ships_every_runtime_module_and_no_dev_support(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    runtime = {
        p.relative_to(REPO).as_posix()
        for p in (REPO / "kalshi_lake").rglob("*.py")
        if p.relative_to(REPO / "kalshi_lake").parts[0] not in DEV_ONLY
    }
    # a new subpackage must be added to [tool.setuptools] packages in pyproject.toml
    assert runtime <= names, sorted(runtime - names)
    assert "kalshi_lake/py.typed" in names
    dev = [n for n in names if n.split("/")[:2] in (["kalshi_lake", d] for d in DEV_ONLY)]
    assert not dev, dev
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "kalshi-lake = kalshi_lake.cli:main" in wheel.read(entry_points).decode()


def test_shipped_modules_do_not_import_dev_support(wheel: zipfile.ZipFile) -> None:
    offenders = [
        n
        for n in wheel.namelist()
        if n.endswith(".py") and _IMPORT_DEV.search(wheel.read(n).decode())
    ]
    assert not offenders, offenders


def test_queries_dir_is_the_checkout_or_the_override(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KALSHI_QUERIES_DIR", raising=False)
    assert sqlfiles.queries_dir() == REPO / "queries"  # editable install: the top-level folder
    (tmp_path / "views").mkdir()
    monkeypatch.setenv("KALSHI_QUERIES_DIR", str(tmp_path))
    assert sqlfiles.queries_dir() == tmp_path
    monkeypatch.setenv("KALSHI_QUERIES_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError) as err:
        sqlfiles.queries_dir()
    message = str(err.value)
    assert "\n" not in message and str(tmp_path / "nowhere") in message
    assert "KALSHI_QUERIES_DIR" in message
