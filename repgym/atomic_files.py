"""Write the files of a checkpoint folder so that a crash never leaves a half-written file behind."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

Writer = Callable[[BinaryIO], object]


def write_files_atomically(folder: str | os.PathLike, writers: dict[str, Writer]) -> Path:
    """Create ``folder`` if needed, then write each file ``name`` by calling ``writer(binary_file)`` on a temporary
    file that replaces ``folder / name`` only once complete (the old file survives a crash or an error)."""
    path = Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for name, write in writers.items():
        fd, tmp = tempfile.mkstemp(dir=path, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "wb") as f:
                write(f)
            os.replace(tmp, path / name)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    return path
