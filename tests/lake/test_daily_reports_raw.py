"""fetch_daily_reports: the simulator's reports on moto's S3 -> raw/daily_reports, with provenance."""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
import s3fs

from kalshi_lake.config import Settings
from kalshi_lake.errors import ApiUnreachableError, CorruptFileError
from kalshi_lake.lake.daily_reports import DAILY_REPORT_SCHEMA, fetch_daily_reports
from kalshi_lake.sim.config import FIXTURE_NOW, FIXTURE_SEED
from kalshi_lake.sim.reports import REWRITE_AFTER, publish_reports, published_at, report_file_rows
from kalshi_lake.sim.world import SERIES, World
from kalshi_lake.testing.local_s3 import ACCESS_KEY, SECRET_KEY, LocalS3

#: Chicago's two series and New York's high (another city of the registry).
SIM_SERIES = [s for s in SERIES if s.series_ticker in ("KXHIGHCHI", "KXLOWTCHI", "KXHIGHNY")]
DAY = dt.date(2026, 8, 3)


class Bucket:
    """A public-read bucket on moto with the simulator's reports in it."""

    def __init__(self, s3: LocalS3) -> None:
        self.name = f"kl-reports-{secrets.token_hex(4)}"
        s3.client().create_bucket(Bucket=self.name, ACL="public-read")
        self.fs = s3fs.S3FileSystem(
            key=ACCESS_KEY, secret=SECRET_KEY, endpoint_url=s3.endpoint, skip_instance_cache=True
        )
        self.endpoint = s3.endpoint

    def publish(self, now: dt.datetime, first: dt.date, last: dt.date, **kw: object) -> None:
        world = World(FIXTURE_SEED, now, 60)
        publish_reports(self.fs, self.name, world, first, last, series=SIM_SERIES, **kw)  # type: ignore[arg-type]

    def settings(self, lake: Path) -> Settings:
        return Settings(
            lake=str(lake),
            reports_url=f"s3://{self.name}/reporting",
            reports_endpoint_url=self.endpoint,
        )


@pytest.fixture
def bucket(moto_s3: LocalS3) -> Bucket:
    return Bucket(moto_s3)


def _files(lake: Path) -> list[str]:
    root = lake / "raw" / "daily_reports"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.parquet"))


@pytest.mark.slow
def test_kept_rows_land_in_the_raw_layer_with_provenance(bucket: Bucket, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    bucket.publish(FIXTURE_NOW, DAY, DAY)
    fetched_at = dt.datetime(2026, 8, 10, 12, tzinfo=dt.UTC)
    summary = fetch_daily_reports(
        bucket.settings(lake), ["chicago"], DAY, DAY, ["high", "low"], now=fetched_at
    )
    assert summary.days_fetched == [DAY] and summary.days_pending == []
    files = _files(lake)
    assert [f.split(".", 1)[0].rsplit("/", 1)[-1] for f in files] == [
        "market_data", "market_data", "trade_data", "trade_data",
    ]  # fmt: skip
    assert all(f.startswith(f"city=chicago/date={DAY}/") for f in files)
    assert {f.rsplit(".", 2)[-2] for f in files} == {"high", "low"}
    world = World(FIXTURE_SEED, FIXTURE_NOW, 60)
    for f in files:
        assert pq.read_schema(str(lake / "raw/daily_reports" / f)).equals(DAILY_REPORT_SCHEMA)
    con = duckdb.connect()
    got = con.sql(
        f"SELECT kind, report_date, source_key, etag, fetched_at, row_no, report_ticker, family, "
        f"body, city, date FROM read_parquet('{lake}/raw/daily_reports/**/*.parquet', "
        f"hive_partitioning = true) ORDER BY kind, row_no"
    ).fetchall()
    by_kind: dict[str, list[tuple[object, ...]]] = {}
    for row in got:
        by_kind.setdefault(str(row[0]), []).append(row)
    for kind, rows in by_kind.items():
        published = report_file_rows(world, kind, DAY, SIM_SERIES)
        want = [
            (i, r)
            for i, r in enumerate(published)
            if r["report_ticker"] in ("KXHIGHCHI", "KXLOWTCHI")
        ]
        assert [r[5] for r in rows] == [i for i, _ in want]
        assert {r[6] for r in rows} == {"KXHIGHCHI", "KXLOWTCHI"}
        assert all(r[7] == ("low" if r[6] == "KXLOWTCHI" else "high") for r in rows)
        assert all(str(r[2]).endswith(f"{kind}_{DAY}.json.gz") for r in rows)
        assert all(r[4] == fetched_at and r[3] and r[1] == DAY for r in rows)
        assert all(r[9] == "chicago" and r[10] == DAY for r in rows)
        # The bodies are the published rows (strings in 2026 files).
        assert [json.loads(str(r[8]))["ticker_name"] for r in rows] == [
            r["ticker_name"] for _, r in want
        ]
    assert summary.rows_kept == len(got)
    assert summary.rows_read == sum(
        len(report_file_rows(world, k, DAY, SIM_SERIES)) for k in ("market_data", "trade_data")
    )


@pytest.mark.slow
def test_a_second_fetch_reads_nothing_and_a_rewritten_file_is_fetched_again(
    bucket: Bucket, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    at = published_at(FIXTURE_SEED, DAY)
    bucket.publish(at + dt.timedelta(hours=1), DAY, DAY, rewrite_day=DAY)
    s = bucket.settings(lake)
    cities = ["chicago", "nyc"]
    first = fetch_daily_reports(s, cities, DAY, DAY)
    assert first.days_fetched == [DAY]
    again = fetch_daily_reports(s, cities, DAY, DAY)
    assert again.days_unchanged == [DAY] and again.rows_read == 0 and not again.files_written
    # Weeks later the trade file is rewritten (complete): only it is fetched again, into a new
    # file beside the first; the newest fetched_at holds the complete rows.
    bucket.publish(at + REWRITE_AFTER, DAY, DAY, rewrite_day=DAY)
    later = fetch_daily_reports(s, cities, DAY, DAY)
    assert later.files_fetched == [(DAY, "trade_data")]
    assert later.files_unchanged == [(DAY, "market_data")]
    chicago_high = [
        f for f in _files(lake) if "/trade_data." in f and "chicago" in f and "high" in f
    ]
    assert len(chicago_high) == 2
    counts = (
        duckdb.connect()
        .sql(
            f"SELECT etag, fetched_at, count(*) FROM read_parquet('{lake}/raw/daily_reports/**/trade_data.*.parquet') "
            "GROUP BY ALL ORDER BY fetched_at"
        )
        .fetchall()
    )
    assert len(counts) == 2 and counts[0][0] != counts[1][0]
    # The first version lacked the day's last trade of the published registry series.
    assert counts[1][2] - counts[0][2] == 1


def test_a_day_not_published_yet_is_pending(bucket: Bucket, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    nxt = DAY + dt.timedelta(days=1)
    bucket.publish(published_at(FIXTURE_SEED, DAY), DAY, nxt)
    summary = fetch_daily_reports(bucket.settings(lake), ["chicago"], DAY, nxt, ["high"])
    assert summary.days_fetched == [DAY]
    assert summary.days_pending == [nxt]
    # no report file of that day, only the markers that it was asked for and not published
    assert [f for f in _files(lake) if f"date={nxt}" in f] == [
        f"city=chicago/date={nxt}/unpublished.{kind}.high.parquet"
        for kind in ("market_data", "trade_data")
    ]
    assert summary.as_dict()["days_pending"] == [nxt.isoformat()]
    assert "1 pending" in summary.render()


def test_plain_json_era_and_a_city_with_no_rows(bucket: Bucket, tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    day = dt.date(2026, 7, 29)
    bucket.publish(FIXTURE_NOW, day, day)
    # Denver is not among the published series: its files are written empty, so the day
    # reads as fetched (not pending) for it.
    summary = fetch_daily_reports(bucket.settings(lake), ["chicago", "denver"], day, day, ["high"])
    assert summary.days_fetched == [day]
    files = _files(lake)
    assert len([f for f in files if f.startswith("city=denver/")]) == 2
    assert all(
        pq.read_metadata(str(lake / "raw/daily_reports" / f)).num_rows == 0
        for f in files
        if "denver" in f
    )
    keys = (
        duckdb.connect()
        .sql(
            f"SELECT DISTINCT source_key FROM read_parquet('{lake}/raw/daily_reports/city=chicago/**/*.parquet')"
        )
        .fetchall()
    )
    assert sorted(k[0].rsplit("/", 1)[-1] for k in keys) == [
        f"market_data_{day}.json", f"trade_data_{day}.json",
    ]  # fmt: skip


def test_settings_name_the_reports_source() -> None:
    s = Settings.load(
        env={"KALSHI_REPORTS_URL": "s3://elsewhere/r", "KALSHI_REPORTS_ENDPOINT_URL": "http://h:1"}
    )
    assert (s.reports_url, s.reports_endpoint_url) == ("s3://elsewhere/r", "http://h:1")
    assert Settings.load(env={}).reports_url == "s3://kalshi-public-docs/reporting"


@pytest.mark.slow
def test_an_unreachable_source_is_one_error_and_a_corrupt_file_another(tmp_path: Path) -> None:
    s = Settings(
        lake=str(tmp_path / "lake"),
        reports_url="s3://kalshi-public-docs/reporting",
        reports_endpoint_url="http://127.0.0.1:9",  # nothing listens there
    )
    with pytest.raises(ApiUnreachableError, match="cannot read Kalshi's daily reports"):
        fetch_daily_reports(s, ["chicago"], DAY, DAY)
    folder = tmp_path / "reports"
    folder.mkdir()
    (folder / f"market_data_{DAY}.json").write_bytes(b'[{"report_ticker": "KXHIGHCHI"},')
    local = Settings(lake=str(tmp_path / "lake"), reports_url=str(folder))
    with pytest.raises(CorruptFileError, match="ends inside"):
        fetch_daily_reports(local, ["chicago"], DAY, DAY)
    assert not (tmp_path / "lake" / "raw" / "daily_reports").exists()


@pytest.mark.slow
def test_a_lake_on_s3_keeps_the_rows_and_knows_what_it_has(
    bucket: Bucket, s3_url: Callable[..., str]
) -> None:
    bucket.publish(FIXTURE_NOW, DAY, DAY)
    lake_url = s3_url()
    settings = Settings(
        lake=lake_url,
        reports_url=f"s3://{bucket.name}/reporting",
        reports_endpoint_url=bucket.endpoint,
    )
    first = fetch_daily_reports(settings, ["nyc"], DAY, DAY, ["high"])
    assert first.days_fetched == [DAY] and first.rows_kept > 0
    assert all(p.startswith(lake_url[len("s3://") :]) for p in first.files_written)
    again = fetch_daily_reports(settings, ["nyc"], DAY, DAY, ["high"])
    assert again.days_unchanged == [DAY] and not again.files_written
