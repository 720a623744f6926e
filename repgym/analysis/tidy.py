"""The tidy, long-format result table every analyzer returns: one row per ``(analyzer, layer, unit, metric)``.

Columns: ``analyzer`` (which analysis), ``layer`` (a latent module's name, or ``""``), ``unit`` (a unit / filter
index within the layer, or None for a whole-layer number), ``metric`` (what ``value`` measures), ``value`` (a
float; NaN where undefined), ``n`` (how many samples — states, pairs, episodes — it rests on) and ``params``
(a JSON-serialisable dict: the settings that produced it and the row's other coordinates, e.g. ``{"other":
"fc2"}`` for a layer x layer similarity or ``{"factor": "state[2,3]"}`` for a probe).

A plain list of dataclasses rather than a DataFrame keeps the dependency list short; :meth:`Table.pivot` gives
the 2-D views the report draws, and ``to_csv`` / ``to_json`` hand the table to pandas or anything else.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

COLUMNS = ("analyzer", "layer", "unit", "metric", "value", "n", "params")


@dataclass
class Row:
    """One measurement (see the module docstring for the columns)."""

    analyzer: str
    layer: str
    unit: int | None
    metric: str
    value: float
    n: int
    params: dict[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        """A column by name, or a params entry as ``"params.<key>"`` (None when absent)."""
        if key.startswith("params."):
            return self.params.get(key[len("params.") :])
        return getattr(self, key)


class Table:
    """An ordered collection of :class:`Row` with filtering, pivoting and CSV / JSON export."""

    def __init__(self, rows: Iterable[Row] = ()) -> None:
        self.rows: list[Row] = list(rows)

    def add(
        self,
        analyzer: str,
        layer: str,
        unit: int | None,
        metric: str,
        value: float,
        n: int,
        **params: Any,
    ) -> Row:
        """Append one row (``params`` as keyword arguments) and return it."""
        row = Row(analyzer, layer, None if unit is None else int(unit), metric, _as_float(value), int(n), params)
        self.rows.append(row)
        return row

    def extend(self, other: Table | Iterable[Row]) -> Table:
        self.rows.extend(other.rows if isinstance(other, Table) else other)
        return self

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        analyzers = sorted({r.analyzer for r in self.rows})
        return f"Table({len(self.rows)} rows; analyzers {analyzers})"

    def filter(self, predicate: Callable[[Row], bool] | None = None, **equal: Any) -> Table:
        """Rows whose columns (or ``params_<key>`` entries) equal the keyword values and that pass ``predicate``."""

        def keep(row: Row) -> bool:
            for key, want in equal.items():
                have = row.params.get(key[len("params_") :]) if key.startswith("params_") else getattr(row, key)
                if have != want:
                    return False
            return predicate is None or predicate(row)

        return Table(r for r in self.rows if keep(r))

    def values(self) -> np.ndarray:
        """``(rows,) float64`` of the value column."""
        return np.array([r.value for r in self.rows], dtype=np.float64)

    def unique(self, key: str) -> list[Any]:
        """Distinct values of a column (or ``"params.<key>"``) in first-seen order."""
        seen: dict[Any, None] = {}
        for row in self.rows:
            seen.setdefault(_hashable(row.get(key)), None)
        return list(seen)

    def pivot(self, index: str, columns: str) -> tuple[list[Any], list[Any], np.ndarray]:
        """``(index_labels, column_labels, (len(index), len(columns)) float64)`` of the value column, NaN where no
        row has that pair (keys: column names or ``"params.<key>"``; the last row wins for duplicates)."""
        index_labels = self.unique(index)
        column_labels = self.unique(columns)
        where_i = {v: i for i, v in enumerate(index_labels)}
        where_j = {v: j for j, v in enumerate(column_labels)}
        grid = np.full((len(index_labels), len(column_labels)), np.nan)
        for row in self.rows:
            grid[where_i[_hashable(row.get(index))], where_j[_hashable(row.get(columns))]] = row.value
        return index_labels, column_labels, grid

    # -- export ----------------------------------------------------------------------------------------------------

    def to_records(self) -> list[dict[str, Any]]:
        """Rows as dicts (NaN and infinities as None, so that the records are valid JSON)."""
        return [
            {
                "analyzer": r.analyzer,
                "layer": r.layer,
                "unit": r.unit,
                "metric": r.metric,
                "value": r.value if math.isfinite(r.value) else None,
                "n": r.n,
                "params": _jsonable(r.params),
            }
            for r in self.rows
        ]

    def to_json(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_records(), indent=1))
        return path

    def to_csv(self, path: str | Path) -> Path:
        """One line per row; ``params`` as a JSON object in its cell, ``unit`` and NaN values empty."""
        path = Path(path)
        with path.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(COLUMNS)
            for rec in self.to_records():
                writer.writerow(
                    [
                        rec["analyzer"],
                        rec["layer"],
                        "" if rec["unit"] is None else rec["unit"],
                        rec["metric"],
                        "" if rec["value"] is None else repr(rec["value"]),
                        rec["n"],
                        json.dumps(rec["params"], sort_keys=True),
                    ]
                )
        return path

    @classmethod
    def from_records(cls, records: Iterable[dict[str, Any]]) -> Table:
        table = cls()
        for rec in records:
            missing = set(COLUMNS) - set(rec)
            if missing:
                raise ValueError(f"table record lacks column(s) {sorted(missing)}; expected {list(COLUMNS)}")
            value = rec["value"]
            unit = rec["unit"]
            params = rec["params"]
            if isinstance(params, str):
                params = json.loads(params) if params else {}
            table.add(
                rec["analyzer"],
                rec["layer"],
                None if unit in (None, "") else int(unit),
                rec["metric"],
                math.nan if value in (None, "") else float(value),
                int(rec["n"]),
                **params,
            )
        return table

    @classmethod
    def read_json(cls, path: str | Path) -> Table:
        return cls.from_records(json.loads(Path(path).read_text()))

    @classmethod
    def read_csv(cls, path: str | Path) -> Table:
        with Path(path).open(newline="") as f:
            return cls.from_records(csv.DictReader(f))


def _as_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"a table value must be a number, got {value!r}") from None


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
