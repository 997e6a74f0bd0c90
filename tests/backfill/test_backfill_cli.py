"""`kalshi-lake backfill`: bad input exits 2 with one line, an unreachable API exits 3 at once."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from kalshi_lake.cli import cli
from kalshi_lake.sim import SimServer

REPO = Path(__file__).resolve().parents[2]


def _run(lake: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--lake", str(lake), "backfill", *args])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--city", "gotham"], "unknown city 'gotham'; valid cities: nyc, chicago"),
        (["--city", "nyc", "--start", "2026-02-02", "--end", "2026-02-01"], "is after --end"),
        (
            ["--city", "seattle", "--start", "2025-01-01", "--end", "2025-12-31"],
            "seattle has no events before 2026-01-14",
        ),
        (["--city", "nyc", "--candle-window", "some"], "Invalid value for '--candle-window'"),
        (["--city", "nyc", "--end", "2026-13-01"], "is not a date"),
    ],
    ids=["unknown-city", "start-after-end", "before-first-event", "bad-window", "bad-date"],
)
def test_bad_input_exits_2_with_one_line(lake_dir: Path, args: list[str], message: str) -> None:
    result = _run(lake_dir, *args, "--api-url", "http://127.0.0.1:1/trade-api/v2")
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    # Nothing was fetched or written.
    assert not (lake_dir / "raw").exists()


def test_unreachable_api_fails_fast_with_exit_3(lake_dir: Path) -> None:
    t0 = time.monotonic()
    result = _run(
        lake_dir, "--city", "chicago", "--start", "2026-11-01", "--end", "2026-11-02",
        "--api-url", "http://127.0.0.1:1/trade-api/v2", "--no-transform",
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    line = result.output.strip().splitlines()[-1]
    assert line.startswith("error: cannot reach the Kalshi API at http://127.0.0.1:1/trade-api/v2")
    assert "--api-url" in line
    # The run's summary comes first, as for any incomplete run.
    assert (
        "backfill chicago 2026-11-01..2026-11-02" in result.output and ": failed" in result.output
    )
    # Fails fast rather than retrying for minutes (generous bound for a loaded machine).
    assert time.monotonic() - t0 < 60


def test_wrong_api_base_path_exits_2_saying_the_url_looks_wrong(
    sim: SimServer, lake_dir: Path
) -> None:
    wrong = sim.base_url.replace("/trade-api/v2", "/wrong/v2")
    result = _run(
        lake_dir, "--city", "chicago", "--start", "2026-11-01", "--end", "2026-11-01",
        "--api-url", wrong, "--rate", "500", "--no-transform",
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith(f"error: every request to {wrong} answered 404"), last
    assert "is the API URL right?" in last and "re-run" not in result.output
    assert "Traceback" not in result.output


def test_backfill_prints_a_summary_then_runs_the_transform(
    sim: SimServer, lake_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    class FakeSummary:
        def render(self) -> str:
            return "transform done"

    def fake_transform(settings: Any, **kw: Any) -> FakeSummary:
        calls.append({"lake": settings.lake, **kw})
        return FakeSummary()

    import kalshi_lake.transform as transform

    monkeypatch.setattr(transform, "run_transform", fake_transform, raising=False)
    result = _run(
        lake_dir, "--city", "chi", "--start", "2026-11-01", "--end", "2026-11-02",
        "--api-url", sim.base_url, "--rate", "500",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "backfill chicago 2026-11-01..2026-11-02" in result.output and ": ok" in result.output
    assert "requests" in result.output and "trades" in result.output
    assert "transform done" in result.output
    (call,) = calls
    # a plain transform of the city, not one scoped to the fetched dates: the listings hold
    # markets of other months, and the curated tables must not depend on the command
    assert call["city"].name == "chicago" and "start" not in call and "end" not in call


def test_no_transform_skips_it(
    sim: SimServer, lake_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import kalshi_lake.transform as transform

    def boom(*_a: Any, **_k: Any) -> None:
        raise AssertionError("transform must not run")

    monkeypatch.setattr(transform, "run_transform", boom, raising=False)
    result = _run(
        lake_dir, "--city", "chicago", "--start", "2026-11-01", "--end", "2026-11-01",
        "--api-url", sim.base_url, "--rate", "500", "--no-transform",
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def test_transform_held_by_another_worker_leaves_it_to_them_and_exits_0(
    sim: SimServer, lake_dir: Path
) -> None:
    from kalshi_lake.lake import Lake
    from kalshi_lake.lake.lock import Lease

    with Lease(Lake(str(lake_dir)), "transform/chicago", purpose="transform"):
        result = _run(
            lake_dir, "--city", "chicago", "--start", "2026-11-01", "--end", "2026-11-01",
            "--api-url", sim.base_url, "--rate", "500",
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert ": ok" in result.output  # the fetch's summary
    (note,) = [ln for ln in result.output.splitlines() if "transform left to" in ln]
    assert note.startswith("note: fetch done; transform left to the other worker:")
    assert "transform/chicago is locked by" in note
    assert not (lake_dir / "curated").exists()


def test_incomplete_run_prints_the_summary_and_exits_3(
    sim_factory: Callable[..., SimServer], lake_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kalshi_lake.config import Settings

    load = Settings.load

    def fast_load(env: Any = None, **flags: Any) -> Settings:
        # The CLI's real backoff would spend ~30 s retrying a dead API; keep the test quick.
        return load(env, backoff_base_s=0.001, backoff_max_s=0.01, **flags)

    monkeypatch.setattr(Settings, "load", staticmethod(fast_load))
    sim = sim_factory(fail_rate=1.0)
    result = CliRunner().invoke(
        cli,
        ["--lake", str(lake_dir), "backfill", "--city", "chicago", "--start", "2026-11-01",
         "--end", "2026-11-01", "--api-url", sim.base_url, "--rate", "500"],
        env={"KALSHI_LOG_LEVEL": "ERROR"},
    )  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "FAILED" in result.output and "to retry" in result.output
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: 1 unit(s) of chicago 2026-11-01..2026-11-01 could not be")


def test_make_backfill_target_runs_the_cli() -> None:
    # -o: take the install stamp as done, so `make` never creates a venv or installs packages.
    dry = subprocess.run(
        ["make", "-o", ".venv/.installed", "-n", "backfill", "LAKE=lake", "CITY=chicago",
         "START=2026-11-01", "END=2026-11-02"],
        cwd=REPO, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert (
        'kalshi-lake --lake lake backfill --city "chicago" --start 2026-11-01 --end 2026-11-02'
        in (dry.stdout)
    )
    for cities in ("all", "chicago,nyc", "chicago, nyc"):
        dry = subprocess.run(
            ["make", "-o", ".venv/.installed", "-n", "backfill", "LAKE=lake", f"CITY={cities}"],
            cwd=REPO, capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert f'kalshi-lake --lake lake backfill --city "{cities}"' in dry.stdout
    usage = subprocess.run(
        ["make", "-o", ".venv/.installed", "backfill"], cwd=REPO, capture_output=True, text=True
    )
    assert usage.returncode != 0 and "usage: make backfill CITY=" in usage.stderr


def test_group_readable_key_exits_2_before_touching_the_lake(
    sim: SimServer, lake_dir: Path, tmp_path: Path
) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = tmp_path / "k.pem"
    key.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key.chmod(0o644)
    result = CliRunner().invoke(
        cli,
        ["--lake", str(lake_dir), "backfill", "--city", "chicago", "--start", "2026-11-01",
         "--end", "2026-11-01", "--api-url", sim.base_url, "--no-transform"],
        env={"KALSHI_API_KEY_ID": "abc", "KALSHI_PRIVATE_KEY_PATH": str(key)},
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "accessible by group or others" in result.output and "chmod 600" in result.output
    assert list(lake_dir.iterdir()) == [] and sim.stats()["requests"] == 0
    # With the key made private, the same command signs every request and succeeds.
    key.chmod(0o600)
    ok = CliRunner().invoke(
        cli,
        ["--lake", str(lake_dir), "backfill", "--city", "chicago", "--start", "2026-11-01",
         "--end", "2026-11-01", "--api-url", sim.base_url, "--no-transform", "--rate", "500"],
        env={"KALSHI_API_KEY_ID": "abc", "KALSHI_PRIVATE_KEY_PATH": str(key)},
    )  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "BEGIN" not in ok.output
    records = list((lake_dir / "_state" / "runs").glob("*.json"))
    assert records and '"signed": true' in records[0].read_text()
    assert "PRIVATE" not in records[0].read_text()
