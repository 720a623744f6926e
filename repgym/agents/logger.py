"""Training logs: scalars to TensorBoard and to a tidy CSV, in one folder."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

CSV_FILE = "metrics.csv"
CSV_COLUMNS = ("step", "wall_time", "metric", "value")


class RunLogger:
    """Writes ``record(metric, value, step)`` to ``<log_dir>/metrics.csv`` (long format: step, wall_time, metric,
    value; appended to across runs, so a resumed run continues the same file) and to TensorBoard event files in
    ``log_dir`` (``tensorboard --logdir <log_dir>``)."""

    def __init__(self, log_dir: str | Path, tensorboard: bool = True) -> None:
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        path = self.log_dir / CSV_FILE
        new = not path.exists()
        self._file = path.open("a", newline="")
        self._csv = csv.writer(self._file)
        if new:
            self._csv.writerow(CSV_COLUMNS)
        self._writer: Any = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.log_dir))

    def record(self, metric: str, value: float, step: int) -> None:
        """One scalar at env step ``step``."""
        value = float(value)
        self._csv.writerow((int(step), f"{time.time():.3f}", metric, repr(value)))
        if self._writer is not None:
            self._writer.add_scalar(metric, value, int(step))

    def flush(self) -> None:
        self._file.flush()
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        self.flush()
        self._file.close()
        if self._writer is not None:
            self._writer.close()
