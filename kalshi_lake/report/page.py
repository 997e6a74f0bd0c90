"""The report as one self-contained HTML page: styles, data, charts and the Vega runtime inline.

Nothing on the page is fetched: the Vega, Vega-Lite and vega-embed JavaScript comes from
vl-convert's bundle (:func:`vega_bundle`, built once per process) inside a ``<script>`` element,
the chart specs and the coverage cells are JSON in the page, and the tables are plain HTML. A
page opened from disk with no network renders the same as online.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import html
import importlib.metadata
import json
import os
import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

#: vl-convert's version: the cached bundle is its output.
_VL_CONVERT = importlib.metadata.version("vl-convert-python")

#: Styles of the page (no web fonts, nothing fetched).
_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 24px;
       color: #1d1d1f; background: #fff; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px;
     border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.meta { color: #666; margin-bottom: 16px; }
table { border-collapse: collapse; margin: 6px 0 12px; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f4f4f6; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: #2e7d32; } .warn { color: #a66f00; } .FAIL, .ERROR { color: #c62828;
  font-weight: 600; }
.chart { overflow-x: auto; } .none { color: #666; font-style: italic; }
code, .sample { font: 12px ui-monospace, SFMono-Regular, Menlo, monospace; }
.sample { max-width: 640px; white-space: pre-wrap; word-break: break-all; }
"""


#: What the bundle runs: the page's scripts call ``vegaEmbed`` from the window.
_SNIPPET = "window.vegaEmbed = vegaEmbed;"


def cache_dir() -> Path:
    """Where the Vega bundle is cached: ``$XDG_CACHE_HOME/kalshi-lake`` (``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "kalshi-lake"


@functools.cache
def vega_bundle() -> str:
    """The Vega, Vega-Lite and vega-embed JavaScript as one script (vl-convert's bundle of the
    Vega-Lite version Altair writes), safe to inline: it defines ``window.vegaEmbed``.

    vl-convert bundles it with an embedded JavaScript runtime, seconds of CPU (half a minute on
    a loaded machine), so the result is cached on disk per vl-convert and Vega-Lite version; a
    cache that cannot be written is only slower.
    """
    import altair as alt
    import vl_convert

    version = alt.SCHEMA_VERSION.lstrip("v").rsplit(".", 1)[0]
    if version not in vl_convert.get_vegalite_versions():
        version = vl_convert.get_vegalite_versions()[-1]  # compatible within a major version
    cached = cache_dir() / f"vega-embed-{_VL_CONVERT}-vl{version}.js"
    with contextlib.suppress(OSError):
        return cached.read_text(encoding="utf-8")
    bundle = vl_convert.javascript_bundle(_SNIPPET, vl_version=version)
    # only the end tag must not appear; "<\\/script" means the same in a string or a regex
    bundle = re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)
    with contextlib.suppress(OSError):
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_name(f".{cached.name}.{os.getpid()}.tmp")
        tmp.write_text(bundle, encoding="utf-8")
        os.replace(tmp, cached)
    return bundle


def _script_safe(text: str) -> str:
    """``text`` that cannot end the ``<script>`` element it sits in (``</`` is written ``<\\/``,
    which JavaScript and JSON read as the same string)."""
    return text.replace("</", "<\\/")


def esc(value: Any) -> str:
    """A value as escaped HTML text (None as an empty string, times to the second in UTC)."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = (
            value.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if value.tzinfo else value
        )
    elif isinstance(value, float):
        value = f"{value:,.1f}"
    elif isinstance(value, int) and not isinstance(value, bool):
        value = f"{value:,}"
    return html.escape(str(value))


def table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], *, classes: Sequence[str] = ()
) -> str:
    """An HTML table; numbers right-aligned; ``classes[i]`` (if given) is the CSS class of each
    cell of column ``i`` whose value is a status word."""
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for i, v in enumerate(row):
            cls = ""
            if isinstance(v, int | float | Decimal) and not isinstance(v, bool):
                cls = ' class="n"'
            elif i < len(classes) and classes[i] == "status":
                cls = f' class="{esc(v)}"'
            elif i < len(classes) and classes[i] == "sample":
                cls = ' class="sample"'
            cells.append(f"<td{cls}>{esc(v)}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def chart_div(chart_id: str, spec: dict[str, Any]) -> str:
    """A chart's container and the script that renders ``spec`` into it (SVG renderer)."""
    data = _script_safe(json.dumps(spec, separators=(",", ":")))
    opts = json.dumps({"renderer": "svg", "actions": False})
    return (
        f'<div class="chart" id="{esc(chart_id)}"></div>\n'
        f"<script>vegaEmbed({json.dumps('#' + chart_id)}, {data}, {opts})"
        f".catch(function (e) {{ document.getElementById({json.dumps(chart_id)}).textContent ="
        f" 'chart failed: ' + e; }});</script>"
    )


def data_island(island_id: str, payload: Any) -> str:
    """JSON data in the page for scripts and tools (``<script type="application/json">``)."""
    text = _script_safe(json.dumps(payload, separators=(",", ":"), default=str))
    return f'<script type="application/json" id="{esc(island_id)}">{text}</script>'


def document(title: str, meta: str, sections: Sequence[tuple[str, str, str]]) -> str:
    """The whole page: ``sections`` are (anchor id, heading, HTML body) in order."""
    nav = " · ".join(f'<a href="#{esc(a)}">{esc(h)}</a>' for a, h, _b in sections)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{_CSS}</style>",
        f"<script>{vega_bundle()}</script>",
        "</head><body>",
        f'<h1>{esc(title)}</h1><div class="meta">{meta}</div><nav>{nav}</nav>',
    ]
    for anchor, heading, body in sections:
        parts.append(f'<section id="{esc(anchor)}"><h2>{esc(heading)}</h2>{body}</section>')
    parts.append("</body></html>")
    return "\n".join(parts)
