"""Text tables of the CLI that fit the terminal (80 columns included).

Rich folds a table that is too wide into columns of two or three letters, which nobody can
read. ``print_table`` keeps each column at its natural width instead, in the order given (the
most useful first), leaves out the columns that do not fit, and says which ones it left out
and how to see them. The last column shown may fold (long IVR paths, storage URLs).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

MIN_FOLDED_WIDTH = 12
"""Narrowest a folded last column may get (below this it is left out instead)."""
CELL_OVERHEAD = 3
"""Characters a column adds besides its text: a space each side and its right border."""


def format_cell(value: Any) -> str:
    """How a value reads in a table: ``-`` for nothing, one decimal, times to the second."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)


def fit_columns(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    labels: Mapping[str, str],
    width: int,
) -> tuple[list[str], list[str], bool]:
    """(columns shown, columns left out, whether the last shown one folds) for ``width``."""
    used = 1  # the table's left border
    shown: list[str] = []
    for name in columns:
        natural = max([len(labels.get(name, name))] + [len(format_cell(r.get(name))) for r in rows])
        if used + natural + CELL_OVERHEAD <= width:
            used += natural + CELL_OVERHEAD
            shown.append(name)
            continue
        room = width - used - CELL_OVERHEAD
        if room >= min(MIN_FOLDED_WIDTH, natural) or not shown:
            shown.append(name)
            return shown, list(columns[len(shown) :]), True
        break
    return shown, list(columns[len(shown) :]), False


def print_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    *,
    title: str | None = None,
    labels: Mapping[str, str] | None = None,
    console: Console | None = None,
    more: str = "--json",
) -> None:
    """Print ``rows`` as a table as wide as the terminal; ``more`` says where the columns
    left out can be seen (``--csv or --json``)."""
    console = console or Console()
    labels = labels or {}
    shown, left_out, folds = fit_columns(rows, columns, labels, console.width)
    table = Table(title=title)
    for name in shown:
        last = name == shown[-1]
        table.add_column(
            labels.get(name, name),
            overflow="fold" if last and folds else "ellipsis",
            no_wrap=not (last and folds),
        )
    for row in rows:
        table.add_row(*[format_cell(row.get(name)) for name in shown])
    console.print(table)
    if left_out:
        names = ", ".join(labels.get(name, name) for name in left_out)
        console.print(
            f"({len(left_out)} more column{'s' if len(left_out) > 1 else ''} at a wider "
            f"terminal or with {more}: {names})",
            highlight=False,
            soft_wrap=False,
        )
