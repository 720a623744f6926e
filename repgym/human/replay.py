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


def replay(
    recording: str | Path | Recording, render: bool = False, video: str | Path | None = None, fps: int | None = None
) -> ReplayReport:
    """Re-simulate ``recording`` and check it step by step; :class:`ReplayMismatch` names the first difference.

    ``render=True`` shows the replay in a window; ``video`` writes it to a file (``.mp4`` or ``.gif``, via
    moviepy), both at ``fps`` frames per second (default: the env's ``render_fps``)."""
    rec = recording if isinstance(recording, Recording) else read_recording(recording)
    name = rec.path.name
    need_frames = render or video is not None
    try:
        env = gym.make(rec.env_id, render_mode="rgb_array" if need_frames else None, **rec.env_kwargs)
    except (gym.error.Error, TypeError, ValueError) as err:
        raise RecordingError(f"{name}: cannot make {rec.env_id!r} with {rec.env_kwargs}: {err}") from None
    fps = int(fps or env.metadata.get("render_fps") or 30)
    notes = []
    if rec.header["repgym_version"] != repgym.__version__:
        notes.append(f"recorded with repgym {rec.header['repgym_version']}, replayed with {repgym.__version__}")
    if not rec.closed:
        notes.append("the session did not end normally (crash or kill); its last episode is replayed as far as it got")
    if rec.partial_tail:
        notes.append("an interrupted last line was ignored")
    window, frames = None, []

    def show() -> None:
        nonlocal window
        frame = np.asarray(env.render())
        if video is not None:
            frames.append(frame)
        if render:
            if window is None:
                from repgym.envs.delayed.render import FrameWindow

                window = FrameWindow(frame.shape[:2], f"repgym replay — {name}")
            window.draw(frame, [f"episode {episode.index + 1}/{len(rec.episodes)}   step {t}"], fps=fps)

    returns, steps = [], 0
    try:
        for episode in rec.episodes:
            where = f"{name}: episode {episode.index}"
            obs, _ = env.reset(seed=episode.seed)
            if obs_digest(obs) != episode.obs:
                raise ReplayMismatch(f"{where}: the first observation differs from the recording{_hint(notes)}")
            t = 0
            if need_frames:
                show()
            total = 0.0
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
                    show()
            returns.append(total)
            steps += len(episode.steps)
    finally:
        if window is not None:
            window.close()
        env.close()
    if video is not None:
        write_video(frames, video, fps)
    return ReplayReport(rec.path, rec.env_id, len(rec.episodes), steps, returns, notes)


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


def write_video(frames: list[np.ndarray], path: str | Path, fps: int, min_size: int = 256) -> Path:
    """Write RGB frames ``(height, width, 3) uint8`` to ``path`` (``.mp4`` or ``.gif``); small frames are scaled
    up by an integer factor to at least ``min_size`` pixels."""
    path = Path(path)
    if path.suffix.lower() not in (".mp4", ".gif"):
        raise ValueError(f"video must be a .mp4 or .gif file, got {str(path)!r}")
    if not frames:
        raise ValueError("no frames to write: the recording has no episodes")
    from moviepy import ImageSequenceClip

    scale = max(1, -(-min_size // max(frames[0].shape[:2])))
    if scale > 1:
        frames = [np.repeat(np.repeat(f, scale, axis=0), scale, axis=1) for f in frames]
    clip = ImageSequenceClip(list(frames), fps=fps)
    if path.suffix.lower() == ".gif":
        clip.write_gif(str(path), fps=fps, logger=None)
    else:
        clip.write_videofile(str(path), fps=fps, codec="libx264", audio=False, logger=None)
    return path
