"""The daily-report reader reads one version of a file, and tells a refusing bucket (403) from a
file not published yet.

A file rewritten while it is read (its ETag changed) is located and read again, so every kept
row comes from the version whose ETag names the stored file. A bucket that answers 403 is
"not published yet" only when the bucket is readable at all (its listing works, or its first
report file can be read); otherwise `reconcile` stops with one line and exit 2.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gzip
import http.server
import json
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import pyarrow.parquet as pq
import pytest
import s3fs
from click.testing import CliRunner

from kalshi_lake.api.daily_reports import (
    FIRST_REPORT_KEY,
    ReportFile,
    ReportSource,
    ReportsRefusedError,
)
from kalshi_lake.cli import cli
from kalshi_lake.config import Settings
from kalshi_lake.lake.daily_reports import fetch_daily_reports
from kalshi_lake.sim.config import FIXTURE_SEED
from kalshi_lake.sim.reports import publish_reports, published_at
from kalshi_lake.sim.world import SERIES, World
from kalshi_lake.testing.local_s3 import ACCESS_KEY, SECRET_KEY, LocalS3

DAY = dt.date(2026, 8, 3)
CHICAGO = [s for s in SERIES if s.series_ticker in ("KXHIGHCHI", "KXLOWTCHI")]


class _RewriteAfterFirstRead:
    """A stream that rewrites the file it reads right after its first read (a rewrite that
    lands while the reader is in the middle of the file)."""

    def __init__(self, stream: IO[bytes], rewrite: Any) -> None:
        self.stream, self.rewrite = stream, rewrite

    def read(self, n: int = -1) -> bytes:
        data = self.stream.read(n)
        if self.rewrite is not None:
            self.rewrite()
            self.rewrite = None
        return data


class RewritingSource(ReportSource):
    """The real source over moto, whose first opened trade_data file is rewritten mid-read."""

    def __init__(self, url: str, endpoint: str, rewrite: Any) -> None:
        super().__init__(url, endpoint)
        self.rewrite = rewrite
        self.opened: list[str] = []

    @contextlib.contextmanager
    def open(self, report: ReportFile) -> Iterator[IO[bytes]]:
        with super().open(report) as stream:
            self.opened.append(report.etag)
            if report.kind == "trade_data" and self.rewrite is not None:
                rewrite, self.rewrite = self.rewrite, None
                yield _RewriteAfterFirstRead(stream, rewrite)  # type: ignore[misc]
            else:
                yield stream


def test_a_file_rewritten_while_read_is_read_again_whole(moto_s3: LocalS3, tmp_path: Path) -> None:
    bucket = f"kl-pin-{secrets.token_hex(4)}"
    moto_s3.client().create_bucket(Bucket=bucket, ACL="public-read")
    fs = s3fs.S3FileSystem(
        key=ACCESS_KEY, secret=SECRET_KEY, endpoint_url=moto_s3.endpoint, skip_instance_cache=True
    )
    world = World(FIXTURE_SEED, published_at(FIXTURE_SEED, DAY), 60)
    publish_reports(fs, bucket, world, DAY, DAY, series=CHICAGO)
    key = f"{bucket}/reporting/trade_data_{DAY}.json.gz"
    rows = json.loads(gzip.decompress(fs.cat_file(key)))
    newer = rows[:-1]  # the rewrite drops the last trade

    def rewrite() -> None:
        fs.pipe_file(key, gzip.compress(json.dumps(newer).encode()))

    old_etag = fs.info(key)["ETag"].strip('"')
    src = RewritingSource(f"s3://{bucket}/reporting", moto_s3.endpoint, rewrite)
    lake = tmp_path / "lake"
    settings = Settings(lake=str(lake))
    summary = fetch_daily_reports(settings, ["chicago"], DAY, DAY, source=src)
    new_etag = fs.info(key)["ETag"].strip('"')
    assert new_etag != old_etag
    assert src.opened.count(old_etag) == 1 and src.opened.count(new_etag) == 1  # read again
    assert summary.days_fetched == [DAY]
    stored = sorted((lake / "raw/daily_reports/city=chicago" / f"date={DAY}").glob("trade_data*"))
    assert [p.name.split(".")[1] for p in stored] == [new_etag[:8]] * 2  # high, low
    kept = sum(pq.read_table(p).num_rows for p in stored)
    wanted = {"KXHIGHCHI", "KXLOWTCHI"}
    assert kept == sum(1 for r in newer if r["report_ticker"] in wanted)
    assert {pq.read_table(p).column("etag")[0].as_py() for p in stored} == {new_etag}


class _Refusing(http.server.BaseHTTPRequestHandler):
    """An S3 endpoint that refuses everything (403), except, when ``serves_first`` is set, the
    first report file (a bucket whose objects are public and whose listing is not)."""

    serves_first = False

    def _refuse(self, body: bool) -> None:
        if self.serves_first and self.path.split("?")[0].endswith(FIRST_REPORT_KEY):
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.send_header("ETag", '"0123456789abcdef0123456789abcdef"')
            self.send_header("Last-Modified", "Mon, 28 Jun 2021 08:00:00 GMT")
            self.end_headers()
            if body:
                self.wfile.write(b"[]")
            return
        xml = (
            b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code>'
            b"<Message>Access Denied</Message></Error>"
        )
        self.send_response(403)
        self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(xml)))
        self.end_headers()
        if body:
            self.wfile.write(xml)

    def do_HEAD(self) -> None:
        self._refuse(body=False)

    def do_GET(self) -> None:
        self._refuse(body=True)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _endpoint(serves_first: bool) -> Iterator[str]:
    handler = type("Handler", (_Refusing,), {"serves_first": serves_first})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_refusing_bucket_is_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with _endpoint(serves_first=False) as endpoint:
        src = ReportSource("s3://private-reports/reporting", endpoint)
        with pytest.raises(ReportsRefusedError):
            src.locate("market_data", DAY)
        monkeypatch.setenv("KALSHI_REPORTS_URL", "s3://private-reports/reporting")
        monkeypatch.setenv("KALSHI_REPORTS_ENDPOINT_URL", endpoint)
        lake = tmp_path / "lake"
        res = CliRunner().invoke(
            cli,
            [
                "--lake",
                str(lake),
                "reconcile",
                "--city",
                "chicago",
                "--start",
                str(DAY),
                "--end",
                str(DAY),
            ],
        )
    assert res.exit_code == 2, res.output
    [line] = res.stderr.strip().splitlines()
    assert line.startswith("error: Kalshi's daily reports at s3://private-reports/reporting")
    assert "refuse anonymous reads (403" in line
    # nothing was recorded as pending: the day was never seen unpublished
    assert not list(lake.rglob("unpublished.*"))


def test_a_403_on_a_bucket_whose_objects_are_public_is_not_published_yet() -> None:
    with _endpoint(serves_first=True) as endpoint:
        src = ReportSource("s3://public-objects/reporting", endpoint)
        assert src.locate("market_data", DAY) is None
        assert src.locate("trade_data", DAY) is None
