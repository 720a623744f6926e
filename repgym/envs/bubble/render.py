"""Drawing Bubble Breaker boards: RGB arrays (numpy only), ANSI text, and a pygame window for people."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from repgym.envs.bubble.rules import BubbleConfig

# Index 0 is the background; 1..9 colours; the last entry is grey. Chosen to stay distinct for common colour blindness.
PALETTE = np.array(
    [
        (24, 24, 32),  # empty
        (220, 50, 47),  # 1 red
        (38, 139, 210),  # 2 blue
        (133, 200, 0),  # 3 green
        (250, 200, 20),  # 4 yellow
        (211, 54, 200),  # 5 magenta
        (42, 211, 190),  # 6 cyan
        (255, 140, 0),  # 7 orange
        (240, 240, 240),  # 8 white
        (140, 90, 50),  # 9 brown
        (110, 110, 110),  # grey (inert)
    ],
    dtype=np.uint8,
)
_ANSI = ["\x1b[90m", "\x1b[91m", "\x1b[94m", "\x1b[92m", "\x1b[93m", "\x1b[95m", "\x1b[96m", "\x1b[33m", "\x1b[97m",
         "\x1b[31m", "\x1b[37m"]  # fmt: skip
_RESET = "\x1b[0m"


def colour_index(board: np.ndarray, config: BubbleConfig) -> np.ndarray:
    """Map cell values to palette rows (grey to the last row)."""
    idx = np.asarray(board).astype(np.int64)
    return np.where(idx == config.grey, len(PALETTE) - 1, idx)


def _disc_mask(cell: int) -> np.ndarray:
    yy, xx = np.mgrid[:cell, :cell]
    c = (cell - 1) / 2
    radius = cell / 2 - (0.5 if cell >= 6 else 0)
    return (yy - c) ** 2 + (xx - c) ** 2 <= radius**2


def board_to_rgb(
    board: np.ndarray, config: BubbleConfig, cell: int = 8, preview: np.ndarray | None = None
) -> np.ndarray:
    """``(rows*cell, cols*cell, 3) uint8`` image: one disc per bubble. With ``preview`` (a column, top first), a
    strip is added on the side new columns arrive from, separated by one background column."""
    if cell < 1:
        raise ValueError(f"cell size must be >= 1 pixel, got {cell}")
    idx = colour_index(board, config)
    if preview is not None:
        pad = np.zeros((idx.shape[0], 1), np.int64)
        pcol = colour_index(np.asarray(preview)[:, None], config)
        idx = np.hstack([pcol, pad, idx]) if config.shift == "right" else np.hstack([idx, pad, pcol])
    img = PALETTE[np.repeat(np.repeat(idx, cell, axis=0), cell, axis=1)]
    if cell >= 4:
        # Background around each disc, so that neighbouring bubbles of one colour stay countable.
        outside = ~np.tile(_disc_mask(cell), idx.shape)
        img[outside] = PALETTE[0]
    return img


def board_to_ansi(
    board: np.ndarray, config: BubbleConfig, colour: bool = True, preview: np.ndarray | None = None
) -> str:
    """Text picture, top row first, with column numbers; colours as digits (ANSI-coloured when ``colour``)."""
    board = np.asarray(board)
    lines = []
    header = "    " + " ".join(f"{c % 10}" for c in range(board.shape[1]))
    lines.append(header)
    for r, row in enumerate(board):
        cells = []
        for v in row:
            ch = "." if v == 0 else ("#" if v == config.grey else str(int(v)))
            cells.append(f"{_ANSI[min(int(v), len(_ANSI) - 1)]}{ch}{_RESET}" if colour else ch)
        line = f"{r:>3} " + " ".join(cells)
        if preview is not None:
            pv = int(preview[r])
            line += "   " + ("." if pv == 0 else ("#" if pv == config.grey else str(pv)))
        lines.append(line)
    return "\n".join(lines) + "\n"


class BoardWindow:
    """A pygame window showing a board; converts mouse clicks to cell indices. Created lazily by ``render()``."""

    LINE = 22  # pixels per footer line

    def __init__(
        self, config: BubbleConfig, cell: int = 40, title: str = "repgym — Bubble Breaker", footer_lines: int = 0
    ) -> None:
        """``footer_lines``: lines of text reserved below the board (``repgym play`` lists its controls there)."""
        import pygame  # only people need a window

        self.pygame = pygame
        self.config = config
        self.cell = cell
        self.margin_top = 36
        self.preview_width = (cell + cell // 2) if config.continuous else 0
        self.footer_height = (8 + self.LINE * footer_lines) if footer_lines else 0
        pygame.init()
        size = (config.cols * cell + self.preview_width, config.rows * cell + self.margin_top + self.footer_height)
        self.screen = pygame.display.set_mode(size)
        pygame.display.set_caption(title)
        self.font = pygame.font.Font(None, 24)
        self.clock = pygame.time.Clock()

    def board_origin(self) -> tuple[int, int]:
        x0 = self.preview_width if self.config.shift == "right" else 0
        return x0, self.margin_top

    def cell_at(self, pos: tuple[int, int]) -> int | None:
        """Flat cell index under a pixel position, or None outside the board."""
        x0, y0 = self.board_origin()
        col = (pos[0] - x0) // self.cell
        row = (pos[1] - y0) // self.cell
        if 0 <= row < self.config.rows and 0 <= col < self.config.cols:
            return int(row * self.config.cols + col)
        return None

    def draw(
        self, board: np.ndarray, status: str, preview: np.ndarray | None, fps: int, footer: Sequence[str] = ()
    ) -> None:
        pg = self.pygame
        pg.event.pump()
        self.screen.fill(tuple(int(v) for v in PALETTE[0]))
        x0, y0 = self.board_origin()
        idx = colour_index(board, self.config)
        radius = self.cell // 2 - 2
        for r in range(self.config.rows):
            for c in range(self.config.cols):
                if board[r, c]:
                    centre = (x0 + c * self.cell + self.cell // 2, y0 + r * self.cell + self.cell // 2)
                    pg.draw.circle(self.screen, tuple(int(v) for v in PALETTE[idx[r, c]]), centre, radius)
        if preview is not None:
            px = 4 if self.config.shift == "right" else self.config.cols * self.cell + self.cell // 2 - 4
            pidx = colour_index(preview, self.config)
            for r in range(self.config.rows):
                if preview[r]:
                    centre = (px + self.cell // 2, y0 + r * self.cell + self.cell // 2)
                    pg.draw.circle(self.screen, tuple(int(v) for v in PALETTE[pidx[r]]), centre, radius // 2 + 2)
        text = self.font.render(status, True, (230, 230, 230))
        self.screen.blit(text, (8, 10))
        for i, line in enumerate(footer):
            y = y0 + self.config.rows * self.cell + 6 + self.LINE * i
            self.screen.blit(self.font.render(line, True, (180, 180, 190)), (8, y))
        pg.display.flip()
        self.clock.tick(fps)

    def close(self) -> None:
        self.pygame.display.quit()
