"""Regenerate the desktop-*.png screenshots in this folder: ``repgym play``'s window under SDL's dummy driver, driven by
synthetic key presses and clicks, saved as PNG. No display is needed (MuJoCo renders with EGL or OSMesa).

    SDL_VIDEODRIVER=dummy MUJOCO_GL=egl python docs/screenshots/take_desktop_screenshots.py
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402
import pygame  # noqa: E402

from repgym.human.play import PlaySession  # noqa: E402

HERE = Path(__file__).parent
ARROWS = {0: "up", 1: "right", 2: "down", 3: "left"}  # KeyToDoor's actions


def press(s: PlaySession, *names: str) -> None:
    """One frame per key: draw, then a press and a release."""
    for name in names:
        s.draw()
        code = pygame.key.key_code(name)
        s.handle(pygame.event.Event(pygame.KEYDOWN, key=code))
        s.handle(pygame.event.Event(pygame.KEYUP, key=code))


def main() -> None:
    with tempfile.TemporaryDirectory() as recordings:

        def session(env_id: str, **kwargs) -> PlaySession:
            return PlaySession(env_id, kwargs, seed=3, player="alice", record_dir=recordings, durable=False, fps=0)

        s = session("repgym/BubbleBreaker-v0")  # a move, a click beside a group, the mouse over a group
        s.draw()
        s.handle(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=s.layout.centre(int(np.flatnonzero(
            s.session.legal_mask())[-1])), button=1))  # fmt: skip
        board = np.asarray(s.view["board"]).reshape(-1)
        lone = int(np.flatnonzero(~s.session.legal_mask() & (board > 0))[0])
        s.draw()
        s.handle(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=s.layout.centre(lone), button=1))
        sizes = np.bincount(np.asarray(s.view["groups"]).reshape(-1) + 1)[1:]
        target = int(np.flatnonzero(np.asarray(s.view["groups"]).reshape(-1) == int(np.argmax(sizes)))[0])
        s.handle(pygame.event.Event(pygame.MOUSEMOTION, pos=s.layout.centre(target), rel=(0, 0), buttons=(0, 0, 0)))
        s.screenshot(HERE / "desktop-bubble-breaker.png")
        s.close()

        s = session("repgym/KeyToDoor-v0", delay=5)  # the key picked up, in the apple room
        while s.session.game.room == 0 and not s.session.over:
            press(s, ARROWS[int(s.session.game.optimal_action())])
        press(s, ARROWS[int(s.session.game.optimal_action())])
        s.screenshot(HERE / "desktop-key-to-door.png")
        s.close()

        s = session("repgym/Umbrella-v0", delay=3)  # the forecast; Space before a choice is refused
        press(s, "space")
        s.screenshot(HERE / "desktop-umbrella.png")
        s.close()

        s = session("repgym/TwoLinkReach-v0")  # a few presses of the shoulder and elbow motors
        press(s, "q", "q", "w", "w", "x")
        s.screenshot(HERE / "desktop-two-link-reach.png")
        s.close()
    for name in sorted(HERE.glob("desktop-*.png")):
        print(f"wrote {name}")


if __name__ == "__main__":
    main()
