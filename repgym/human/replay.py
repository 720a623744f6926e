"""Re-simulating a recording (``repgym replay``): every episode is reset with its recorded seed and every action
stepped again; rewards, episode ends and observation digests must match the recording exactly."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

import repgym
from repgym.human.recording import Recording, RecordingError, action_from_json, obs_digest, read_recording


class ReplayMismatch(RecordingError):
    """The env does not reproduce what the recording says happened."""


@dataclass
class ReplayReport:
    """What a verified replay found."""

    path: Path
    env_id: str
    episodes: int
    steps: int
    returns: list[float]  # per episode, in order
    notes: list[str]  # e.g. a different package version, an interrupted session


def _same_reward(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


SECONDS_PER_MOVE = 0.5  # default pace of a replay: one move (a click, a key press) every half second
END_HOLD_S = 1.5  # the last frame of each episode stays this long, so that the final score can be read
VIDEO_FPS = 10  # frames per second of a written video; each move's frame is repeated to last its time


def replay(
    recording: str | Path | Recording,
    render: bool = False,
    video: str | Path | None = None,
    seconds_per_move: float = SECONDS_PER_MOVE,
) -> ReplayReport:
    """Re-simulate ``recording`` and check it step by step; :class:`ReplayMismatch` names the first difference.

    ``render=True`` shows the replay in a window; ``video`` writes it to a file (``.mp4`` or ``.gif``, via
    moviepy). Both go at ``seconds_per_move`` per move — a click or key press, which is ``press_steps`` env steps
    for the physics bodies (:mod:`repgym.human.guides`) — with the game, move and score drawn above each frame."""
    rec = recording if isinstance(recording, Recording) else read_recording(recording)
    name = rec.path.name
    if not rec.episodes:
        raise RecordingError(f"{name}: no episode was recorded: there is nothing to verify")
    if not seconds_per_move > 0:
        raise ValueError(f"seconds per move must be positive, got {seconds_per_move!r}")
    if video is not None and Path(video).suffix.lower() not in (".mp4", ".gif"):
        raise ValueError(f"video must be a .mp4 or .gif file, got {str(video)!r}")
    need_frames = render or video is not None
    try:
        env = gym.make(rec.env_id, render_mode="rgb_array" if need_frames else None, **rec.env_kwargs)
    except (gym.error.Error, TypeError, ValueError) as err:
        raise RecordingError(f"{name}: cannot make {rec.env_id!r} with {rec.env_kwargs}: {err}") from None
    step_seconds = seconds_per_move / _press_steps(env) if need_frames else 0.0
    notes = []
    if rec.header["repgym_version"] != repgym.__version__:
        notes.append(f"recorded with repgym {rec.header['repgym_version']}, replayed with {repgym.__version__}")
    if not rec.closed:
        notes.append("the session did not end normally (crash or kill); its last episode is replayed as far as it got")
    if rec.partial_tail:
        notes.append("an interrupted last line was ignored")
    window, frames = None, []  # frames: (captioned image, seconds on screen)

    def show(lines: list[str], seconds: float) -> None:
        nonlocal window
        frame = np.asarray(env.render())
        if video is not None:
            frames.append((captioned(upscale(frame), lines), seconds))
        if render:
            if window is None:
                from repgym.envs.delayed.render import FrameWindow

                window = FrameWindow(frame.shape[:2], f"repgym replay — {name}", header_lines=2)
            window.draw(frame, lines, fps=1.0 / seconds)

    returns, steps = [], 0
    try:
        for episode in rec.episodes:
            where = f"{name}: episode {episode.index}"
            obs, _ = env.reset(seed=episode.seed)
            if obs_digest(obs) != episode.obs:
                raise ReplayMismatch(f"{where}: the first observation differs from the recording{_hint(notes)}")
            total, moves = 0.0, len(episode.steps)
            game = f"game {episode.index + 1}/{len(rec.episodes)}"
            if need_frames:
                show(_caption(game, 0, moves, total, None), max(step_seconds, seconds_per_move))
            for t, step in enumerate(episode.steps, start=1):
                try:
                    action = action_from_json(step.action, env.action_space)
                except ValueError as err:
                    raise RecordingError(f"{where}, step {t - 1}: {err}") from None
                obs, reward, terminated, truncated, _ = env.step(action)
                _check_step(step, float(reward), bool(terminated), bool(truncated), obs, f"{where}, step {t - 1}",
                            notes)  # fmt: skip
                total += float(reward)
                if need_frames:
                    hold = END_HOLD_S if t == moves else 0.0
                    show(_caption(game, t, moves, total, float(reward), episode.end_reason), step_seconds + hold)
            returns.append(total)
            steps += len(episode.steps)
    finally:
        if window is not None:
            window.close()
        env.close()
    if video is not None:
        write_video(frames, video)
    return ReplayReport(rec.path, rec.env_id, len(rec.episodes), steps, returns, notes)


def _press_steps(env: gym.Env) -> int:
    """Env steps per move: the guide's ``press_steps`` (physics bodies run several per key press), else 1."""
    from repgym.human.guides import guide_for

    try:
        return max(1, guide_for(env).press_steps)
    except ValueError:  # an env a keyboard cannot drive: every step is a move
        return 1


def _caption(game: str, move: int, moves: int, score: float, reward: float | None, end: str | None = None
             ) -> list[str]:  # fmt: skip
    """The two lines drawn above a replay frame: the score (with the last move's reward) and where in the game."""
    gained = "" if not reward else f"   ({reward:+g})"
    where = f"{game}   move {move}/{moves}"
    if move == moves and move and end is not None:
        where += f"   ({'game over' if end in ('terminated', 'truncated') else end})"
    return [f"score {score:g}{gained}", where]


def upscale(frame: np.ndarray, min_size: int = 320) -> np.ndarray:
    """``frame`` scaled up by an integer factor (nearest neighbour) to at least ``min_size`` pixels on its long side."""
    scale = max(1, -(-min_size // max(frame.shape[:2])))
    return np.repeat(np.repeat(frame, scale, axis=0), scale, axis=1) if scale > 1 else frame


def captioned(frame: np.ndarray, lines: list[str], size: int = 17) -> np.ndarray:
    """``frame`` ``(height, width, 3) uint8`` under a dark bar with ``lines`` of text, padded to even sides (H.264
    needs them)."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        font = ImageFont.load_default(size=size)
    line = size + 6
    height, width = frame.shape[:2]
    bar = 8 + line * len(lines)
    image = Image.new("RGB", (width + width % 2, height + bar + (height + bar) % 2), (24, 24, 32))
    image.paste(Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8)), (0, bar))
    draw = ImageDraw.Draw(image)
    for i, text in enumerate(lines):
        draw.text((8, 4 + line * i), text, fill=(240, 240, 240) if i == 0 else (190, 190, 200), font=font)
    return np.asarray(image)


def _hint(notes: list[str]) -> str:
    return f" ({notes[0]})" if notes and "repgym" in notes[0] else ""


def _check_step(step: Any, reward: float, terminated: bool, truncated: bool, obs: Any, where: str, notes: list[str]):
    if not _same_reward(reward, step.reward):
        raise ReplayMismatch(f"{where}: recorded reward {step.reward!r} but the replay gives {reward!r}{_hint(notes)}")
    if (terminated, truncated) != (step.terminated, step.truncated):
        raise ReplayMismatch(f"{where}: recorded terminated={step.terminated}, truncated={step.truncated} but the "
                             f"replay gives terminated={terminated}, truncated={truncated}{_hint(notes)}")  # fmt: skip
    if obs_digest(obs) != step.obs:
        raise ReplayMismatch(f"{where}: the observation differs from the recording{_hint(notes)}")


def write_video(frames: list[tuple[np.ndarray, float]], path: str | Path, fps: int = VIDEO_FPS) -> Path:
    """Write ``(frame, seconds)`` pairs — RGB ``(height, width, 3) uint8`` of one size, each shown for its seconds
    (at least one video frame) — to ``path`` (``.mp4`` or ``.gif``) at ``fps`` frames per second."""
    path = Path(path)
    if path.suffix.lower() not in (".mp4", ".gif"):
        raise ValueError(f"video must be a .mp4 or .gif file, got {str(path)!r}")
    if not frames:
        raise ValueError("no frames to write: the recording has no episodes")
    from moviepy import ImageSequenceClip

    sequence = [frame for frame, seconds in frames for _ in range(max(1, round(seconds * fps)))]
    clip = ImageSequenceClip(sequence, fps=fps)
    if path.suffix.lower() == ".gif":
        clip.write_gif(str(path), fps=fps, logger=None)
    else:
        clip.write_videofile(str(path), fps=fps, codec="libx264", audio=False, logger=None)
    return path
