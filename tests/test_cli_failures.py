"""Every expected failure of the command line is one stderr line and the right exit code.

Bad configuration (rate, API URL, half a key pair, a lake that cannot be written) exits 2 before
anything is fetched or written; SIGTERM and SIGHUP stop a backfill like Ctrl-C (exit 130, lease
released, run recorded as interrupted); a server that accepts connections and never answers is
reported within seconds (exit 3).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from kalshi_lake.cli import cli
from kalshi_lake.config import Settings
from kalshi_lake.sim import SimServer

#: Nothing listens there: a command that got as far as a request would fail with exit 3.
DEAD_API = "http://127.0.0.1:1/trade-api/v2"
BACKFILL = ["backfill", "--city", "chicago", "--start", "2026-11-01", "--end", "2026-11-01"]


def _invoke(args: list[str], env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, args, env=env)


def assert_one_line(result: Result, code: int, *fragments: str) -> str:
    """Exit ``code``, and stderr is exactly one ``error:`` line holding every fragment."""
    assert result.exit_code == code, (result.exit_code, result.output)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]


# --- the request rate ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate_args", "env", "fragment"),
    [
        (["--rate", "nan"], {}, "--rate must be"),
        (["--rate", "inf"], {}, "--rate must be"),
        (["--rate", "-inf"], {}, "--rate must be"),
        (["--rate", "0.001"], {}, "at least 0.05"),
        ([], {"KALSHI_RATE": "nan"}, "KALSHI_RATE must be"),
        ([], {"KALSHI_RATE": "0.01"}, "KALSHI_RATE must be"),
    ],
    ids=["nan", "inf", "-inf", "below-floor", "env-nan", "env-below-floor"],
)
def test_a_bad_rate_exits_2_with_one_line(
    lake_dir: Path, rate_args: list[str], env: dict[str, str], fragment: str
) -> None:
    result = _invoke(
        ["--lake", str(lake_dir), *BACKFILL, "--api-url", DEAD_API, *rate_args], env=env
    )
    assert_one_line(result, 2, fragment)
    assert list(lake_dir.iterdir()) == []


def test_the_rate_floor_itself_is_accepted() -> None:
    assert Settings.load(env={}, rate=0.05).rate == 0.05


# --- the API URL -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "fragment"),
    [
        ("http://127.0.0.1:99999/trade-api/v2", "port 99999"),
        ("http://127.0.0.1:0/trade-api/v2", "port 0"),
        ("http://api.test:abc/trade-api/v2", "not a valid URL"),
        ("http://[::1/trade-api/v2", "not a valid URL"),
        ("http:///trade-api/v2", "names no host"),
        ("http://api test/trade-api/v2", "invalid host"),
        ("http://api..test/trade-api/v2", "invalid host"),
    ],
    ids=["port-over-65535", "port-0", "port-not-a-number", "open-bracket", "no-host", "space",
         "empty-label"],
)  # fmt: skip
def test_a_bad_api_url_exits_2_at_start(lake_dir: Path, url: str, fragment: str) -> None:
    result = _invoke(["--lake", str(lake_dir), *BACKFILL, "--api-url", url])
    assert_one_line(result, 2, fragment, "API URL")
    assert list(lake_dir.iterdir()) == []
    env_result = _invoke(["--lake", str(lake_dir), *BACKFILL], env={"KALSHI_API_URL": url})
    assert_one_line(env_result, 2, fragment)


@pytest.mark.parametrize(
    "url",
    [
        "https://external-api.kalshi.com/trade-api/v2",
        "http://127.0.0.1:8080/trade-api/v2",
        "http://[::1]:8080/trade-api/v2",
        "http://kalshi_proxy.internal:65535/x",
        "https://bücher.example/x",
    ],
)
def test_good_api_urls_are_accepted(url: str) -> None:
    assert Settings.load(env={}, api_url=url).api_url == url


# --- the signing key pair --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({"KALSHI_API_KEY_ID": "abc"}, "KALSHI_PRIVATE_KEY_PATH is not"),
        ({"KALSHI_PRIVATE_KEY_PATH": "/nonexistent/k.pem"}, "KALSHI_API_KEY_ID is not"),
    ],
    ids=["only-key-id", "only-key-path"],
)
def test_half_a_key_pair_exits_2_naming_the_missing_one(
    sim: SimServer, lake_dir: Path, env: dict[str, str], missing: str
) -> None:
    # Today's code ran unsigned and fetched everything (exit 0) without a word.
    result = _invoke(
        ["--lake", str(lake_dir), *BACKFILL, "--api-url", sim.base_url, "--no-transform"], env=env
    )
    assert_one_line(result, 2, missing, "set both")
    assert sim.stats()["requests"] == 0 and list(lake_dir.iterdir()) == []


# --- the lake --------------------------------------------------------------------------------

WRITING_COMMANDS = {
    "backfill": [*BACKFILL, "--api-url", DEAD_API, "--no-transform"],
    "transform": ["transform"],
    "demo": ["demo", "--days", "1", "--cities", "chicago"],
    "views": ["views"],
}


def _unwritable_folder(tmp_path: Path) -> Path:
    """A folder this process cannot create files in (root ignores permission bits)."""
    if os.geteuid() != 0:
        ro = tmp_path / "read-only"
        ro.mkdir()
        ro.chmod(0o555)
        return ro
    if os.path.isdir("/sys") and not os.access("/sys", os.W_OK | os.X_OK):
        return Path("/sys")
    try:
        Path("/sys/kalshi-lake-probe").mkdir()
    except OSError:
        return Path("/sys")  # sysfs refuses new folders even to root
    Path("/sys/kalshi-lake-probe").rmdir()
    pytest.skip("running as root with no folder root cannot write to")


@pytest.fixture
def lake_cases(tmp_path: Path) -> Iterator[dict[str, tuple[str, str]]]:
    """Lake paths that cannot be written, each with a fragment of its one error line."""
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder\n")
    ro = _unwritable_folder(tmp_path)
    yield {
        "empty": ("", "--lake is empty"),
        "under-a-file": (str(a_file / "lake"), "which is a file, not a folder"),
        "is-a-file": (str(a_file), "it is a file, not a folder"),
        "unwritable-new": (str(ro / "lake"), "is not writable"),
    }
    if ro.is_relative_to(tmp_path):
        ro.chmod(0o755)


@pytest.mark.parametrize("command", list(WRITING_COMMANDS))
@pytest.mark.parametrize("case", ["empty", "under-a-file", "is-a-file", "unwritable-new"])
def test_a_lake_that_cannot_be_written_exits_2_at_start(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    lake_cases: dict[str, tuple[str, str]],
    command: str,
    case: str,
) -> None:
    lake, fragment = lake_cases[case]
    # An empty --lake used to mean the working directory: run in an empty one and keep it so.
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    t0 = time.monotonic()
    result = _invoke(["--lake", lake, *WRITING_COMMANDS[command]])
    assert_one_line(result, 2, fragment)
    assert time.monotonic() - t0 < 10  # at start, not after a demo's worth of work
    assert os.listdir(cwd) == []


def test_an_existing_unwritable_lake_exits_2(tmp_path: Path) -> None:
    ro = _unwritable_folder(tmp_path)
    try:
        result = _invoke(["--lake", str(ro), *WRITING_COMMANDS["views"]])
        assert_one_line(result, 2, f"cannot write the lake at {ro}", "not writable")
    finally:
        if ro.is_relative_to(tmp_path):
            ro.chmod(0o755)


def test_reading_commands_on_a_missing_lake_keep_their_message(tmp_path: Path) -> None:
    missing = tmp_path / "a-file"
    missing.write_text("x")
    for command in (["status"], ["sql", "SELECT 1"], ["validate"]):
        result = _invoke(["--lake", str(missing / "lake"), *command])
        assert_one_line(result, 2, "no lake at")


# --- SIGTERM and SIGHUP ----------------------------------------------------------------------


def _default_sighup() -> None:
    # The child starts as a terminal session's would, with SIGHUP at its default, even when
    # the test run itself ignores it (under nohup, say): an ignored SIGHUP is inherited and,
    # on purpose, stays ignored (see the test after next).
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _cli_process(*args: str) -> subprocess.Popen[str]:
    """``kalshi-lake ARGS`` in a child process, through the console-script entry point."""
    return subprocess.Popen(
        [sys.executable, "-c", "from kalshi_lake.cli import main; main()", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_default_sighup,
    )


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_stop_a_backfill_like_ctrl_c(
    sim_factory: Callable[..., SimServer], lake_dir: Path, sig: signal.Signals
) -> None:
    sim = sim_factory(latency_ms=20)
    proc = _cli_process(
        "--lake", str(lake_dir), "backfill", "--city", "chicago", "--start", "2026-09-01",
        "--end", "2026-10-31", "--api-url", sim.base_url, "--rate", "50", "--no-transform",
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while sim.stats()["requests"] < 20:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the backfill never got going"
            time.sleep(0.01)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (proc.returncode, out, err)
    assert err.splitlines() == ["interrupted; what was fetched is kept and a re-run resumes"]
    # The lease is released: a re-run may start at once.
    assert not (lake_dir / "_state" / "locks" / "backfill" / "chicago.json").exists()
    (record,) = [json.loads(p.read_text()) for p in (lake_dir / "_state" / "runs").glob("*.json")]
    assert record["status"] == "interrupted" and record["finished_at"]


def test_an_ignored_sighup_stays_ignored(
    sim_factory: Callable[..., SimServer], lake_dir: Path
) -> None:
    # nohup sets SIGHUP to "ignore" for its child: a closed terminal must not stop the run.
    sim = sim_factory(latency_ms=5)
    proc = subprocess.Popen(
        [sys.executable, "-c",
         "import signal; signal.signal(signal.SIGHUP, signal.SIG_IGN);"
         "from kalshi_lake.cli import main; main()",
         "--lake", str(lake_dir), *BACKFILL, "--api-url", sim.base_url, "--rate", "200",
         "--no-transform"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while sim.stats()["requests"] < 3:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(signal.SIGHUP)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, (out, err)


# --- a server that accepts connections and never answers ------------------------------------


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An API base URL whose server accepts every connection and never sends a byte."""
    listener = socket.create_server(("127.0.0.1", 0))
    conns: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conns.append(listener.accept()[0])
            except TimeoutError:
                continue
            except OSError:
                return

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/trade-api/v2"
    stop.set()
    thread.join(5)
    for c in conns:
        c.close()
    listener.close()


def test_a_server_that_never_answers_is_reported_promptly(
    silent_server: str, lake_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load = Settings.load

    def quick_load(env: Any = None, **flags: Any) -> Settings:
        # The real first-answer timeout is 10 s (two attempts: about 20 s); keep the test quick.
        return load(env, first_answer_timeout_s=0.5, **flags)

    monkeypatch.setattr(Settings, "load", staticmethod(quick_load))
    t0 = time.monotonic()
    result = _invoke(["--lake", str(lake_dir), *BACKFILL, "--api-url", silent_server])
    elapsed = time.monotonic() - t0
    line = assert_one_line(
        result, 3, f"cannot reach the Kalshi API at {silent_server}", "no answer within 0.5 s"
    )
    assert "--api-url" in line
    # Today: 9 attempts of 30 s each before the first request gave up (minutes of silence).
    assert elapsed < 15, elapsed


def test_the_first_answer_timeout_applies_only_until_the_api_answered(sim: SimServer) -> None:
    import asyncio

    from kalshi_lake.api.client import KalshiClient

    settings = Settings(api_url=sim.base_url, timeout_s=30.0, first_answer_timeout_s=10.0)
    client = KalshiClient(settings)

    async def go() -> tuple[float | None, float | None]:
        async with client:
            before = client._timeout().read
            await client.get("/historical/cutoff")
            return before, client._timeout().read

    assert asyncio.run(go()) == (10.0, 30.0)
