"""Highs and lows apart in what the lake says it fetched: raw file names carry the family,
``fetched_days_in``, ``lake_status`` (``kalshi-lake status``) and ``market_day_not_fetched``
count each family on its own, and ``status``/``validate`` take several cities."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sql_lakefactory import LakeData, build, expected_decision_quotes

from kalshi_lake import connect
from kalshi_lake.cities import get_city
from kalshi_lake.cli import cli
from kalshi_lake.lake.raw import RawPage, write_pages
from kalshi_lake.lake.state import write_run_record
from kalshi_lake.lake.storage import Lake
from kalshi_lake.sim.curated import build_synthetic_lake
from kalshi_lake.sql.checks import run_checks

NOW = dt.datetime(2026, 11, 21, 16, 30, tzinfo=dt.UTC)
DAYS = [dt.date(2026, 11, 10) + dt.timedelta(days=i) for i in range(4)]
#: Chicago has highs and lows, Phoenix highs only (the registry lists no lows for it).
EVENTS = [
    *(("chicago", d, "high") for d in DAYS),
    *(("chicago", d, "low") for d in DAYS),
    *(("phoenix", d, "high") for d in DAYS),
]
HOLE = DAYS[1]
#: The columns of decision_quotes the Python reference computes.
DQ_COLUMNS = (
    "market_ticker", "event_ticker", "family", "city", "date", "decision_label", "decision_at",
    "yes_bid", "yes_ask", "mid", "quote_at", "last_trade_price", "last_trade_at", "result",
)  # fmt: skip


def two_families() -> LakeData:
    """Chicago's highs and lows and Phoenix's highs over four days, all fetched."""
    return build(events=EVENTS, now=NOW)


def _cli(lake: Lake, *args: str) -> tuple[int, str]:
    res = CliRunner().invoke(cli, ["--lake", lake.root, *args])
    return res.exit_code, res.output


def _status(lake: Lake, *args: str) -> dict[tuple[str, str], dict[str, object]]:
    code, out = _cli(lake, "status", "--json", *args)
    assert code == 0, out
    return {(r["city"], r["family"]): r for r in json.loads(out)["cities"]}


def _page(family_ticker: str, endpoint: str = "trades") -> RawPage:
    return RawPage(
        endpoint=endpoint,
        tier="live",
        city="chicago",
        date=HOLE,
        request_path="/trade-api/v2/markets/trades",
        request_params={"ticker": family_ticker},
        body='{"trades":[],"cursor":""}',
        fetched_at=NOW,
        run_id="test",
        market_ticker=family_ticker,
        series_ticker="KXHIGHCHI",
    )


def test_raw_files_are_named_by_the_family_of_their_pages(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    written = write_pages(
        lake,
        [
            _page("KXHIGHCHI-26NOV11-B45.5"),
            _page("KXLOWTCHI-26NOV11-B30.5"),
            _page("KXLOWTCHI-26NOV11-T25"),
            _page("KXRAINCHI-26NOV11-B1"),  # not a registered temperature series
        ],
    )
    names = sorted(p.rsplit("/", 1)[-1].split(".", 1)[1] for p in written)
    assert names == ["high.parquet", "low.parquet", "parquet"]
    low = next(p for p in written if p.endswith(".low.parquet"))
    assert "raw/trades/city=chicago/date=2026-11-11/" in low
    import pyarrow.parquet as pq

    assert pq.read_table(lake.path(lake.rel(low))).num_rows == 2


def test_fetched_days_are_per_family(write_lake: Callable[[LakeData], Lake]) -> None:
    data = two_families()
    data.unfetched.add(("chicago", HOLE, "low"))
    data.raw_trades = [
        t for t in data.raw_trades if not (t["date"] == HOLE and t["ticker"].startswith("KXLOWT"))
    ]
    lake = write_lake(data)
    con = connect(lake)
    rows = con.sql(
        "SELECT city, family, date, fetched FROM fetched_days_in() ORDER BY ALL"
    ).fetchall()
    want = {("chicago", f, d) for f in ("high", "low") for d in DAYS} | {
        ("phoenix", "high", d) for d in DAYS
    }
    assert {(c, f, d) for c, f, d, ok in rows if ok} == want - {("chicago", "low", HOLE)}
    assert ("chicago", "low", HOLE) not in {(c, f, d) for c, f, d, _ in rows}
    lows = con.sql("SELECT DISTINCT family FROM fetched_days_in(family := 'low')").fetchall()
    assert lows == [("low",)]
    one = con.sql(
        "SELECT family, date FROM fetched_days_in('chicago', DATE '2026-11-11', DATE '2026-11-11')"
        " ORDER BY ALL"
    ).fetchall()
    assert one == [("high", HOLE)]


def test_a_raw_file_without_a_family_holds_highs(write_lake: Callable[[LakeData], Lake]) -> None:
    """Files written before families were recorded: only highs were fetched then."""
    lake = write_lake(build(events=[("phoenix", d, "high") for d in DAYS], now=NOW))
    root = Path(lake.root)
    for f in root.glob("raw/*/city=*/date=*/*.high.parquet"):
        f.rename(f.with_name(f.name.replace(".high.parquet", ".parquet")))
    assert not list(root.glob("raw/**/*.high.parquet"))
    rows = connect(lake).sql(
        "SELECT family, count(*) FROM fetched_days_in() WHERE fetched GROUP BY ALL"
    )
    assert rows.fetchall() == [("high", len(DAYS))]
    assert _status(lake)[("phoenix", "high")]["event_dates"] == len(DAYS)


def test_status_has_a_row_per_city_and_family(write_lake: Callable[[LakeData], Lake]) -> None:
    data = two_families()
    data.unfetched.add(("chicago", HOLE, "low"))
    data.raw_trades = [
        t for t in data.raw_trades if not (t["date"] == HOLE and t["ticker"].startswith("KXLOWT"))
    ]
    lake = write_lake(data)
    rows = _status(lake)
    assert list(rows) == [("chicago", "high"), ("chicago", "low"), ("phoenix", "high")]
    high, low = rows[("chicago", "high")], rows[("chicago", "low")]
    assert (high["event_dates"], high["missing_days"], high["gaps"]) == (4, 0, [])
    assert (low["event_dates"], low["missing_days"], low["gaps"]) == (3, 1, ["2026-11-11"])
    assert low["listed_only_days"] == 1 and high["listed_only_days"] == 0
    for family, row in (("high", high), ("low", low)):
        markets = [m for m in data.markets if m["city"] == "chicago"]
        mine = [m for m in markets if m["event_ticker"].startswith(f"KX{family.upper()}")]
        assert row["markets"] == len(mine) == 24
        trades = [t for t in data.trades if t["market_ticker"].startswith(f"KX{family.upper()}")]
        assert row["trades"] == sum(1 for t in trades if t["city"] == "chicago")
    code, table = (
        CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["--lake", lake.root, "status"]).exit_code,
        CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["--lake", lake.root, "status"]),
    )
    assert code == 0
    lines = [ln for ln in table.output.splitlines() if "chicago" in ln]
    assert len(lines) == 2 and "high" in lines[0] and "low" in lines[1]


def test_a_city_fetched_for_highs_only_has_no_missing_lows(
    write_lake: Callable[[LakeData], Lake],
) -> None:
    """Lows listed (curated from a listing) but never fetched are not holes of the highs, and
    the highs are not reported missing because the lows are."""
    data = two_families()
    data.unfetched.update(("chicago", d, "low") for d in DAYS)
    data.raw_trades = [t for t in data.raw_trades if not t["ticker"].startswith("KXLOWT")]
    lake = write_lake(data)
    (result,) = run_checks(lake, as_of=NOW, only=["market_day_not_fetched"])
    assert result.passed, result
    rows = _status(lake, "--city", "chicago")
    assert rows[("chicago", "high")]["event_dates"] == 4
    low = rows[("chicago", "low")]
    assert (low["event_dates"], low["first_date"], low["listed_only_days"]) == (0, None, 4)


def _holes(write_lake: Callable[[LakeData], Lake]) -> Lake:
    """A low day of chicago and a high day of phoenix listed but not fetched."""
    data = two_families()
    data.unfetched.update({("chicago", HOLE, "low"), ("phoenix", HOLE)})
    data.raw_trades = [
        t
        for t in data.raw_trades
        if not (t["date"] == HOLE and (t["ticker"].startswith("KXLOWT") or t["city"] == "phoenix"))
    ]
    return write_lake(data)


def test_market_day_not_fetched_names_the_family(write_lake: Callable[[LakeData], Lake]) -> None:
    lake = _holes(write_lake)
    (result,) = run_checks(lake, as_of=NOW, only=["market_day_not_fetched"])
    assert result.offending == 2
    got = {(r["city"], r["family"], r["date"]) for r in result.sample}
    assert got == {("chicago", "low", HOLE), ("phoenix", "high", HOLE)}


def test_validate_takes_several_cities(write_lake: Callable[[LakeData], Lake]) -> None:
    lake = _holes(write_lake)
    check = ["--check", "market_day_not_fetched", "--as-of", NOW.isoformat()]

    def offending(*cities: str) -> tuple[int, dict[str, object]]:
        code, out = _cli(lake, "validate", "--json", *check, *cities)
        assert code == 0, out  # a warn-level check
        report = json.loads(out)
        return report["checks"][0]["offending"], report["scope"]

    assert offending("--city", "chicago")[0] == 1
    both, scope = offending("--city", "chicago,phoenix")
    assert both == 2 and scope["cities"] == ["chicago", "phoenix"]
    assert offending("--city", "chi", "--city", "phoenix,chicago")[0] == 2  # aliases, repeats
    whole, scope = offending("--city", "all")
    assert whole == 2 and scope["cities"] is None
    assert offending()[0] == 2
    code, out = _cli(lake, "validate", "--city", "chicago,atlantis")
    assert code == 2 and "atlantis" in out and "valid cities" in out and "phoenix" in out
    # a registry city the lake has nothing of: one line naming it and the cities there are
    code, out = _cli(lake, "validate", "--city", "chicago,nyc")
    assert code == 2 and "nothing to validate for nyc" in out and "chicago, phoenix" in out
    # a clean two-family lake passes every check for both families, one city or several
    clean = write_lake(two_families())
    code, out = _cli(clean, "validate", "--city", "chicago,phoenix", "--as-of", NOW.isoformat())
    assert code == 0, out


def test_status_takes_a_city_list(write_lake: Callable[[LakeData], Lake]) -> None:
    lake = write_lake(two_families())
    assert list(_status(lake, "--city", "phoenix")) == [("phoenix", "high")]
    # a city with nothing in the lake is answered too: a zero row per family it has
    rows = _status(lake, "--city", "phoenix,nyc")
    assert list(rows) == [("nyc", "high"), ("nyc", "low"), ("phoenix", "high")]
    assert rows[("nyc", "low")]["event_dates"] == 0 and rows[("nyc", "low")]["markets"] == 0
    assert list(_status(lake, "--city", "all")) == list(_status(lake))
    code, out = _cli(lake, "status", "--city", "atlantis")
    assert code == 2 and "valid cities" in out


@pytest.mark.parametrize("command", ["status", "validate", "transform"])
def test_unknown_city_exits_2_listing_the_valid_ones(tmp_path: Path, command: str) -> None:
    lake = Lake(str(tmp_path / "lake"))
    code, out = _cli(lake, command, "--city", "chicago,gotham")
    assert code == 2
    assert "gotham" in out and "valid cities: nyc, chicago" in out


def test_decision_quotes_of_lows_across_dst_equal_the_reference(
    write_lake: Callable[[LakeData], Lake],
) -> None:
    """Chicago's lows on both 2026 DST change days (and Phoenix's highs, no DST): every as-of
    quote equals the Python reference at the zone-correct instants, and each settled lows event
    has exactly one winning bracket."""
    events = [
        ("chicago", dt.date(2026, 3, 8), "low"),
        ("chicago", dt.date(2026, 3, 8), "high"),
        ("chicago", dt.date(2026, 11, 1), "low"),
        ("phoenix", dt.date(2026, 11, 1), "high"),
    ]
    data = build(events=events, now=NOW)
    lake = write_lake(data)
    con = connect(lake)
    got = con.sql(
        f"SELECT {', '.join(DQ_COLUMNS)} FROM decision_quotes ORDER BY market_ticker, decision_at"
    )
    rows = [dict(zip(DQ_COLUMNS, r, strict=True)) for r in got.fetchall()]
    assert rows == expected_decision_quotes(data)
    lows = [r for r in rows if r["family"] == "low"]
    assert len(lows) == 2 * 2 * 6  # two events, two instants, six brackets
    utc_hours = {(r["date"], r["decision_label"]): r["decision_at"].hour for r in lows}
    assert utc_hours == {
        (dt.date(2026, 3, 8), "D-1 10:00"): 16,  # CST
        (dt.date(2026, 3, 8), "D 10:00"): 15,  # CDT
        (dt.date(2026, 11, 1), "D-1 10:00"): 15,  # CDT
        (dt.date(2026, 11, 1), "D 10:00"): 16,  # CST
    }
    winners = con.sql(
        "SELECT event_ticker, count(*) FILTER (WHERE is_winner) FROM event_ladder"
        " WHERE family = 'low' AND decision_label = 'D 10:00' GROUP BY ALL"
    ).fetchall()
    assert sorted(winners) == [("KXLOWTCHI-26MAR08", 1), ("KXLOWTCHI-26NOV01", 1)]


def test_last_run_is_per_family(write_lake: Callable[[LakeData], Lake]) -> None:
    """A backfill's run record names its families: each row shows the last run of its own
    family; a run naming none (a repair) counts for every family of its city; a run fetched
    but not transformed yet gets a zero row of its families only."""
    lake = write_lake(two_families())

    def record(run_id: str, city: str, started: str, status: str, **extra: object) -> None:
        rec = {"run_id": run_id, "command": "backfill", "city": city, "status": status}
        write_run_record(lake, run_id, {**rec, "started_at": started, **extra})

    record("r1", "chicago", "2026-11-21T10:00:00+00:00", "ok", families=["high", "low"])
    record("r2", "chicago", "2026-11-21T11:00:00+00:00", "failed", families=["low"])
    record("r3", "nyc", "2026-11-21T12:00:00+00:00", "running", families=["low"])
    record("r4", "phoenix", "2026-11-21T09:00:00+00:00", "ok", families=["high"])
    runs = {k: str(r["last_run"]) for k, r in _status(lake).items()}
    assert runs == {
        ("chicago", "high"): "backfill ok 2026-11-21T10:00:00+00:00",
        ("chicago", "low"): "backfill failed 2026-11-21T11:00:00+00:00",
        ("nyc", "low"): "backfill running 2026-11-21T12:00:00+00:00",
        ("phoenix", "high"): "backfill ok 2026-11-21T09:00:00+00:00",
    }
    record("r5", "chicago", "2026-11-21T13:00:00+00:00", "ok", command="repair")
    record("r6", "miami", "2026-11-21T13:00:00+00:00", "ok")  # an older backfill: highs
    runs = {k: str(r["last_run"]) for k, r in _status(lake).items()}
    assert (
        runs[("chicago", "high")]
        == runs[("chicago", "low")]
        == "repair ok 2026-11-21T13:00:00+00:00"
    )
    assert runs[("miami", "high")] == "backfill ok 2026-11-21T13:00:00+00:00"
    assert ("miami", "low") not in runs


def test_the_curated_generator_makes_lows_the_backtest_views_read(tmp_path: Path) -> None:
    """``build_synthetic_lake(families=...)``: Chicago's lows beside its highs (Phoenix has
    none), each settled lows event with one winner settling below the day's high, and the
    backtest views answering for both families."""
    lake = Lake(str(tmp_path / "lake"))
    cities = [get_city("chicago"), get_city("phoenix")]
    start = dt.date(2026, 10, 28)
    counts = build_synthetic_lake(
        lake, cities=cities, start=start, days=6, trades_per_market=20,
        api_candles_per_market=20, families=("high", "low"),
    )  # fmt: skip
    assert counts["markets"] == 3 * 6 * 6
    con = connect(lake)
    per_family = con.sql(
        "SELECT city, family, count(DISTINCT event_ticker) FROM markets GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    assert per_family == [("chicago", "high", 6), ("chicago", "low", 6), ("phoenix", "high", 6)]
    settled = con.sql(
        "SELECT date, family, count(*) FILTER (WHERE result = 'yes') AS winners,"
        " max(expiration_value) AS value FROM markets WHERE city = 'chicago'"
        " AND status = 'finalized' GROUP BY ALL"
    ).fetchall()
    by_day: dict[dt.date, dict[str, Decimal]] = {}
    for date, family, winners, value in settled:
        assert winners == 1
        by_day.setdefault(date, {})[family] = value
    assert len(by_day) >= 4
    assert all(v["low"] < v["high"] for v in by_day.values())
    quoted = con.sql(
        "SELECT family, count(*) FROM decision_quotes WHERE mid IS NOT NULL GROUP BY ALL"
    ).fetchall()
    assert {f for f, n in quoted if n > 0} == {"high", "low"}
    ladder = con.sql(
        "SELECT event_ticker, count(*) FILTER (WHERE is_winner) FROM event_ladder"
        " WHERE family = 'low' AND decision_label = 'D 10:00' GROUP BY ALL"
    ).fetchall()
    assert len(ladder) == 6 and all(n <= 1 for _, n in ladder)
    assert sum(n for _, n in ladder) == len(by_day)
    # the highs are what the generator wrote before it knew lows
    highs = Lake(str(tmp_path / "highs"))
    build_synthetic_lake(
        highs, cities=cities, start=start, days=6, trades_per_market=20, api_candles_per_market=20
    )
    same = "SELECT * FROM {} WHERE family = 'high' ORDER BY ALL"
    for table in ("markets", "trades", "candles_1m"):
        assert (
            connect(highs).sql(same.format(table)).fetchall()
            == con.sql(same.format(table)).fetchall()
        ), table
