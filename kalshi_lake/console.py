"""Tables on the terminal: as wide as the terminal, and never a ticker cut in two.

rich measures the terminal (``$COLUMNS`` wins, 80 when the output is not a terminal). Cells
wrap at spaces only, or not at all, so a word (a ticker, a number, a time) is never broken:
every column is at least as wide as its longest word (or value). When those widths do not fit,
the least important columns are left out and the caption names them and points to
``--json``/``--csv``, which always carry every column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.cells import cell_len
from rich.console import Console
from rich.table import Table
from rich.text import Text

#: What rich adds around the columns of a boxed table: a border left of every column and one at
#: the right edge, and one space of padding on each side of a cell.
_EDGE = 1
_PER_COLUMN = 3


@dataclass(frozen=True)
class Column:
    """One column of a :func:`fit_table`."""

    header: str | Text
    justify: Literal["left", "right"] = "left"
    #: Values (and the header) may wrap at spaces; False keeps each line whole (short values
    #: read better whole; break such a header with "\n").
    wrap: bool = True
    #: Columns are left out lowest priority first (ties: the rightmost first); the first column
    #: (the row's key) is always kept.
    priority: int = 0


def console(*, stderr: bool = False) -> Console:
    """A rich Console as wide as the terminal."""
    return Console(stderr=stderr)


def _text(cell: str | Text) -> Text:
    return cell if isinstance(cell, Text) else Text(cell)


def _longest_word(text: Text) -> int:
    return max((cell_len(w) for w in text.plain.split()), default=0)


def _longest_line(text: Text) -> int:
    return max((cell_len(line) for line in text.plain.splitlines()), default=0)


def _min_width(column: Column, cells: Sequence[Text]) -> int:
    """The narrowest the column can be without breaking a word (or a value, if it keeps them)."""
    longest = _longest_word if column.wrap else _longest_line
    return max(longest(c) for c in [_text(column.header), *cells])


def fit_table(
    columns: Sequence[Column],
    rows: Sequence[Sequence[str | Text]],
    *,
    width: int,
    title: str | None = None,
    caption: str | None = None,
    more: str = "see them with --json or --csv",
) -> Table:
    """A rich Table of ``rows`` at most ``width`` cells wide, leaving out columns if it must.

    Strings are shown as they are (no rich markup); pass :class:`~rich.text.Text` for style.
    """
    cells = [[_text(c) for c in row] for row in rows]
    mins = [_min_width(col, [row[i] for row in cells]) for i, col in enumerate(columns)]
    kept = list(range(len(columns)))
    # least important first; among equals the rightmost first; never the first column
    order = sorted(kept[1:], key=lambda i: (columns[i].priority, -i))
    while order and sum(mins[i] for i in kept) + _PER_COLUMN * len(kept) + _EDGE > width:
        kept.remove(order.pop(0))
    dropped = [i for i in range(len(columns)) if i not in kept]
    notes = [caption] if caption else []
    if dropped and rows:
        names = ", ".join(_text(columns[i].header).plain.split("\n")[0] for i in dropped)
        notes.append(f"not shown at {width} columns: {names}; {more}")
    table = Table(title=title, caption="\n".join(notes) or None)
    for i in kept:
        col = columns[i]
        table.add_column(
            col.header,
            justify=col.justify,
            no_wrap=not col.wrap,
            # a word wider than the whole terminal can only be folded
            min_width=min(mins[i], width - _PER_COLUMN - _EDGE),
            overflow="fold",
        )
    for row in cells:
        table.add_row(*(row[i] for i in kept))
    return table
