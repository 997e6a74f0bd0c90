"""The daily-report reader: the streaming filter, and the public bucket read anonymously."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import secrets
from pathlib import Path
from typing import Any

import pytest
import s3fs
from hypothesis import given, settings
from hypothesis import strategies as st

from kalshi_lake.api.daily_reports import (
    FilterStats,
    ReportSource,
    ReportsRefusedError,
    filter_rows,
)
from kalshi_lake.bench.daily_reports import filter_in_child, write_report_folder
from kalshi_lake.errors import CorruptFileError
from kalshi_lake.testing.local_s3 import ACCESS_KEY, SECRET_KEY, LocalS3


def _filter(
    data: bytes, keep: set[str], chunk: int = 1 << 20, bulk_min: int = 1
) -> tuple[list[Any], FilterStats]:
    stats = FilterStats()
    rows = list(filter_rows(io.BytesIO(data), keep, chunk=chunk, stats=stats, bulk_min=bulk_min))
    return rows, stats


TRICKY = [
    {"ticker_name": "A-1", "report_ticker": "KXHIGHCHI", "price": "45"},
    {"ticker_name": "B-1", "report_ticker": "KXBTCD", "note": "a } brace"},
    {"ticker_name": "C-1", "report_ticker": "KXHIGHCHI", "note": 'quote " and } and {'},
    {"ticker_name": "D-1", "report_ticker": "KXHIGHCHI", "nested": {"a": [1, {"b": "}"}]}},
    {"ticker_name": "E-1", "report_ticker": "KXHIGHCHIX", "price": 3},
    {"ticker_name": "F-1", "report_ticker": "KXHIGH\u00e7HI", "price": 3},
    {"ticker_name": "G-1", "price": 3},
    {"ticker_name": "H-1", "report_ticker": "KXHIGHCHI", "price": 7},
    {"ticker_name": "I-1", "x": "report_ticker", "report_ticker": "KXBTCD"},
    {"ticker_name": "J-1", "x": '"report_ticker": "KXHIGHCHI"', "report_ticker": "KXBTCD"},
    {"report_ticker": "KXHIGHCHI", "ticker_name": "K-1"},
]


@pytest.mark.parametrize("bulk_min", [1, 1 << 40])
@pytest.mark.parametrize("chunk", [1, 3, 17, 64, 1 << 20])
@pytest.mark.parametrize("indent", [None, 2])
def test_filter_keeps_exactly_the_wanted_rows_verbatim(
    chunk: int, indent: int | None, bulk_min: int
) -> None:
    data = json.dumps(TRICKY, indent=indent, ensure_ascii=False).encode()
    rows, stats = _filter(data, {"KXHIGHCHI"}, chunk, bulk_min)
    assert [r.row_no for r in rows] == [0, 2, 3, 7, 10]
    assert [json.loads(r.body) for r in rows] == [TRICKY[i] for i in (0, 2, 3, 7, 10)]
    assert [r.ticker_name for r in rows] == ["A-1", "C-1", "D-1", "H-1", "K-1"]
    # Verbatim: each body is the exact bytes of its row in the file.
    for r in rows:
        assert r.body in data
    assert stats.rows == len(TRICKY)
    assert stats.bytes == len(data)


row_strategy = st.fixed_dictionaries(
    {
        "ticker_name": st.text(max_size=12),
        "report_ticker": st.sampled_from(["KXHIGHCHI", "KXLOWTCHI", "KXBTCD", "INXD"]),
        "create_ts": st.text(alphabet='{}[]",:\\ ab\u00e9', max_size=10),
        "price": st.one_of(st.integers(0, 100), st.text(max_size=4)),
    }
)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(row_strategy, max_size=30),
    chunk=st.integers(1, 600),
    bulk_min=st.sampled_from([1, 40, 1 << 40]),
)
def test_filter_equals_a_full_parse(rows: list[dict[str, Any]], chunk: int, bulk_min: int) -> None:
    data = json.dumps(rows).encode()
    keep = {"KXHIGHCHI", "KXLOWTCHI"}
    got, stats = _filter(data, keep, chunk, bulk_min)
    want = [(i, r) for i, r in enumerate(rows) if r["report_ticker"] in keep]
    assert [(r.row_no, json.loads(r.body)) for r in got] == want
    assert stats.rows == len(rows)


plain_text = st.text(alphabet="{}[],: ab\u00e9", max_size=8) | st.just("report_ticker")
plain_row = st.fixed_dictionaries(
    {
        "ticker_name": plain_text,
        "report_ticker": st.sampled_from(["KXHIGHCHI", "KXLOWTCHI", "KXBTCD", "report_ticker"]),
        "create_ts": plain_text,
        "contracts_traded": st.integers(0, 10**6),
    }
)


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(plain_row, max_size=40),
    chunk=st.integers(1, 2000),
    bulk_min=st.sampled_from([1, 64]),
)
def test_the_bulk_path_equals_a_full_parse(
    rows: list[dict[str, Any]], chunk: int, bulk_min: int
) -> None:
    # Rows without escapes (the bulk path's runs), braces and the key's name in values.
    data = json.dumps(rows, ensure_ascii=False).encode()
    keep = {"KXHIGHCHI", "KXLOWTCHI"}
    got, stats = _filter(data, keep, chunk, bulk_min)
    want = [(i, r) for i, r in enumerate(rows) if r["report_ticker"] in keep]
    assert [(r.row_no, json.loads(r.body)) for r in got] == want
    assert stats.rows == len(rows)


def test_the_bulk_path_finds_rows_in_a_long_run() -> None:
    rows = [
        {"ticker_name": f"T-{i}", "report_ticker": "KXHIGHCHI" if i % 97 == 5 else "X", "n": "{}"}
        for i in range(20_000)
    ]
    data = json.dumps(rows).encode()
    got, stats = _filter(data, {"KXHIGHCHI"}, 1 << 16, 1 << 10)
    assert [r.row_no for r in got] == [i for i in range(20_000) if i % 97 == 5]
    assert all(json.loads(r.body) == rows[r.row_no] for r in got)
    assert stats.rows == 20_000


def test_an_empty_array_has_no_rows() -> None:
    rows, stats = _filter(b" [ ] ", {"X"})
    assert rows == [] and stats.rows == 0


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b'{"report_ticker": "X"}',
        b'[{"report_ticker": "X"}',
        b'[{"report_ticker": "X"},]',
        b'[{"report_ticker": "X"} {"report_ticker": "X"}]',
        b'[{"report_ticker": "X", "p": tru}]',
        b"[1, 2]",
        b'[{"report_ticker": "X", "note": "never closed}]',
    ],
)
def test_anything_but_an_array_of_objects_is_a_corrupt_file(data: bytes) -> None:
    with pytest.raises(CorruptFileError):
        _filter(data, {"X"}, 4)


# --- the bucket, anonymously ------------------------------------------------------------------


def public_bucket(s3: LocalS3) -> tuple[str, s3fs.S3FileSystem]:
    """A fresh public-read bucket (like Kalshi's) and a writer on it."""
    name = f"kl-reports-{secrets.token_hex(4)}"
    s3.client().create_bucket(Bucket=name, ACL="public-read")
    fs = s3fs.S3FileSystem(
        key=ACCESS_KEY, secret=SECRET_KEY, endpoint_url=s3.endpoint, skip_instance_cache=True
    )
    return name, fs


def test_locate_prefers_gzip_then_plain_json_and_none_when_unpublished(moto_s3: LocalS3) -> None:
    bucket, fs = public_bucket(moto_s3)
    day = dt.date(2026, 8, 1)
    rows = [{"report_ticker": "KXHIGHCHI", "ticker_name": "KXHIGHCHI-26AUG01-B80.5"}]
    fs.pipe_file(
        f"{bucket}/reporting/trade_data_{day}.json.gz", gzip.compress(json.dumps(rows).encode())
    )
    fs.pipe_file(f"{bucket}/reporting/trade_data_{day}.json", b"[]")
    fs.pipe_file(f"{bucket}/reporting/market_data_{day}.json", json.dumps(rows).encode())
    src = ReportSource(f"s3://{bucket}/reporting", moto_s3.endpoint)
    gz = src.locate("trade_data", day)
    assert gz is not None and gz.key.endswith(".json.gz")
    assert len(gz.etag8) == 8 and '"' not in gz.etag
    with src.open(gz) as stream:
        assert [r.ticker_name for r in filter_rows(stream, {"KXHIGHCHI"})] == [
            rows[0]["ticker_name"]
        ]
    plain = src.locate("market_data", day)
    assert plain is not None and plain.key.endswith(f"market_data_{day}.json")
    with src.open(plain) as stream:
        assert len(list(filter_rows(stream, {"KXHIGHCHI"}))) == 1
    assert src.locate("trade_data", day + dt.timedelta(days=1)) is None


def test_the_reader_sends_no_credentials(aws_env: LocalS3) -> None:
    moto_s3 = aws_env
    # A private bucket (no public-read ACL) cannot be read by the anonymous reader, even with
    # AWS credentials in the environment: the reader never signs. Its 403 is a refusal (one
    # clear error, exit 2), not a file "not published yet".
    name = f"kl-private-{secrets.token_hex(4)}"
    moto_s3.client().create_bucket(Bucket=name)
    moto_s3.client().put_object(Bucket=name, Key="reporting/trade_data_2026-08-01.json", Body=b"[]")
    src = ReportSource(f"s3://{name}/reporting", moto_s3.endpoint)
    with pytest.raises(ReportsRefusedError, match="refuse anonymous reads") as refused:
        src.locate("trade_data", dt.date(2026, 8, 1))
    assert refused.value.exit_code == 2


@pytest.mark.slow
def test_memory_stays_bounded_while_filtering_a_large_gzipped_file(tmp_path: Path) -> None:
    # ~36 MB of JSON (gzipped): the filter's peak RSS grows by a small, fixed amount (its read
    # chunk, gunzip's window and the kept rows), far below the file's size.
    ours = write_report_folder(tmp_path, 200_000)
    r = filter_in_child(str(tmp_path))
    assert r["rows"] == 200_000 and r["kept"] == ours > 0
    assert r["bytes"] > 30 * 2**20
    growth_mib = (r["peak_rss_kib"] - r["base_rss_kib"]) / 1024
    assert growth_mib < 20, r
