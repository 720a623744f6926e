"""The desktop game window: a header (status, message, hover), the game (a board or a frame) and the guide beside it.

Only drawing lives here; :mod:`repgym.human.play` decides what to show. Every line of text is wrapped to the width
it is drawn in, so no message is ever cut at the window's edge. Pygame's display is used as a plain software
surface (no OpenGL), so an env that renders with OpenGL (MuJoCo) never shares a context with it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from repgym.envs.bubble.render import PALETTE
from repgym.human.guides import Guide

Colour = tuple[int, int, int]
BACKGROUND: Colour = (24, 24, 32)
TEXT: Colour = (235, 235, 240)
DIM: Colour = (170, 170, 185)
NOTICE: Colour = (255, 205, 90)  # a refused press, an illegal move
OVER: Colour = (120, 230, 140)  # the game is over
HOVER: Colour = (255, 255, 255)
PAD = 12  # pixels around and between the parts
PANEL_WIDTH = 360  # the guide's column
GAME_SIZE = 480  # pixels on the long side of a frame game's picture
LINE = 22  # pixels per line of text
FONT_SIZE = 17


def _font(size: int, bold: bool = False) -> Any:
    """DejaVu Sans where installed (it has the arrows, ×, − and ² the guides use), else pygame's own font."""
    import pygame

    path = pygame.font.match_font("dejavusans", bold=bold)
    font = pygame.font.Font(path, size)
    font.set_bold(bold and path is None)
    return font


def wrap(font: Any, text: str, width: int) -> list[str]:
    """``text`` broken into lines that fit ``width`` pixels in ``font`` (a word longer than a line is cut)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if font.size(candidate)[0] <= width or not line:
                line = candidate
            else:
                lines.append(line)
                line = word
            while font.size(line)[0] > width and len(line) > 1:  # one overlong word: cut it where it must
                cut = max(1, int(len(line) * width / font.size(line)[0]) - 1)
                lines.append(line[:cut])
                line = line[cut:]
        lines.append(line)
    return lines


def _rgb(colour: str) -> Colour | None:
    """``#rrggbb`` as a tuple; None for other legend marks (``outline``)."""
    if colour.startswith("#") and len(colour) == 7:
        return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)
    return None


class DesktopWindow:
    """A pygame window of ``content_size`` ``(width, height)`` pixels for the game, ``header_lines`` lines of
    status above it and ``guide`` (goal, legend, controls, notes, then ``footer`` lines) in a column to its right."""

    def __init__(
        self,
        title: str,
        content_size: tuple[int, int],
        guide: Guide,
        footer: Sequence[str] = (),
        header_lines: int = 3,
    ) -> None:
        import pygame

        self.pygame = pygame
        # SDL may draw a window's surface through OpenGL; a GL context of its own next to MuJoCo's is what left
        # the window black or raised X errors. A software surface needs no context at all.
        os.environ.setdefault("SDL_FRAMEBUFFER_ACCELERATION", "0")
        pygame.display.init()  # not pygame.init(): no sound, no joystick
        pygame.font.init()
        self.font, self.bold, self.title_font = _font(FONT_SIZE), _font(FONT_SIZE, True), _font(FONT_SIZE + 3, True)
        self.content_size = content_size
        self.header_lines = header_lines
        self.header_height = PAD + LINE * header_lines
        self.panel = self._panel_lines(guide, footer)
        panel_height = LINE * len(self.panel) + PAD
        width = PAD + max(content_size[0], 200) + PAD + PANEL_WIDTH + PAD
        height = self.header_height + max(content_size[1], panel_height) + PAD
        self.screen = pygame.display.set_mode((width, height))
        pygame.display.set_caption(title)
        self.content_origin = (PAD, self.header_height)

    def _panel_lines(self, guide: Guide, footer: Sequence[str]) -> list[tuple[str, Any, Any, str | None]]:
        """The guide's column as ``(text, font, colour, legend mark)`` lines, wrapped to the column."""
        text_width = PANEL_WIDTH - PAD
        lines: list[tuple[str, Any, Any, str | None]] = [(guide.title, self.title_font, TEXT, None)]
        lines += [(line, self.font, TEXT, None) for line in wrap(self.font, guide.goal, text_width)]
        if guide.legend:
            lines += [("", self.font, DIM, None), ("What you see", self.bold, TEXT, None)]
            for colour, meaning in guide.legend:
                for i, line in enumerate(wrap(self.font, meaning, text_width - 28)):
                    lines.append((line, self.font, DIM, colour if i == 0 else ""))
        if guide.controls:
            lines += [("", self.font, DIM, None), ("Keys (a held key does not repeat)", self.bold, TEXT, None)]
            captions: dict[str, list[str]] = {}  # label -> its keys: "↑ / W   up"
            for control in guide.controls:
                captions.setdefault(control.label, []).append(control.caption)
            for label, keys in captions.items():
                lines += [(line, self.font, DIM, None)
                          for line in wrap(self.font, f"{' / '.join(keys)}   {label}", text_width)]  # fmt: skip
        if guide.notes:
            lines.append(("", self.font, DIM, None))
        for note in guide.notes:
            lines += [(line, self.font, DIM, None) for line in wrap(self.font, note, text_width)]
        if footer:
            lines.append(("", self.font, DIM, None))
            for text in footer:
                lines += [(line, self.font, DIM, None) for line in wrap(self.font, text, text_width)]
        return lines

    @property
    def header_width(self) -> int:
        return self.screen.get_width() - 2 * PAD

    def header_text(self, parts: Sequence[tuple[str, Colour]]) -> list[tuple[str, Colour]]:
        """``(text, colour)`` parts as wrapped header lines; the last line ends with ``…`` when they need more lines
        than the header has (the window is sized so that the messages of play fit)."""
        lines = [(line, colour) for text, colour in parts if text for line in wrap(self.font, text, self.header_width)]
        if len(lines) > self.header_lines:
            lines = lines[: self.header_lines]
            text, colour = lines[-1]
            lines[-1] = (text.rstrip() + " …", colour)
        return lines

    def begin(self, header: Sequence[tuple[str, Colour]]) -> None:
        """Clear the window and draw the header and the guide; the game is drawn next, then :meth:`show`."""
        pg = self.pygame
        self.screen.fill(BACKGROUND)
        for i, (text, colour) in enumerate(self.header_text(header)):
            self.screen.blit(self.font.render(text, True, colour), (PAD, PAD // 2 + LINE * i))
        x = PAD + max(self.content_size[0], 200) + PAD
        for i, (text, font, colour, mark) in enumerate(self.panel):
            y = self.header_height + LINE * i
            indent = 0
            if mark is not None:
                indent = 28
                rgb = _rgb(mark)
                if rgb is not None:
                    pg.draw.rect(self.screen, rgb, (x, y + 3, 18, 15))
                    pg.draw.rect(self.screen, DIM, (x, y + 3, 18, 15), 1)
                elif mark == "outline":
                    pg.draw.circle(self.screen, HOVER, (x + 9, y + 10), 8, 2)
            self.screen.blit(font.render(text, True, colour), (x + indent, y))

    def blit_frame(self, frame: np.ndarray) -> None:
        """Draw an RGB frame ``(height, width, 3) uint8`` scaled to the content area."""
        pg = self.pygame
        surface = pg.surfarray.make_surface(np.ascontiguousarray(np.asarray(frame, np.uint8).swapaxes(0, 1)))
        size = frame_size(frame.shape[:2])
        scale = pg.transform.scale if size[0] % frame.shape[1] == 0 else pg.transform.smoothscale
        self.screen.blit(scale(surface, size), self.content_origin)

    def show(self) -> None:
        self.pygame.display.flip()

    def save(self, path: str | os.PathLike) -> None:
        """Write what the window shows now to a PNG file."""
        self.pygame.image.save(self.screen, os.fspath(path))

    def close(self) -> None:
        self.pygame.display.quit()


def frame_size(shape: tuple[int, int]) -> tuple[int, int]:
    """``(width, height)`` on screen of a frame of ``(height, width)`` pixels: small pixel-art frames scaled by a
    whole factor (crisp), others smoothly, to about :data:`GAME_SIZE` on the long side."""
    height, width = shape
    long = max(height, width)
    factor = GAME_SIZE // long if long <= GAME_SIZE // 2 else GAME_SIZE / long
    return round(width * factor), round(height * factor)


class BoardLayout:
    """Where a Bubble Breaker board's cells lie in the window: ``cols`` x ``rows`` discs of ``cell`` pixels and,
    for continuous variants, the preview column on the side columns close toward."""

    def __init__(self, rows: int, cols: int, preview: bool, shift: str, origin: tuple[int, int]) -> None:
        self.rows, self.cols = rows, cols
        extra = 1.5 if preview else 0.0
        self.cell = max(16, min(44, int(600 / max(rows, cols + extra))))
        self.preview_width = round(extra * self.cell)
        self.left = origin[0] + (self.preview_width if preview and shift == "right" else 0)
        self.top = origin[1]
        self.preview_x = origin[0] if shift == "right" else self.left + cols * self.cell + self.cell // 2
        self.size = (cols * self.cell + self.preview_width, rows * self.cell)

    def cell_at(self, pos: tuple[int, int]) -> int | None:
        """Flat cell index under a pixel position, or None outside the board."""
        col, row = (pos[0] - self.left) // self.cell, (pos[1] - self.top) // self.cell
        if 0 <= row < self.rows and 0 <= col < self.cols:
            return int(row * self.cols + col)
        return None

    def centre(self, cell: int) -> tuple[int, int]:
        row, col = divmod(cell, self.cols)
        return self.left + col * self.cell + self.cell // 2, self.top + row * self.cell + self.cell // 2

    def draw(self, screen: Any, view: dict[str, Any], hover: int | None) -> None:
        """Draw ``view``'s board (:meth:`GameSession.view`), outlining the group that holds cell ``hover``."""
        import pygame as pg

        board, groups = np.asarray(view["board"]), np.asarray(view["groups"])
        pg.draw.rect(screen, tuple(int(v) for v in PALETTE[0]), (self.left, self.top, *self.size))
        radius = self.cell // 2 - 2
        label = -1 if hover is None else int(groups.reshape(-1)[hover])
        for cell, colour in enumerate(board.reshape(-1)):
            if colour:
                pg.draw.circle(screen, tuple(int(v) for v in PALETTE[colour]), self.centre(cell), radius)
                if label >= 0 and groups.reshape(-1)[cell] == label:
                    pg.draw.circle(screen, HOVER, self.centre(cell), radius + 1, 3)
        if view.get("preview") is not None:
            x = self.preview_x + self.cell // 2
            for row, colour in enumerate(view["preview"]):
                if colour:
                    centre = (x, self.top + row * self.cell + self.cell // 2)
                    pg.draw.circle(screen, tuple(int(v) for v in PALETTE[colour]), centre, radius // 2 + 2)
