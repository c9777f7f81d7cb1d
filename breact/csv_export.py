"""Streamed CSV exports: one line at a time, with cells a spreadsheet would run defused."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

# A cell starting with one of these is run as a formula by spreadsheet programs.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose write() hands back the line csv.writer produced."""

    def write(self, value: str) -> str:
        return value


def csv_safe(value: Any) -> Any:
    """A text cell that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The header and every row as CSV lines, each cell through csv_safe, for a
    StreamingHttpResponse."""
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow([csv_safe(cell) for cell in row])
