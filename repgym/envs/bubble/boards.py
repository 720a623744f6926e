"""Reading and writing boards as text.

Format: one line per row, top row first, one character per cell: digits ``1..9`` are colours, ``0`` or ``.``
is empty (cells may also be separated by spaces or commas). A file may hold several boards separated by blank
lines or lines starting with ``#`` (comments).

SameGame test sets are often published with colours numbered from 0 (``0..4`` for five colours) and no empty
cells. ``colour_base="auto"`` reads such a block as 0-based: when a block contains ``0`` but no ``.``, and reading
``0`` as empty would leave a floating bubble (a ``0`` below a colour) — which a real position cannot have —
every digit is shifted up by one. Pass ``colour_base=0`` or ``1`` to decide explicitly.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import numpy as np

ColourBase = Literal["auto", 0, 1]
_SEPARATORS = re.compile(r"[\s,]+")


def _block_cells(lines: list[tuple[int, str]]) -> list[tuple[int, list[str]]]:
    out = []
    for lineno, line in lines:
        stripped = line.strip()
        tokens = [t for t in _SEPARATORS.split(stripped) if t]
        cells = tokens if len(tokens) > 1 else list(stripped)
        for col, cell in enumerate(cells):
            if len(cell) != 1 or not (cell.isdigit() or cell == "."):
                raise ValueError(f"line {lineno}, column {col + 1}: unexpected {cell!r}; expected a digit 0-9 or '.'")
        out.append((lineno, cells))
    return out


def _has_floating_zero(grid: np.ndarray) -> bool:
    """True when a 0 sits below a non-zero cell in some column (impossible if 0 meant empty)."""
    nonzero_above = np.maximum.accumulate(grid != 0, axis=0)
    return bool(((grid == 0) & np.vstack([np.zeros((1, grid.shape[1]), bool), nonzero_above[:-1]])).any())


def _parse_block(lines: list[tuple[int, str]], colour_base: ColourBase) -> np.ndarray:
    rows = _block_cells(lines)
    width = len(rows[0][1])
    for lineno, cells in rows:
        if len(cells) != width:
            raise ValueError(f"line {lineno}: {len(cells)} cells, expected {width} like the board's first row")
    has_dot = any("." in cells for _, cells in rows)
    grid = np.array([[0 if c == "." else int(c) for c in cells] for _, cells in rows], dtype=np.int8)
    base = colour_base
    if base == "auto":
        base = 0 if (not has_dot and (grid == 0).any() and _has_floating_zero(grid)) else 1
    if base == 0:
        if has_dot:
            raise ValueError(f"line {rows[0][0]}: a 0-based board cannot contain '.' (0 is a colour there)")
        grid = grid + 1
    elif base != 1:
        raise ValueError(f"colour_base must be 'auto', 0 or 1, got {colour_base!r}")
    return grid


def parse_boards(text: str, colour_base: ColourBase = "auto") -> list[np.ndarray]:
    """All boards in ``text``, each ``(rows, cols) int8`` with 0 = empty and colours from 1."""
    boards: list[np.ndarray] = []
    block: list[tuple[int, str]] = []
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            if block:
                boards.append(_parse_block(block, colour_base))
                block = []
            continue
        block.append((lineno, line))
    if block:
        boards.append(_parse_block(block, colour_base))
    return boards


def parse_board(text: str, colour_base: ColourBase = "auto") -> np.ndarray:
    """Exactly one board from ``text`` (``ValueError`` if there are none or several)."""
    boards = parse_boards(text, colour_base)
    if len(boards) != 1:
        raise ValueError(f"expected one board in the text, found {len(boards)}")
    return boards[0]


def load_boards(path: str | os.PathLike, colour_base: ColourBase = "auto") -> list[np.ndarray]:
    """All boards in a text file (see the module docstring for the format)."""
    return parse_boards(Path(path).read_text(), colour_base)


def format_board(board: np.ndarray, empty: str = ".") -> str:
    """A board as text (the format :func:`parse_board` reads); grey or colours > 9 print as ``#``."""
    board = np.asarray(board)
    lines = []
    for row in board:
        lines.append("".join(empty if v == 0 else (str(int(v)) if 1 <= v <= 9 else "#") for v in row))
    return "\n".join(lines)


def format_boards(boards: Iterable[np.ndarray]) -> str:
    return "\n\n".join(format_board(b) for b in boards) + "\n"


_PATH_LIKE = re.compile(r"[/\\~]|\.[A-Za-z]\w*$")  # a separator, a home folder or a file extension


def _names_a_file(text: str) -> bool:
    """A one-line string is a path when a file of that name exists or when it looks like one (a slash, ``~``, an
    extension): ``"/no/such/file"`` is a missing file, not a malformed board; ``"1x3"`` is (bad) board text."""
    return "\n" not in text and (Path(text).expanduser().is_file() or bool(_PATH_LIKE.search(text)))


def board_from_option(value: object) -> np.ndarray:
    """``reset(options={"board": ...})``: a numpy array (or nested list), board text, or a path to a text file
    holding one board."""
    if isinstance(value, np.ndarray | list | tuple):
        arr = np.asarray(value)
        if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
            raise ValueError(f"board array must be 2-D integers (rows, cols), got shape {arr.shape} dtype {arr.dtype}")
        return arr.astype(np.int8)
    if isinstance(value, os.PathLike) or (isinstance(value, str) and _names_a_file(value)):
        path = Path(value).expanduser()
        if not path.is_file():
            raise ValueError(f"board file not found: {value}" if not path.exists() else f"{value} is not a file")
        return parse_board(path.read_text())
    if isinstance(value, str):
        return parse_board(value)
    raise ValueError(f"options['board'] must be an array, board text or a file path, got {type(value).__name__}")


STANDARD_SETS = {
    "bubble-14x10": "bubble_14x10.txt",
    "samegame-15x15": "samegame_15x15.txt",
}
"""repgym's fixed test positions (20 each), shipped in ``repgym/assets/boards``; 1-based colours."""


def standard_boards(name: str) -> list[np.ndarray]:
    """A shipped set of test positions by name (see :data:`STANDARD_SETS`), e.g. ``standard_boards("samegame-15x15")``.

    The sets were drawn once from repgym's seeded generator (keys 0..19) so that results on them are comparable
    across versions and agents. The literature's SameGame test set is not shipped; load it with :func:`load_boards`.
    """
    from importlib.resources import files

    if name not in STANDARD_SETS:
        raise ValueError(f"unknown board set {name!r}; expected one of {sorted(STANDARD_SETS)}")
    text = files("repgym").joinpath("assets", "boards", STANDARD_SETS[name]).read_text()
    return parse_boards(text, colour_base=1)


STANDARD_SET_SPECS = {
    "bubble-14x10": ("Bubble Breaker", 14, 10, 5),
    "samegame-15x15": ("SameGame", 15, 15, 5),
}
"""How each standard set is drawn: (game, rows, cols, colours); keys 0..19 of :func:`rules.random_boards`."""


def standard_set_text(name: str, count: int = 20) -> str:
    """Regenerate a standard set from its seeds, as text in the shipped file's exact format: ``count`` boards
    drawn by :func:`rules.random_boards` with keys ``0..count-1`` (``repgym boards write``)."""
    from repgym.envs.bubble import rules

    if name not in STANDARD_SET_SPECS:
        raise ValueError(f"unknown board set {name!r}; expected one of {sorted(STANDARD_SET_SPECS)}")
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    game, rows, cols, colours = STANDARD_SET_SPECS[name]
    config = rules.BubbleConfig(rows=rows, cols=cols, colours=colours)
    boards = rules.random_boards(np.arange(count, dtype=np.uint64), config)
    header = (
        f"# repgym standard set: {game} {rows}x{cols}, {colours} colours; {count} positions drawn from repgym's "
        f"generator with keys 0..{count - 1}.\n# One line per row, top row first; colours 1..{colours}.\n"
    )
    blocks = [f"# position {i}\n{format_board(b)}\n" for i, b in enumerate(boards)]
    return header + "\n" + "\n".join(blocks)
