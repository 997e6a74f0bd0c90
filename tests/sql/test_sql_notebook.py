"""The example notebook runs top to bottom against a lake."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from kalshi_lake.lake.storage import Lake

NOTEBOOK = Path(__file__).resolve().parents[2] / "examples" / "backtest.ipynb"


@pytest.mark.slow
def test_backtest_notebook_executes(
    clean_lake: Lake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KALSHI_LAKE", clean_lake.root)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), (
        "commit it without outputs"
    )
    NotebookClient(
        nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    last = nb.cells[-1].outputs
    text = "".join(o.get("text", "") for o in last if o.output_type == "stream")
    assert "trades, total P&L" in text
    trades = int(text.split(" trades")[0])
    assert trades > 0  # the fixture lake has settled, quoted ladders
