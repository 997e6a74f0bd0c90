"""The raw-layer generator's daily lows (``SynthSpec.families``) through the transform: curated
rows of both families, every check passing per family, status counting each family, and the
highs' pages unchanged by adding lows."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from kalshi_lake.cities import get_city
from kalshi_lake.cli import cli
from kalshi_lake.config import Settings
from kalshi_lake.errors import UnknownFamilyError
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim.rawgen import SynthSpec, generate_raw
from kalshi_lake.sim.rawgen_markets import temperatures
from kalshi_lake.sql.checks import run_checks
from kalshi_lake.transform import run_transform

#: Chicago has highs and lows; Boston has no low series, so it gets its highs only.
SPEC = SynthSpec(
    seed=5, cities=("chicago", "boston"), start=dt.date(2026, 10, 30), days=4,
    trades_per_market=30, page_size=20, dup_page_rate=0.2, families=("high", "low"),
)  # fmt: skip


def _curated(lake: Path, table: str) -> pl.DataFrame:
    files = sorted((lake / "curated" / table).glob("city=*/month=*/*.parquet"))
    return pl.concat([pl.read_parquet(f, hive_partitioning=True) for f in files], how="diagonal")


def _page_rows(lake: Path) -> list[tuple[object, ...]]:
    """Every raw page of the highs, with its partition, file family and content hash."""
    out = []
    for f in sorted(lake.glob("raw/*/city=*/date=*/*.parquet")):
        family = f.name.split(".")[1] if f.name.count(".") == 2 else None
        folder = str(f.parent.relative_to(lake))
        for r in pq.read_table(f).to_pylist():
            if family == "high":
                out.append((folder, r["page_number"], r["fetched_at"], r["body_sha256"]))
    return sorted(out)


@pytest.fixture(scope="module")
def lows_lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("lows") / "lake"
    generate_raw(Lake(str(root)), SPEC)
    run_transform(Settings(lake=str(root), progress=False))
    return root


def test_lows_are_generated_beside_the_highs_and_transformed(lows_lake: Path) -> None:
    mk = _curated(lows_lake, "markets")
    events = (
        mk.group_by("city", "family")
        .agg(n=pl.col("event_ticker").n_unique())
        .sort("city", "family")
    )
    assert events.rows() == [("boston", "high", 4), ("chicago", "high", 4), ("chicago", "low", 4)]
    lows = mk.filter(pl.col("family") == "low")
    assert lows["market_ticker"].str.starts_with("KXLOWTCHI-").all()
    assert (lows["series_ticker"] == "KXLOWTCHI").all()
    # exactly one winning bracket per settled low event
    yes = lows.group_by("event_ticker").agg(y=(pl.col("result") == "yes").sum())
    assert yes["y"].to_list() == [1] * 4
    # a day's low settles below its high, inside its winning bracket
    settled = (
        mk.filter(pl.col("city") == "chicago")
        .group_by("date", "family")
        .agg(v=pl.col("expiration_value").first().cast(pl.Float64))
        .pivot(on="family", index="date", values="v")
    )
    assert settled.height == 4 and (settled["low"] < settled["high"]).all()
    win = lows.filter(pl.col("result") == "yes")
    v = win["expiration_value"].cast(pl.Float64)
    assert (
        (win["low_f"].is_null() | (win["low_f"] <= v))
        & (win["high_f"].is_null() | (v <= win["high_f"]))
    ).all()
    tr = _curated(lows_lake, "trades")
    vol = tr.group_by("market_ticker").agg(v=pl.col("count").sum())
    joined = lows.join(vol, on="market_ticker")
    assert joined.height == lows.height and (joined["volume"] == joined["v"]).all()
    assert set(_curated(lows_lake, "candles_1m")["family"].unique()) == {"high", "low"}


def test_every_check_passes_for_both_families(lows_lake: Path) -> None:
    as_of = dt.datetime(2026, 11, 10, tzinfo=dt.UTC)
    # The generator's candles come from trades alone (a quiet stretch has none), so its lakes,
    # highs as much as lows, have no quote at many decision instants: that check is not theirs.
    results = run_checks(str(lows_lake), as_of=as_of, skip=["api_candle_coverage_at_decision"])
    assert {r.name: (r.status, r.error, r.sample) for r in results if not r.passed} == {}


def test_low_pages_speak_of_lows(lows_lake: Path) -> None:
    (page,) = pq.read_table(
        next(lows_lake.glob("raw/event/city=chicago/date=2026-10-31/*.low.parquet"))
    ).to_pylist()
    event = json.loads(page["body"])["event"]
    assert event["series_ticker"] == "KXLOWTCHI" and event["title"].startswith("Lowest temp")
    market = event["markets"][0]
    assert market["title"].startswith("Will the low temp be")
    assert "minimum temperature" in market["rules_primary"]  # The Weather Company era


def test_status_counts_each_family_fetched(lows_lake: Path) -> None:
    res = CliRunner().invoke(cli, ["--lake", str(lows_lake), "status", "--json"])
    assert res.exit_code == 0, res.output
    rows = {(r["city"], r["family"]): r for r in json.loads(res.output)["cities"]}
    assert list(rows) == [("boston", "high"), ("chicago", "high"), ("chicago", "low")]
    for row in rows.values():
        assert (row["first_date"], row["last_date"]) == ("2026-10-30", "2026-11-02")
        assert (row["event_dates"], row["missing_days"], row["markets"]) == (4, 0, 24)
    files = {f.name.split(".")[1] for f in lows_lake.glob("raw/*/city=chicago/date=*/*.parquet")}
    assert files == {"high", "low"}


def test_adding_lows_leaves_the_highs_pages_as_they_were(tmp_path: Path) -> None:
    highs = dataclasses.replace(SPEC, families=("high",), cities=("chicago",))
    generate_raw(Lake(str(tmp_path / "h")), highs)
    generate_raw(Lake(str(tmp_path / "hl")), dataclasses.replace(highs, families=("high", "low")))
    assert _page_rows(tmp_path / "h") == _page_rows(tmp_path / "hl")
    assert not list((tmp_path / "h").glob("raw/**/*.low.parquet"))
    assert list((tmp_path / "hl").glob("raw/**/*.low.parquet"))


def test_a_low_settles_below_the_high_every_day() -> None:
    days = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(400)]
    for seed in (0, 5):
        for name in ("chicago", "miami"):
            city, spec = get_city(name), dataclasses.replace(SPEC, seed=seed)
            for d in days:
                (_, hi), (lb, lo) = (temperatures(spec, city, d, f) for f in ("high", "low"))
                # the ladder (lb-1 or below .. lb+8 or above) is placed around the low
                assert lo < hi and lb >= 1 and lb - 5 <= lo <= lb + 2


def test_an_unknown_family_is_refused() -> None:
    with pytest.raises(UnknownFamilyError, match="high, low"):
        SynthSpec(families=("high", "mid"))
