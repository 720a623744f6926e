"""Drawing the delayed-reward games: 64x64 RGB frames with numpy only, and a pygame window for people.

Frames are ``(64, 64, 3) uint8``; the same picture is the ``"pixels"`` observation and the ``"rgb_array"``
rendering, so an agent sees exactly what a person sees (the window adds only text: step, return, controls).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FRAME = 64  # pixels per side of every frame
HUD = 6  # rows of pixels at the top for the status strip (phase, key, clock)

BACKGROUND = (24, 24, 32)
FLOOR = (48, 48, 60)
GRID_LINE = (36, 36, 46)
WHITE = (240, 240, 240)
GREY = (110, 110, 110)
RED = (220, 50, 47)
GREEN = (133, 200, 0)
BLUE = (38, 139, 210)
YELLOW = (250, 200, 20)
ORANGE = (255, 140, 0)
CYAN = (42, 211, 190)
MAGENTA = (211, 54, 200)
BROWN = (140, 90, 50)

Colour = tuple[int, int, int]


def blank() -> np.ndarray:
    """A ``(64, 64, 3) uint8`` frame filled with the background colour."""
    frame = np.empty((FRAME, FRAME, 3), np.uint8)
    frame[:] = BACKGROUND
    return frame


def fill(frame: np.ndarray, top: int, left: int, height: int, width: int, colour: Colour) -> None:
    """Paint a rectangle in place (clipped to the frame)."""
    frame[max(top, 0) : max(top + height, 0), max(left, 0) : max(left + width, 0)] = colour


def disc(frame: np.ndarray, top: int, left: int, size: int, colour: Colour) -> None:
    """Paint a filled circle inscribed in the ``size x size`` square at ``(top, left)``."""
    yy, xx = np.mgrid[:size, :size]
    c = (size - 1) / 2
    mask = (yy - c) ** 2 + (xx - c) ** 2 <= (size / 2) ** 2
    region = frame[top : top + size, left : left + size]
    region[mask[: region.shape[0], : region.shape[1]]] = colour


def bar(frame: np.ndarray, top: int, left: int, width: int, height: int, fraction: float, colour: Colour) -> None:
    """A progress bar: ``fraction`` (clipped to 0..1) of ``width`` pixels filled, the rest dark."""
    fill(frame, top, left, height, width, GRID_LINE)
    fill(frame, top, left, height, int(round(width * min(max(fraction, 0.0), 1.0))), colour)


class GridLayout:
    """Where the cells of a ``rows x cols`` grid lie in the play area below the HUD strip."""

    def __init__(self, rows: int, cols: int) -> None:
        self.rows, self.cols = rows, cols
        self.cell = max(1, min((FRAME - HUD - 2) // rows, (FRAME - 2) // cols))
        self.top = HUD + (FRAME - HUD - rows * self.cell) // 2
        self.left = (FRAME - cols * self.cell) // 2

    def floor(self, frame: np.ndarray) -> None:
        """Paint the empty grid (a one-pixel line between cells when cells are large enough)."""
        fill(frame, self.top, self.left, self.rows * self.cell, self.cols * self.cell, GRID_LINE)
        gap = 1 if self.cell >= 5 else 0
        for r in range(self.rows):
            for c in range(self.cols):
                y, x = self.origin(r, c)
                fill(frame, y, x, self.cell - gap, self.cell - gap, FLOOR)

    def origin(self, row: int, col: int) -> tuple[int, int]:
        """Top-left pixel of a cell."""
        return self.top + row * self.cell, self.left + col * self.cell

    def square(self, frame: np.ndarray, row: int, col: int, colour: Colour, inset: int = 1) -> None:
        """A filled square in a cell, ``inset`` pixels from its edges."""
        y, x = self.origin(row, col)
        inset = min(inset, (self.cell - 1) // 2)
        fill(frame, y + inset, x + inset, self.cell - 2 * inset - 1, self.cell - 2 * inset - 1, colour)

    def circle(self, frame: np.ndarray, row: int, col: int, colour: Colour) -> None:
        """A disc filling a cell."""
        y, x = self.origin(row, col)
        disc(frame, y, x, max(self.cell - 1, 1), colour)


class FrameWindow:
    """A pygame window that shows an RGB frame scaled up, with lines of text above (status) and below (controls).

    Used by the delayed games' ``render_mode="human"`` and by ``repgym play`` for every env that renders RGB.
    """

    LINE = 22  # pixels per line of text

    def __init__(
        self,
        frame_shape: tuple[int, int],
        title: str = "repgym",
        header_lines: int = 1,
        footer_lines: int = 0,
        scale: int | None = None,
    ) -> None:
        import pygame  # only people need a window

        self.pygame = pygame
        height, width = frame_shape
        self.scale = scale or max(1, 384 // max(height, width))
        self.frame_size = (width * self.scale, height * self.scale)
        self.width = max(self.frame_size[0], 420)
        self.header = 8 + self.LINE * header_lines
        self.footer = (8 + self.LINE * footer_lines) if footer_lines else 0
        pygame.display.init()  # not pygame.init(): no sound is needed
        pygame.font.init()
        self.screen = pygame.display.set_mode((self.width, self.header + self.frame_size[1] + self.footer))
        pygame.display.set_caption(title)
        self.font = pygame.font.Font(None, 24)
        self.clock = pygame.time.Clock()

    def draw(self, frame: np.ndarray, header: Sequence[str] = (), footer: Sequence[str] = (), fps: int = 30) -> None:
        """Show ``frame`` ``(height, width, 3) uint8`` with the given lines of text, at most ``fps`` times a second."""
        pg = self.pygame
        pg.event.pump()
        self.screen.fill(BACKGROUND)
        surface = pg.surfarray.make_surface(np.ascontiguousarray(np.asarray(frame, np.uint8).swapaxes(0, 1)))
        if self.scale != 1:
            surface = pg.transform.scale(surface, self.frame_size)
        self.screen.blit(surface, ((self.width - self.frame_size[0]) // 2, self.header))
        for i, line in enumerate(header):
            self.screen.blit(self.font.render(line, True, WHITE), (8, 6 + self.LINE * i))
        y0 = self.header + self.frame_size[1] + 6
        for i, line in enumerate(footer):
            self.screen.blit(self.font.render(line, True, (180, 180, 190)), (8, y0 + self.LINE * i))
        pg.display.flip()
        self.clock.tick(fps)

    def close(self) -> None:
        self.pygame.display.quit()
