"""``kalshi-lake report``: the lake at a glance, as one self-contained HTML file.

- :mod:`~kalshi_lake.report.coverage`: the city x date coverage cells and their status
- :mod:`~kalshi_lake.report.charts`: the Vega-Lite specs (Altair) of the charts
- :mod:`~kalshi_lake.report.page`: HTML with the Vega runtime, data and styles inline
- :mod:`~kalshi_lake.report.build`: gathering the sections and writing the file
"""

from kalshi_lake.report.build import (
    ReportData,
    build_report,
    default_target,
    render_report,
    write_report,
)

__all__ = ["ReportData", "build_report", "default_target", "render_report", "write_report"]
