"""raw/ws (WebSocket frames, another schema) never trips the readers of REST pages: the SQL
views, repair's scan, and the checks. The transform reads it (its trade and lifecycle frames,
tests/transform/test_transform_ws.py) beside the pages, never as pages."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from kalshi_lake import connect
from kalshi_lake.config import Settings
from kalshi_lake.lake import Lake
from kalshi_lake.lake.raw import (
    CONNECTION_CITY,
    ENDPOINTS,
    RAW_SCHEMA,
    WS_FOLDER,
    RawPage,
    has_pages,
    page_endpoints,
    write_pages,
)
from kalshi_lake.live import FrameRecord, Journal
from kalshi_lake.repair.run import _cities as repair_cities
from kalshi_lake.repair.scan import raw_files
from kalshi_lake.sim.rawgen import SynthSpec, generate_raw
from kalshi_lake.sql.checks import run_checks
from kalshi_lake.transform import run_transform
from kalshi_lake.transform.inputs import cities_in, list_raw

Frame = Callable[..., FrameRecord]

SPEC = SynthSpec(seed=3, cities=("chicago",), start=dt.date(2026, 9, 28), days=2, page_size=50)
SPEC_DATES = (dt.date(2026, 9, 28), dt.date(2026, 9, 29))


@pytest.fixture(scope="module")
def pages_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small generated raw layer of REST pages (chicago, two days)."""
    root = tmp_path_factory.mktemp("pages") / "lake"
    generate_raw(Lake(str(root)), SPEC)
    return root


def _add_frames(lake: Lake, journal: Path, frame: Frame, msg_type: str = "trade") -> int:
    """Roll frames of chicago, nyc (a city without pages) and the connection into ``lake``."""
    with Journal(journal) as j:
        for i in range(90):
            city = ("chicago", "nyc", None)[i % 3]
            rec = frame(i, city=city, date=SPEC_DATES[i % 2])
            if city is not None:
                rec = dataclasses.replace(rec, channel=msg_type, msg_type=msg_type)
            j.append(rec)
        return j.roll(lake, older_than_s=0).files_written


def test_no_rest_endpoint_folder_starts_with_w() -> None:
    # raw_pages_in's glob '[!dw]*' skips raw/ws (and raw/daily_reports) this way
    assert WS_FOLDER not in ENDPOINTS
    assert not [e for e in ENDPOINTS if e.startswith("w")]


def test_page_listings_skip_raw_ws(pages_lake: Path, tmp_path: Path, frame: Frame) -> None:
    only_ws = Lake(str(tmp_path / "ws-only"))
    assert _add_frames(only_ws, tmp_path / "j1", frame) == 5
    assert page_endpoints(only_ws) == [] and not has_pages(only_ws)
    assert only_ws.ls_dirs("raw") == [WS_FOLDER]
    assert cities_in(only_ws, None) == ["chicago", "nyc"]  # not _connection
    assert repair_cities(only_ws) == []
    assert raw_files(only_ws, "chicago") == []

    root = tmp_path / "both"
    shutil.copytree(pages_lake, root)
    both = Lake(str(root))
    before = list_raw(both, ["chicago"])
    _add_frames(both, tmp_path / "j2", frame)
    assert WS_FOLDER not in page_endpoints(both) and has_pages(both)
    assert cities_in(both, None) == ["chicago", "nyc"]  # nyc: frames only; not _connection
    assert CONNECTION_CITY not in repair_cities(both)
    after = list_raw(both, ["chicago", "nyc"])
    assert [f for f in after if f.endpoint != WS_FOLDER] == before
    assert {(f.city, f.date) for f in after if f.endpoint == WS_FOLDER} == {
        (c, d) for c in ("chicago", "nyc") for d in SPEC_DATES
    }
    assert all(f.endpoint != WS_FOLDER for f in raw_files(both, "chicago"))


def test_raw_pages_views_never_read_frames(pages_lake: Path, tmp_path: Path, frame: Frame) -> None:
    root = tmp_path / "both"
    shutil.copytree(pages_lake, root)
    lake = Lake(str(root))
    con = connect(lake)
    want = con.execute("SELECT count(*) FROM raw_pages").fetchone()
    _add_frames(lake, tmp_path / "j", frame)
    con = connect(lake)
    cols = [d[0] for d in con.execute("SELECT * FROM raw_pages LIMIT 0").description]
    assert cols == [f.name for f in RAW_SCHEMA] + ["city", "date"]
    assert con.execute("SELECT count(*) FROM raw_pages").fetchone() == want
    assert con.execute(
        "SELECT count(*) FROM raw_pages_in(city := 'chicago') WHERE endpoint IS NULL"
    ).fetchone() == (0,)
    # a lake with frames only: the page views are empty, not an error
    ws_only = Lake(str(tmp_path / "ws-only"))
    _add_frames(ws_only, tmp_path / "j2", frame)
    assert connect(ws_only).execute("SELECT count(*) FROM raw_pages").fetchone() == (0,)


@pytest.mark.slow
def test_transform_and_checks_run_the_same_beside_frames(
    pages_lake: Path, tmp_path: Path, frame: Frame
) -> None:
    results = {}
    for name in ("pages", "pages+frames"):
        root = tmp_path / name
        shutil.copytree(pages_lake, root)
        if name == "pages+frames":
            # frames no curated table takes (ticker ones): the curated tables are the same
            _add_frames(Lake(str(root)), tmp_path / "j", frame, msg_type="ticker")
        summary = run_transform(Settings(lake=str(root), progress=False))
        checks = run_checks(str(root))
        results[name] = (
            sorted(k for k in summary.rebuilt if k[0] == "chicago"),
            summary.rows,
            summary.problems,
            sorted((c.name, c.offending, c.error) for c in checks),
        )
    assert results["pages"][0] and results["pages"][1]["trades"] > 0
    assert results["pages"] == results["pages+frames"]


@pytest.mark.s3
def test_raw_pages_on_s3_skip_frames_too(
    s3_lake: Callable[[], Lake], tmp_path: Path, frame: Frame
) -> None:
    lake = s3_lake()
    page = RawPage(
        endpoint="trades",
        tier="live",
        city="chicago",
        date=SPEC_DATES[0],
        request_path="/trade-api/v2/markets/trades",
        request_params={"ticker": "KXHIGHCHI-26SEP28-B40.5"},
        body='{"trades":[],"cursor":""}',
        fetched_at=dt.datetime(2026, 9, 28, 12, tzinfo=dt.UTC),
        run_id="r1",
    )
    write_pages(lake, [page])
    _add_frames(lake, tmp_path / "j", frame)
    con = connect(lake)
    assert con.execute("SELECT count(*), min(endpoint) FROM raw_pages").fetchone() == (1, "trades")
