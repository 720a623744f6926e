"""Checkpoint files are replaced whole or not at all."""

from __future__ import annotations

import pytest

from repgym.atomic_files import write_files_atomically


def test_files_are_written_and_a_failed_write_keeps_the_old_file(tmp_path) -> None:
    folder = write_files_atomically(
        tmp_path / "ck", {"a.json": lambda f: f.write(b"{}"), "b.pt": lambda f: f.write(b"1")}
    )
    assert (folder / "a.json").read_bytes() == b"{}" and (folder / "b.pt").read_bytes() == b"1"

    def crash(f) -> None:
        f.write(b"half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_files_atomically(folder, {"a.json": lambda f: f.write(b"new"), "b.pt": crash})
    assert (folder / "a.json").read_bytes() == b"new"  # written before the failure
    assert (folder / "b.pt").read_bytes() == b"1"  # the failed file keeps its old contents
    assert sorted(p.name for p in folder.iterdir()) == ["a.json", "b.pt"]  # no temporary file left behind
