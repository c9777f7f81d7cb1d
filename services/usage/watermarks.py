"""How far each rollup has read its source (RollupState), and reads that stay consistent with it.

A rollup (services.usage.actions) moves rows into its daily table and its watermark in one
transaction, and the watermark only grows. A reader adds the rolled-up rows to the source rows
past the watermark (the live tail), so it must see one watermark throughout: read_consistent
re-reads it after the read and reads again if a rollup committed in between.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from services.models import RollupState

T = TypeVar("T")

# The RollupState names: request log → UsageDaily, processes → ProcessDaily, ledger → LedgerDaily.
USAGE = "usage"
PROCESSES = "processes"
LEDGER = "ledger"


def watermark(name: str) -> int:
    """The id of the last source row folded by rollup `name` (0 before its first run)."""
    value = RollupState.objects.filter(name=name).values_list("last_id", flat=True).first()
    return int(value or 0)


def read_consistent(name: str, read: Callable[[int], T], *, attempts: int = 3) -> T:
    """`read(watermark)` between two reads of rollup `name`'s watermark; run again when a
    rollup committed meanwhile (the watermark moved), so rollups and tail count every row
    exactly once. After `attempts` tries the last result is returned (a busy rollup every few
    ms would be needed to get there)."""
    mark = watermark(name)
    result = read(mark)
    for _ in range(attempts - 1):
        now = watermark(name)
        if now == mark:
            break
        mark = now
        result = read(mark)
    return result
