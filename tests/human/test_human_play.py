"""Desktop play driven headless (SDL's dummy driver): injected pygame events become session calls, and the rules of
clean human data hold — one press is one step, one key has one meaning, nothing counts before it was seen, illegal
clicks are recorded, nothing is cut off the screen, a crash or an empty session leaves no recording that verifies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pygame
import pytest

import repgym  # noqa: F401
from repgym.cli import main
from repgym.human.play import (
    NoDisplay,
    PlaySession,
    check_offscreen_gl,
    default_player,
    require_display,
    use_offscreen_gl,
)
from repgym.human.recording import read_recording
from repgym.human.replay import replay


def down(name: str) -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYDOWN, key=pygame.key.key_code(name))


def up(name: str) -> pygame.event.Event:
    return pygame.event.Event(pygame.KEYUP, key=pygame.key.key_code(name))


def taps(*names: str) -> list[pygame.event.Event]:
    """A press and a release of each named key."""
    return [e for name in names for e in (down(name), up(name))]


def frame(s: PlaySession, *events: pygame.event.Event) -> None:
    """One frame of the game loop: draw, then handle the events read in it."""
    s.draw()
    for event in events:
        s.handle(event)


def session(tmp_path: Path, env_id: str, **kwargs) -> PlaySession:
    return PlaySession(env_id, kwargs.pop("env_kwargs", {}), seed=kwargs.pop("seed", 7), player="ann",
                       record_dir=tmp_path, durable=False, fps=0, **kwargs)  # fmt: skip


def umbrella_choice(s: PlaySession) -> str:
    """The key of the right choice for the forecast on screen."""
    return "u" if s.session.info["state"]["weather"] == 1 else "n"


def test_umbrella_space_only_waits_and_a_held_key_is_one_press(tmp_path: Path) -> None:
    s = session(tmp_path, "repgym/Umbrella-v0", env_kwargs={"delay": 2})
    right = umbrella_choice(s)
    frame(s, down("space"), down("space"), down("space"))  # Space held (auto-repeat): it neither chooses nor waits
    assert s.session.steps == 0 and s.notice.startswith("choose first")
    frame(s, up("space"), down(right), down(right))  # a held choice key is one choice
    assert s.session.steps == 1
    frame(s, up(right), *taps("space", "space"))  # the fog, then the weather
    assert s.session.over and s.session.success
    frame(s, *taps("space", "space"))  # after the end, Space does not start the next game
    assert s.session.episode == 0 and s.notice.startswith("the game is over: Enter")
    frame(s, *taps("return", right))  # Enter starts game 2; the choice read in the same frame was never seen
    assert s.session.episode == 1 and s.session.steps == 0
    right = umbrella_choice(s)
    frame(s, *taps(right))  # once drawn, the forecast can be answered
    assert s.session.steps == 1
    frame(s, *taps("return"))  # Enter in the middle of a game is no new game
    assert s.session.episode == 1 and "once this one is over" in s.notice
    frame(s, *taps("r", "escape"))
    assert s.quit
    path = s.path
    s.close()
    rec = read_recording(path)
    assert [ep.end_reason for ep in rec.episodes] == ["terminated", "restart", "quit"]
    assert [len(ep.steps) for ep in rec.episodes] == [3, 1, 0] and rec.episodes[0].success
    assert replay(path).returns == [ep.total_reward for ep in rec.episodes]


def test_a_key_held_in_any_game_steps_once(tmp_path: Path) -> None:
    s = session(tmp_path, "repgym/KeyToDoor-v0", env_kwargs={"delay": 1})
    frame(s, down("up"), down("up"), down("up"))  # SDL's auto-repeat would send these while the key is held
    assert s.session.steps == 1
    frame(s, up("up"), down("up"))
    assert s.session.steps == 2
    frame(s, pygame.event.Event(pygame.WINDOWFOCUSLOST), down("up"))  # a key-up lost with the focus sticks no key
    assert s.session.steps == 3
    s.close()


def test_keys_posted_before_the_loop_are_read_after_the_first_draw(tmp_path: Path) -> None:
    s = session(tmp_path, "repgym/HiddenSequence-v0", env_kwargs={"delay": 1})
    for event in taps(*(str(b + 1) for b in s.session.game.sequence), "1", "2"):
        pygame.event.post(event)
    path = s.run(max_frames=3)
    rec = read_recording(path)
    assert len(rec.episodes) == 1 and rec.episodes[0].success and len(rec.episodes[0].steps) == 2  # "1", "2" ignored
    assert rec.closed and s.window is None


def test_bubble_breaker_records_illegal_clicks_and_outlines_the_group_under_the_mouse(tmp_path: Path) -> None:
    s = session(tmp_path, "repgym/BubbleBreaker-v0", env_kwargs={"rows": 6, "cols": 6, "colours": 3})
    layout = s.layout
    mask = s.session.legal_mask()
    legal, illegal = int(np.flatnonzero(mask)[0]), int(np.flatnonzero(~mask)[0])

    def click(cell: int) -> pygame.event.Event:
        assert layout.cell_at(layout.centre(cell)) == cell
        return pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=layout.centre(cell), button=1)

    frame(s, click(legal))
    gained = s.session.total
    assert gained > 0 and any(text.startswith("game 1 · step 1") and "last move +" in text for text, _ in s.header())
    mask = s.session.legal_mask()
    illegal = int(np.flatnonzero(~mask & (np.asarray(s.view["board"]).reshape(-1) > 0))[0])
    frame(s, click(illegal), pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(1, 1), button=1))  # (1, 1): off board
    header = [text for text, _ in s.header()]
    assert s.session.steps == 2 and s.session.total == gained
    assert "last move" not in header[0]  # the previous move's reward does not linger
    assert header[1] == "not a group: nothing happens"
    target = int(np.flatnonzero(s.session.legal_mask())[0])
    frame(s, pygame.event.Event(pygame.MOUSEMOTION, pos=layout.centre(target), rel=(0, 0), buttons=(0, 0, 0)))
    row, col = divmod(target, 6)
    size = int(np.sum(np.asarray(s.view["groups"]) == s.view["groups"][row][col]))
    assert s.header()[-1][0] == f"{size} bubbles: {s.view['points'][row][col]:g} points"
    s.draw()
    screen = pygame.surfarray.array3d(s.window.screen).swapaxes(0, 1)
    x, y = layout.centre(target)
    ring = screen[y, x - layout.cell // 2 + 1]  # the outline drawn around the hovered bubble
    assert tuple(ring) == (255, 255, 255)
    path = s.path
    s.close()
    steps = read_recording(path).episodes[0].steps
    assert [st.action for st in steps] == [legal, illegal] and steps[1].reward == 0.0
    assert replay(path).returns == [gained]


def test_the_header_is_wrapped_never_cut(tmp_path: Path) -> None:
    s = session(tmp_path, "repgym/BubbleBreaker-v0", env_kwargs={"rows": 3, "cols": 3, "colours": 2})
    while not s.session.over:  # click every cell until the game ends: illegal clicks included
        for cell in range(9):
            if not s.session.over:
                frame(s, pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=s.layout.centre(cell), button=1))
    s.notice = ""
    parts = s.header()
    assert parts[1][0].startswith("game over: ") and parts[1][0].endswith("— Enter: next game")
    lines = s.window.header_text(parts)
    assert " ".join(text for text, _ in lines).replace("  ", " ").count("Enter: next game") == 1
    assert all(s.window.font.size(text)[0] <= s.window.header_width for text, _ in lines)
    s.notice = "a deliberately long message " * 6
    lines = s.window.header_text(s.header())
    assert len(lines) <= s.window.header_lines and all(s.window.font.size(t)[0] <= s.window.header_width
                                                        for t, _ in lines)  # fmt: skip
    s.close()


def test_key_to_door_shows_goal_legend_steps_left_and_delay(tmp_path: Path) -> None:
    s = session(tmp_path, "repgym/KeyToDoor-v0", env_kwargs={"delay": 5})
    frame(s, *taps("up"))
    status = s.header()[0][0]
    assert "steps left" in status and "delay 5" in status
    panel = " ".join(text for text, *_ in s.window.panel)
    assert "Pick up the key" in panel and "the door" in panel and "↑ / W up" in " ".join(panel.split())
    marks = [mark for *_, mark in s.window.panel if mark]
    assert len(marks) == len(s.guide.legend)  # one colour swatch per legend entry
    s.close()


def test_physics_bodies_render_offscreen_and_step_per_press(tmp_path: Path) -> None:
    s = session(tmp_path, "repgym/TwoLinkReach-v0")
    assert s.guide.press_steps == 5 and s.controls["q"] == "q"
    frame(s, *taps("q", "q"))
    assert s.session.steps == 10  # stepped: each press runs 5 steps, then the game waits
    frame(s, *taps("x"))
    assert s.session.steps == 15 and "hand to target" in s.header()[1][0]
    s.draw()
    screen = pygame.surfarray.array3d(s.window.screen).swapaxes(0, 1)
    x0, y0 = s.window.content_origin
    picture = screen[y0 : y0 + s.window.content_size[1], x0 : x0 + s.window.content_size[0]]
    assert picture.std() > 10  # a rendered scene, not a black window
    path = s.path
    s.close()
    steps = read_recording(path).episodes[0].steps
    assert [st.action for st in steps[:5]] == [[1.0, 0.0]] * 5 and steps[-1].action == [0.0, 0.0]
    assert replay(path).steps == 15


def test_other_envs_use_the_generic_guide(tmp_path: Path) -> None:
    s = session(tmp_path, "CartPole-v1")
    frame(s, *taps("2", "1", "2"))
    path = s.path
    s.close()
    assert [st.action for st in read_recording(path).episodes[0].steps] == [1, 0, 1]
    s = session(tmp_path, "Pendulum-v1")
    frame(s, *taps("q"))
    path = s.path
    s.close()
    assert [st.action for st in read_recording(path).episodes[0].steps] == [[2.0]] * 5


def test_a_session_without_a_move_keeps_no_recording(tmp_path: Path) -> None:
    s = session(tmp_path, "repgym/LaggedControl-v0")
    pygame.event.post(pygame.event.Event(pygame.QUIT))
    assert s.run(max_frames=50) is None and s.quit
    assert list(tmp_path.iterdir()) == []


def test_a_crash_keeps_the_moves_but_no_normal_end(tmp_path: Path, monkeypatch) -> None:
    s = session(tmp_path, "repgym/KeyToDoor-v0", env_kwargs={"delay": 1})
    frame(s, *taps("up"))
    path = s.path

    def broken(key: str) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(s.session, "press", broken)
    for event in taps("up"):
        pygame.event.post(event)
    with pytest.raises(RuntimeError, match="a bug"):
        s.run(max_frames=5)
    rec = read_recording(path)
    assert not rec.closed and len(rec.episodes[0].steps) == 1 and rec.episodes[0].end_reason is None
    assert any("did not end normally" in note for note in replay(path).notes)

    s = session(tmp_path / "b", "repgym/KeyToDoor-v0", env_kwargs={"delay": 1})
    monkeypatch.setattr(s.session, "press", broken)
    for event in taps("up"):
        pygame.event.post(event)
    with pytest.raises(RuntimeError):
        s.run(max_frames=5)
    assert list((tmp_path / "b").iterdir()) == []  # a crash before any move: no header-only file


def test_without_a_display_play_says_so_and_exits(tmp_path: Path, monkeypatch, capsys) -> None:
    with pytest.raises(NoDisplay, match="no display"):
        require_display({}, "Linux")
    require_display({"DISPLAY": ":0"}, "Linux")
    require_display({"SDL_VIDEODRIVER": "dummy"}, "Linux")
    require_display({}, "Darwin")
    for name in ("SDL_VIDEODRIVER", "DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr("platform.system", lambda: "Linux")
    assert main(["play", "repgym/Umbrella-v0", "--record-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("repgym play: error: no display to open a window on")
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []


def test_mujoco_is_sent_offscreen() -> None:
    environ: dict[str, str] = {}
    assert use_offscreen_gl(environ, "Linux", lambda name: name == "EGL") == "egl" == environ["MUJOCO_GL"]
    environ = {}
    assert use_offscreen_gl(environ, "Linux", lambda name: name == "OSMesa") == "osmesa"
    assert use_offscreen_gl({"MUJOCO_GL": "osmesa"}, "Linux", lambda name: True) == "osmesa"  # the user's choice
    assert use_offscreen_gl({}, "Darwin", lambda name: True) is None
    check_offscreen_gl("egl", "Linux")
    check_offscreen_gl("glfw", "Darwin")
    with pytest.raises(OSError, match="MUJOCO_GL=glfw .* MUJOCO_GL=egl or MUJOCO_GL=osmesa"):
        check_offscreen_gl("glfw", "Linux")
    with pytest.raises(OSError, match="MUJOCO_GL=glfw"):
        check_offscreen_gl("", "Linux")


def test_screenshots_of_each_kind_of_game(tmp_path: Path) -> None:
    for env_id, kwargs, keys in (("repgym/Umbrella-v0", {"delay": 3}, ["space"]),
                                 ("repgym/BubbleBreakerContinuous-v0", {}, [])):  # fmt: skip
        s = session(tmp_path, env_id, env_kwargs=kwargs)
        frame(s, *taps(*keys))
        shot = s.screenshot(tmp_path / "shot.png")
        image = pygame.image.load(str(shot))
        assert image.get_size() == s.window.screen.get_size() and image.get_width() >= 700
        s.close()


def test_default_player(monkeypatch) -> None:
    monkeypatch.setenv("REPGYM_PLAYER", "zoe")
    assert default_player() == "zoe"
