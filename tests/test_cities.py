from __future__ import annotations

import datetime as dt
import json

import pytest
from click.testing import CliRunner

from kalshi_lake.cities import (
    CITIES,
    FAMILIES,
    Series,
    city_for_ticker,
    event_date,
    family_for_ticker,
    get_city,
    parse_families,
)
from kalshi_lake.cli import cli
from kalshi_lake.errors import UnknownCityError, UnknownFamilyError


def test_registry_has_twenty_unique_series() -> None:
    assert len(CITIES) == 20
    assert len({c.series_ticker for c in CITIES}) == 20
    assert len({c.name for c in CITIES}) == 20


@pytest.mark.parametrize(
    ("alias", "name"),
    [
        ("ny", "nyc"),
        ("NYC", "nyc"),
        ("lax", "la"),
        ("phil", "philadelphia"),
        ("philly", "philadelphia"),
        ("KXHIGHCHI", "chicago"),
        ("San Francisco", "sf"),
        ("new-orleans", "neworleans"),
    ],
)
def test_aliases_resolve(alias: str, name: str) -> None:
    assert get_city(alias).name == name


def test_unknown_city_lists_valid_names() -> None:
    with pytest.raises(UnknownCityError, match="chicago"):
        get_city("gotham")


def test_legacy_prefix_by_date() -> None:
    nyc = get_city("nyc")
    assert nyc.event_ticker(dt.date(2024, 8, 15)) == "HIGHNY-24AUG15"
    assert nyc.event_ticker(dt.date(2026, 11, 20)) == "KXHIGHNY-26NOV20"
    assert get_city("denver").event_ticker(dt.date(2024, 11, 20)) == "KXHIGHDEN-24NOV20"


def test_ticker_helpers() -> None:
    assert event_date("KXHIGHCHI-25NOV20-B45.5") == dt.date(2025, 11, 20)
    assert city_for_ticker("HIGHNY-21AUG06-T86").name == "nyc"  # type: ignore[union-attr]
    assert city_for_ticker("KXELONMARS-99") is None


def test_cli_cities_table_and_json() -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["cities"])
    assert out.exit_code == 0, out.output
    assert "KXHIGHCHI" in out.output and "America/Phoenix" in out.output
    js = runner.invoke(cli, ["cities", "--json"])
    assert js.exit_code == 0
    assert '"series_ticker": "KXHIGHTHOU"' in js.output


def test_families_per_city() -> None:
    chi = get_city("chicago")
    assert FAMILIES == ("high", "low")
    assert list(chi.families) == ["high", "low"]
    assert chi.series("high") == Series("high", "KXHIGHCHI", "HIGHCHI", chi.first_event)
    low = chi.series("low")
    assert low.ticker == "KXLOWTCHI" and low.legacy_prefix is None
    assert low.first_event > chi.first_event
    assert low.event_ticker(dt.date(2026, 3, 8)) == "KXLOWTCHI-26MAR08"
    # The flat fields keep meaning the high series.
    assert chi.series_ticker == "KXHIGHCHI" and chi.event_ticker(dt.date(2026, 3, 8)) == (
        "KXHIGHCHI-26MAR08"
    )
    assert list(get_city("austin").families) == ["high"]
    assert sum("low" in c.families for c in CITIES) >= 10
    assert city_for_ticker("KXLOWTNYC-26MAR08-B30.5") is get_city("nyc")
    assert family_for_ticker("KXLOWTNYC-26MAR08-B30.5") == "low"
    assert family_for_ticker("HIGHNY-21AUG06-T86") == "high"
    assert get_city("KXLOWTLAX").name == "la"


def test_unknown_family_lists_valid_ones() -> None:
    with pytest.raises(UnknownFamilyError, match="valid families: high, low"):
        get_city("chicago").series("medium")
    with pytest.raises(UnknownFamilyError, match="austin has no 'low' series"):
        get_city("austin").series("low")
    with pytest.raises(UnknownFamilyError, match="valid families: high, low"):
        parse_families("high,bogus")
    assert parse_families(" low , high,low") == ("high", "low")
    assert parse_families(None) is None


def test_cli_cities_lists_both_families() -> None:
    runner = CliRunner()
    out = runner.invoke(cli, ["cities"])
    assert out.exit_code == 0, out.output
    assert "KXLOWTCHI" in out.output
    js = runner.invoke(cli, ["cities", "--json"])
    rows = {r["name"]: r for r in json.loads(js.output)}
    assert rows["chicago"]["families"]["low"] == {
        "series_ticker": "KXLOWTCHI",
        "legacy_prefix": None,
        "first_event": get_city("chicago").series("low").first_event.isoformat(),
    }
    assert rows["chicago"]["families"]["high"]["series_ticker"] == "KXHIGHCHI"
    assert list(rows["austin"]["families"]) == ["high"]
