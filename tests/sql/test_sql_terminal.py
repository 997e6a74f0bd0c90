"""`status`, `sql`, `validate` and `cities` tables fit the terminal and never cut a ticker."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from click.testing import CliRunner, Result
from rich.cells import cell_len
from sql_lakefactory import LakeData

from kalshi_lake.cli import cli
from kalshi_lake.lake.storage import Lake

WIDTHS = (80, 200)
#: Box characters a table line starts and ends with; a cropped line lacks the closing one.
_OPEN, _CLOSE = "┏┃┡│└", "┓┃┩│┘"


def _run(width: int, *args: str) -> Result:
    return CliRunner(env={"COLUMNS": str(width)}).invoke(cli, list(args))


def _assert_fits(output: str, width: int) -> None:
    for line in output.splitlines():
        assert cell_len(line) <= width, line
        s = line.strip()
        if s and s[0] in _OPEN:
            assert s[-1] in _CLOSE, f"cropped: {line}"


def _assert_tickers_whole(output: str, tickers: set[str]) -> None:
    """Every ticker-looking word of ``output`` is a whole known ticker (none cut in two)."""
    seen = {w.rstrip(",") for w in re.findall(r"KXHIGH[^\s│┃]*", output)}
    assert seen, "no ticker in the output, so this test would prove nothing"
    assert seen <= tickers, seen - tickers


def _tickers(data: LakeData) -> set[str]:
    return {m["market_ticker"] for m in data.markets} | {m["event_ticker"] for m in data.markets}


@pytest.mark.parametrize("width", WIDTHS)
def test_sql_table_fits_and_keeps_tickers_whole(
    clean_lake: Lake, clean_data: LakeData, width: int
) -> None:
    query = "SELECT * FROM decision_quotes WHERE city = 'chicago' ORDER BY market_ticker LIMIT 8"
    res = _run(width, "--lake", clean_lake.root, "sql", query)
    assert res.exit_code == 0, res.output
    _assert_fits(res.output, width)
    _assert_tickers_whole(res.output, _tickers(clean_data))
    assert "8 row(s)" in res.output
    # what does not fit is named, and the CSV still has every column
    csv = _run(width, "--lake", clean_lake.root, "sql", "--csv", query).output
    header = csv.splitlines()[0].split(",")
    assert len(header) == 31  # 18 quote columns, then 13 of the order book
    if width == 80:
        assert "not shown at 80 columns: " in res.output and "--csv" in res.output
        assert "last_trade_age" in res.output  # named in the caption
    else:
        shown = [c for c in header if c in res.output]
        assert len(shown) > 8


@pytest.mark.parametrize("width", WIDTHS)
def test_status_table_fits(clean_lake: Lake, width: int) -> None:
    res = _run(width, "--lake", clean_lake.root, "status")
    assert res.exit_code == 0, res.output
    _assert_fits(res.output, width)
    for city in ("chicago", "phoenix"):
        assert re.search(rf"│ {city} +│", res.output), city  # one line per city, name whole
    assert "2026-03-08..11-22" in res.output  # phoenix's event dates
    if width == 200:
        assert "2026-03-09..10-31" in res.output and "not shown" not in res.output
    else:
        assert "not shown at 80 columns: gaps" in res.output


@pytest.mark.parametrize("width", WIDTHS)
def test_validate_table_fits_and_samples_keep_tickers_whole(
    clean_data: LakeData, write_lake: Callable[[LakeData], Lake], width: int
) -> None:
    clean_data.trades[5]["yes_price"] = Decimal("1.500000")  # a failing check with a sample
    lake = write_lake(clean_data)
    res = _run(width, "--lake", lake.root, "validate")
    assert res.exit_code == 1, res.output
    _assert_fits(res.output, width)
    assert re.search(r"│ trade_price_out_of_range +│ error +│ FAIL", res.output)
    if width == 200:
        _assert_tickers_whole(res.output, _tickers(clean_data))
    else:
        assert "not shown at 80 columns: sample; see them with --json" in res.output
    report = json.loads(_run(width, "--lake", lake.root, "validate", "--json").stdout)
    sample = next(c for c in report["checks"] if c["name"] == "trade_price_out_of_range")
    assert sample["sample"]


@pytest.mark.parametrize("width", WIDTHS)
def test_cities_table_fits(width: int) -> None:
    res = _run(width, "cities")
    assert res.exit_code == 0, res.output
    _assert_fits(res.output, width)
    assert re.search(r"│ philadelphia +│ Philadelphia +│ KXHIGHPHIL +│", res.output)
