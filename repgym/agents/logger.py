"""Training logs: scalars to TensorBoard and to a tidy CSV, in one folder.

A run folder holds one series per metric: ``metrics.csv`` never holds two rows of one (step, metric), and a resumed
run continues the file where its checkpoint stopped (:func:`truncate_metrics` drops what was logged after it).
TensorBoard follows the CSV: each writer opens with ``purge_step`` one past the CSV's last step, so events an
interrupted run logged beyond its checkpoint are hidden when the run resumes (TensorBoard reads every event file of
the folder as one stream).
"""

from __future__ import annotations

import csv
import os
import tempfile
import time
from pathlib import Path
from typing import Any

CSV_FILE = "metrics.csv"
CSV_COLUMNS = ("step", "wall_time", "metric", "value")


class RunLogger:
    """Writes ``record(metric, value, step)`` to ``<log_dir>/metrics.csv`` (long format: step, wall_time, metric,
    value; appended to across ``learn`` calls and resumed runs) and to TensorBoard event files in ``log_dir``
    (``tensorboard --logdir <log_dir>``). A metric is recorded only at a step past the last one it has in the file,
    so a row is never repeated."""

    def __init__(self, log_dir: str | Path, tensorboard: bool = True) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir / CSV_FILE
        self._last = last_steps(path)  # metric -> the last step it was logged at
        new = not path.exists()
        self._file = path.open("a", newline="")
        self._csv = csv.writer(self._file)
        if new:
            self._csv.writerow(CSV_COLUMNS)
        self._writer: Any = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            purge = max(self._last.values()) + 1 if self._last else None
            self._writer = SummaryWriter(str(self.log_dir), purge_step=purge)

    def record(self, metric: str, value: float, step: int) -> None:
        """One scalar at env step ``step`` (ignored when ``metric`` already has a row at this step or a later one)."""
        step, value = int(step), float(value)
        if step <= self._last.get(metric, -1):
            return
        self._last[metric] = step
        self._csv.writerow((step, f"{time.time():.3f}", metric, repr(value)))
        if self._writer is not None:
            self._writer.add_scalar(metric, value, step)

    def flush(self) -> None:
        self._file.flush()
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        self.flush()
        self._file.close()
        if self._writer is not None:
            self._writer.close()


def last_steps(path: Path) -> dict[str, int]:
    """``{metric: last step logged}`` of a ``metrics.csv`` (empty when there is none)."""
    if not path.is_file():
        return {}
    last: dict[str, int] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            last[row["metric"]] = max(int(row["step"]), last.get(row["metric"], -1))
    return last


def truncate_metrics(log_dir: str | Path, step: int) -> None:
    """Drop the rows of ``<log_dir>/metrics.csv`` logged after env step ``step`` (a run resumed from a checkpoint at
    ``step`` logs those steps again); the file is replaced atomically."""
    path = Path(log_dir) / CSV_FILE
    if not path.is_file():
        return
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    kept = [rows[0], *(row for row in rows[1:] if int(row[0]) <= step)] if rows else []
    if len(kept) == len(rows):
        return
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{CSV_FILE}.")
    try:
        with os.fdopen(fd, "w", newline="") as f:
            csv.writer(f).writerows(kept)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
