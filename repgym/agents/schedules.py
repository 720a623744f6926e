"""Schedules that move a number linearly over training: one owner for epsilon and the teacher mix."""

from __future__ import annotations


def linear_schedule(start: float, end: float, step: int, span: int) -> float:
    """``start`` at step 0, moving linearly to ``end`` at step ``span`` and staying there (``end`` at once when
    ``span`` is 0)."""
    if span <= 0:
        return float(end)
    return float(start + (end - start) * min(1.0, step / span))
