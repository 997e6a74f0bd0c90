from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from kalshi_lake.cities import CITIES, city_for_ticker, event_date, get_city
from kalshi_lake.cli import cli
from kalshi_lake.errors import UnknownCityError


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
