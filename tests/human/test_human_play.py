"""Human play driven headless: injected pygame events become steps, restarts and quits, all recorded."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import numpy as np
import pygame
import pytest

import repgym  # noqa: F401
from repgym.human.play import PlaySession, controls_for, default_player
from repgym.human.recording import read_recording
from repgym.human.replay import replay


def keys(*names: str) -> None:
    """Post a press and release of each named key."""
    for name in names:
        code = pygame.key.key_code(name)
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=code))
        pygame.event.post(pygame.event.Event(pygame.KEYUP, key=code))


def session(tmp_path: Path, env_id: str, **kwargs) -> PlaySession:
    return PlaySession(env_id, kwargs.pop("env_kwargs", {}), seed=kwargs.pop("seed", 7), player="ann",
                       record_dir=tmp_path, durable=False, **kwargs)  # fmt: skip


def test_keyboard_game_restart_and_quit(tmp_path: Path) -> None:
    s = session(tmp_path, "repgym/Umbrella-v0", env_kwargs={"delay": 2})
    weather = s.info["state"]["weather"]
    right = "u" if weather == 1 else "n"
    keys(right, "space", "space")  # a full episode, chosen right
    keys("x", "space")  # an unmapped key does nothing; Space after the end starts game 2
    keys("space", "r")  # one step, then restart
    keys("u", "q", "u")  # one step, then quit (the last press is never read)
    path = s.run(max_frames=100)
    assert s.quit and s.window is None
    rec = read_recording(path)
    assert rec.env_kwargs == {"delay": 2} and rec.header["seed"] == 7 and rec.player == "ann"
    assert [ep.end_reason for ep in rec.episodes] == ["terminated", "restart", "quit"]
    assert [ep.seed for ep in rec.episodes] == [7, 8, 9]
    assert [len(ep.steps) for ep in rec.episodes] == [3, 1, 1]
    assert rec.episodes[0].success and rec.episodes[0].steps[-1].reward == 1.0
    assert [s.action for s in rec.episodes[0].steps] == [1 if weather == 1 else 0, 0, 0]
    assert rec.closed
    assert replay(path).returns == [ep.total_reward for ep in rec.episodes]


def test_screen_shows_score_and_controls(tmp_path: Path) -> None:
    s = session(tmp_path, "repgym/KeyToDoor-v0", env_kwargs={"delay": 1})
    assert s.controls.help[-1] == "R new game · Q quit" and s.controls.help[0].startswith("Up/W up · Right/D right")
    for event in (pygame.event.Event(pygame.KEYDOWN, key=pygame.K_UP),):
        s.handle(event)
    s.draw()
    assert s.status() == ["game 1   step 1   score 0   reward +0"]
    screen = pygame.surfarray.array3d(pygame.display.get_surface()).swapaxes(0, 1)
    window = s.window
    header, footer = screen[: window.header], screen[window.header + window.frame_size[1] :]
    assert (header > 150).any() and (footer > 150).any()  # text drawn above and below the game
    s.close()
    assert read_recording(s.path).episodes[0].end_reason == "quit"


def test_game_over_waits_for_the_next_game(tmp_path: Path) -> None:
    s = session(tmp_path, "repgym/HiddenSequence-v0", env_kwargs={"delay": 1})
    seq = s.game.sequence
    keys(*(str(b + 1) for b in seq))
    keys("1", "2")  # ignored: the game is over
    s.run(max_frames=3)
    rec = read_recording(s.path)
    assert len(rec.episodes) == 1 and rec.episodes[0].success and len(rec.episodes[0].steps) == 2
    assert "success" in " ".join(s.status())


def test_bubble_breaker_mouse_clicks(tmp_path: Path) -> None:
    s = session(tmp_path, "repgym/BubbleBreaker-v0", env_kwargs={"rows": 6, "cols": 6, "colours": 3})
    window = s.window
    assert window.footer_height > 0
    x0, y0 = window.board_origin()

    def click(cell: int) -> None:
        r, c = divmod(cell, 6)
        pos = (x0 + c * window.cell + window.cell // 2, y0 + r * window.cell + window.cell // 2)
        assert window.cell_at(pos) == cell
        pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=1))

    mask = s.game.action_masks()
    illegal = int(np.flatnonzero(~mask)[0])
    click(illegal)  # not a group: ignored, not recorded
    pygame.event.post(pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(1, 1), button=1))  # outside the board
    click(int(np.flatnonzero(mask)[0]))
    s.run(max_frames=2)
    assert s.steps == 1 and s.total > 0
    rec = read_recording(s.path)
    assert [st.action for st in rec.episodes[0].steps] == [int(np.flatnonzero(mask)[0])]
    assert replay(s.path).returns == [s.total]


def test_continuous_env_follows_held_keys(tmp_path: Path) -> None:
    s = session(tmp_path, "Pendulum-v1", fps=1000)
    assert s.controls.mode == "hold" and s.controls.axes == [("right", "left")]
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RIGHT))
    s.run(max_frames=3)
    rec = read_recording(s.path)
    actions = [st.action for st in rec.episodes[0].steps]
    assert actions == [[2.0], [2.0], [2.0]]
    assert replay(s.path).steps == 3


def test_discrete_env_number_keys(tmp_path: Path) -> None:
    s = session(tmp_path, "CartPole-v1")
    keys("2", "1", "2")
    s.run(max_frames=2)
    assert [st.action for st in read_recording(s.path).episodes[0].steps] == [1, 0, 1]


def test_window_close_quits(tmp_path: Path) -> None:
    s = session(tmp_path, "repgym/LaggedControl-v0")
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    s.run(max_frames=50)
    rec = read_recording(s.path)
    assert s.quit and rec.closed and rec.episodes[0].end_reason == "quit"


def test_controls_for_unsupported_spaces() -> None:
    class Many(gym.Env):
        action_space = gym.spaces.Discrete(12)
        observation_space = gym.spaces.Discrete(1)

    with pytest.raises(ValueError, match="up to 10 discrete actions"):
        controls_for(Many())


def test_default_player(monkeypatch) -> None:
    monkeypatch.setenv("REPGYM_PLAYER", "zoe")
    assert default_player() == "zoe"
