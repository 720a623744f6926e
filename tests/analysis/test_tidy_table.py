"""The long-format result table: rows, filters, pivots, CSV/JSON round trips."""

from __future__ import annotations

import math

import pytest

from repgym.analysis.tidy import Table


def _table() -> Table:
    table = Table()
    table.add("cka", "a", None, "cka_linear", 1.0, 10, other="a")
    table.add("cka", "a", None, "cka_linear", 0.5, 10, other="b")
    table.add("cka", "b", None, "cka_linear", float("nan"), 10, other="a", negative_hsic=True)
    table.add("generality", "a", 3, "active_fraction", 0.25, 10, threshold=0.0)
    return table


def test_filter_and_pivot() -> None:
    table = _table()
    assert len(table.filter(analyzer="cka")) == 3
    assert table.filter(params_other="b").rows[0].value == 0.5
    rows, cols, grid = table.filter(analyzer="cka").pivot("layer", "params.other")
    assert rows == ["a", "b"] and cols == ["a", "b"]
    assert grid[0, 1] == 0.5 and math.isnan(grid[1, 0]) and math.isnan(grid[1, 1])


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_round_trip(tmp_path, fmt: str) -> None:
    table = _table()
    path = getattr(table, f"to_{fmt}")(tmp_path / f"t.{fmt}")
    back = getattr(Table, f"read_{fmt}")(path)
    assert len(back) == len(table)
    for a, b in zip(table, back, strict=True):
        assert (a.analyzer, a.layer, a.unit, a.metric, a.n, a.params) == (
            b.analyzer,
            b.layer,
            b.unit,
            b.metric,
            b.n,
            b.params,
        )
        assert (math.isnan(a.value) and math.isnan(b.value)) or a.value == b.value


def test_bad_values_are_named() -> None:
    with pytest.raises(ValueError, match="must be a number"):
        Table().add("x", "l", None, "m", "high", 1)
    with pytest.raises(ValueError, match="lacks column"):
        Table.from_records([{"analyzer": "x"}])
