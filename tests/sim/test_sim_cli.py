"""``kalshi-lake sim`` as a subprocess: base URL first, serves, stops cleanly on SIGTERM."""

from __future__ import annotations

import subprocess
import sys

import httpx
from click.testing import CliRunner

from kalshi_lake.cli import cli


def test_sim_subprocess_prints_its_url_first_and_serves() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "kalshi_lake.cli", "sim", "--seed", "3", "--now",
         "2026-11-21T15:00:00Z", "--cutoff-lag-days", "30", "--rate", "1000", "--speed", "60"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/trade-api/v2"), url
        r = httpx.get(f"{url}/historical/cutoff", timeout=30)
        assert r.status_code == 200
        assert r.json()["market_settled_ts"] == "2026-10-22T00:00:00Z"
        assert httpx.get(f"{url}/series/KXHIGHNY", timeout=30).json()["series"]["ticker"] == (
            "KXHIGHNY"
        )
        clock = httpx.get(f"{url}/_sim/clock", timeout=30).json()
        assert clock["mode"] == "moving" and clock["speed"] == 60
        assert clock["now"] > "2026-11-21T15:00:00Z"
    finally:
        proc.terminate()
        code = proc.wait(30)
    assert code == 0, proc.stderr.read() if proc.stderr else ""


def test_sim_rejects_bad_options() -> None:
    runner = CliRunner()
    bad_time = runner.invoke(cli, ["sim", "--now", "yesterday"])
    assert bad_time.exit_code == 2 and "ISO 8601" in bad_time.output
    bad_rate = runner.invoke(cli, ["sim", "--fail-rate", "1.5"])
    assert bad_rate.exit_code == 2 and "fail_rate" in bad_rate.output
    bad_speed = runner.invoke(cli, ["sim", "--speed", "0"])
    assert bad_speed.exit_code == 2 and "speed" in bad_speed.output
