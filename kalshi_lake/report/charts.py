"""The report's charts, as Vega-Lite specs built with Altair (no chart code by hand).

The coverage heatmap: one panel per market family, a row per city and a column per event date,
each cell coloured by its status (:data:`~kalshi_lake.report.coverage.STATUSES`) with a tooltip
that says what the event lacks. The page embeds the spec and renders it with the Vega bundle
inlined in it (:mod:`kalshi_lake.report.page`), so it needs no network.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import altair as alt

from kalshi_lake.report.coverage import STATUSES, Cell

#: Cell colours, in :data:`STATUSES` order: green, amber, red, light grey.
COLOURS = ("#2e7d32", "#f2a900", "#c62828", "#d9d9d9")

#: The name of the cells' dataset in the spec.
DATASET = "coverage"

#: Width of one day's column in pixels, between these bounds (a year is ~1,100 px wide).
MIN_STEP, MAX_STEP = 3, 22


def _records(cells: Sequence[Cell]) -> list[dict[str, Any]]:
    return [
        {
            "city": c.city,
            "family": c.family,
            "date": c.date.isoformat(),
            "status": c.status,
            "markets": c.markets,
            "trades": c.trades,
            "api_candles": c.api_candles,
            "note": c.note,
        }
        for c in cells
    ]


def coverage_spec(cells: Sequence[Cell]) -> dict[str, Any]:
    """The Vega-Lite spec (a dict) of the coverage heatmap of ``cells``."""
    records = _records(cells)
    days = len({r["date"] for r in records}) or 1
    step = max(MIN_STEP, min(MAX_STEP, 1100 // days))
    if days <= 62:  # every date fits: label each one
        label = "slice(datum.value, 5)"
    else:  # a month label on the 1st
        label = "slice(datum.value, 8) == '01' ? slice(datum.value, 0, 7) : ''"
    colour = alt.Color(
        "status:N",
        scale=alt.Scale(domain=list(STATUSES), range=list(COLOURS)),
        legend=alt.Legend(title="coverage", orient="top"),
    )
    chart = (
        alt.Chart(alt.NamedData(name=DATASET))
        .mark_rect(stroke="white", strokeWidth=0.3 if step < 6 else 1)
        .encode(
            x=alt.X(
                "date:O",
                title="event date",
                axis=alt.Axis(labelExpr=label, labelAngle=-90, labelOverlap=False, ticks=False),
            ),
            y=alt.Y("city:N", title=None, sort="ascending"),
            color=colour,
            tooltip=[
                alt.Tooltip("city:N"),
                alt.Tooltip("family:N"),
                alt.Tooltip("date:N"),
                alt.Tooltip("status:N"),
                alt.Tooltip("markets:Q"),
                alt.Tooltip("trades:Q"),
                alt.Tooltip("api_candles:Q", title="api candles"),
                alt.Tooltip("note:N"),
            ],
        )
        .properties(width=alt.Step(step), height=alt.Step(14))
        .facet(row=alt.Row("family:N", title=None, sort=["high", "low"]))
        .resolve_scale(y="independent")
    )
    # the cells join the spec after Altair validated it: validating thousands of rows against
    # the Vega-Lite schema took seconds and checks nothing about them
    spec: dict[str, Any] = chart.to_dict()
    spec.setdefault("datasets", {})[DATASET] = records
    return spec
