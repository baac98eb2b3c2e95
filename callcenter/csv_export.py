"""CSV that is safe to open in a spreadsheet: ``write_csv(rows, columns)``.

Every CSV the project writes (the QA page's export, ``callcenter report --csv``) goes through
here. A text cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is
read as a formula by Excel, LibreOffice and Google Sheets (CSV injection: a caller id of
``=HYPERLINK(...)`` becomes a live link), so such cells get a leading ``'``, which the
spreadsheet shows as plain text. Numbers we computed ourselves are written as they are.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value: Any) -> Any:
    """``value`` with a ``'`` in front when it is text a spreadsheet would run as a formula;
    ``None`` becomes an empty cell."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], *, lineterminator: str = "\r\n"
) -> str:
    """A header line and one line per row (only ``columns``), every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=lineterminator)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([neutralise_formula(row.get(name)) for name in columns])
    return out.getvalue()
