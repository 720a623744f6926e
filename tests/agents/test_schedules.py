from __future__ import annotations

import pytest

from repgym.agents.schedules import linear_schedule


def test_linear_schedule_moves_from_start_to_end_and_stays() -> None:
    assert linear_schedule(1.0, 0.1, 0, 100) == 1.0
    assert linear_schedule(1.0, 0.1, 50, 100) == pytest.approx(0.55)
    assert linear_schedule(1.0, 0.1, 100, 100) == pytest.approx(0.1)
    assert linear_schedule(1.0, 0.1, 10_000, 100) == pytest.approx(0.1)
    assert linear_schedule(0.0, 1.0, 5, 0) == 1.0  # no span: the end value at once, no division by zero
