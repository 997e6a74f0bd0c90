"""``kalshi-lake sim --reports-to``: the simulator publishes its daily reports before serving."""

from __future__ import annotations

import datetime as dt
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from kalshi_lake.config import Settings
from kalshi_lake.lake.daily_reports import fetch_daily_reports
from kalshi_lake.testing.local_s3 import LocalS3


@pytest.mark.slow
def test_sim_publishes_its_reports_to_a_bucket_then_serves(
    aws_env: LocalS3, tmp_path: Path
) -> None:
    bucket = f"kl-sim-reports-{secrets.token_hex(4)}"
    aws_env.client().create_bucket(Bucket=bucket, ACL="public-read")
    proc = subprocess.Popen(
        [sys.executable, "-m", "kalshi_lake.cli", "sim", "--seed", "7", "--now",
         "2026-08-05T07:00:00Z", "--reports-to", f"s3://{bucket}", "--reports-from",
         "2026-08-03", "--reports-until", "2026-08-04"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None and proc.stderr is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), proc.stderr.read()
        note = proc.stderr.readline()
        assert "daily report files (2026-08-03..2026-08-04)" in note
    finally:
        proc.terminate()
        code = proc.wait(60)
    assert code == 0
    # 2026-08-03's files appeared on 08-04 06:00-08:00 UTC; 08-04's appear on 08-05 after 06:00,
    # so at 07:00 they may or may not be out: read both days and find 08-03 fetched.
    settings = Settings(
        lake=str(tmp_path / "lake"),
        reports_url=f"s3://{bucket}/reporting",
        reports_endpoint_url=aws_env.endpoint,
    )
    day = dt.date(2026, 8, 3)
    summary = fetch_daily_reports(settings, ["chicago"], day, day + dt.timedelta(days=1))
    assert day in summary.days_fetched
    assert summary.rows_kept > 0
