"""One person playing one env, independent of the front end: the env, seeded episodes, checked actions, the
recording and what the screen shows.

The browser (:mod:`repgym.human.web`) drives a :class:`GameSession` with messages; the desktop window and the
notebook can drive the same object. Every action goes through :meth:`GameSession.act`, which checks it against the
action space before the env sees it and records the step, so no front end can write a recording of its own.

```python
session = GameSession("repgym/KeyToDoor-v0", {"delay": 5}, player="alice", record_dir="recordings")
session.reset()                    # episode 0, reset(seed=session.base_seed)
session.press("ArrowUp")           # a key of session.guide.controls, or
session.act(2)                     # an action (JSON form: an int, or a list of numbers for Box spaces)
session.view()                     # {"score": ..., "steps_left": ..., "image": "data:image/png;base64,..."}
session.close()                    # or close("disconnect") when the player went away mid-episode
```

``games=N`` (a study's quota) makes the session play exactly ``N`` games, each to its end: no restart mid-game, no
game after the last.
"""

from __future__ import annotations

import base64
import io
import secrets
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from repgym.human.guides import Guide, check_press, guide_for, hint, step_limit
from repgym.human.recording import RecordingWriter, action_from_json


class SessionError(ValueError):
    """A request the session refuses; ``code`` names the kind (``bad_action``, ``game_over``, ``unknown_key``,
    ``not_now``, ``closed``) for front ends that answer with an error frame."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class GameSession:
    """An env made with ``render_mode="rgb_array"``, its guide and its recording; episode ``i`` is reset with seed
    ``base_seed + i``. Not thread-safe: one caller at a time."""

    def __init__(
        self,
        env_id: str,
        env_kwargs: dict[str, Any] | None = None,
        seed: int | None = None,
        player: str = "anonymous",
        record_dir: str | Path | None = None,
        durable: bool = True,
        games: int | None = None,
    ) -> None:
        if games is not None and games < 1:
            raise ValueError(f"games must be at least 1, got {games}")
        self.env_id = env_id
        self.games = games  # a study's quota: this many games, each played to its end (None: any number)
        self.env_kwargs = dict(env_kwargs or {})
        self.env = gym.make(env_id, render_mode="rgb_array", **self.env_kwargs)
        try:
            self.guide: Guide = guide_for(self.env)
        except ValueError:
            self.env.close()
            raise
        self.game = self.env.unwrapped
        self.limit = step_limit(self.env)
        self.base_seed = secrets.randbelow(2**31) if seed is None else int(seed)
        self.player = player
        self.writer = RecordingWriter.create(
            record_dir, env_id, player, env_kwargs=self.env_kwargs, seed=self.base_seed,
            action_space=self.env.action_space, durable=durable,
        )  # fmt: skip
        self.path = self.writer.path
        self.episode = -1
        self.finished = 0  # episodes the game ended (terminated or truncated): what the leaderboard counts
        self.over = True  # no episode under way
        self.closed = False
        self.total, self.steps, self.last_reward, self.success = 0.0, 0, None, None
        self.message = ""
        self.info: dict[str, Any] = {}

    # -- playing -----------------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Start the next episode (one still under way is recorded as restarted). With ``games``, a game under way
        cannot be restarted and no game follows the last one (:class:`SessionError` ``not_now`` / ``all_played``)."""
        self._check_open()
        if self.games is not None and self.episode >= 0:
            if not self.over:
                raise SessionError("not_now", "finish this game first: every game of a study is played to its end")
            if self.finished >= self.games:
                raise SessionError("all_played", f"all {self.games} games of this session are played")
        self.episode += 1
        seed = self.base_seed + self.episode
        obs, self.info = self.env.reset(seed=seed)
        self.writer.start_episode(seed, obs)
        self.total, self.steps, self.last_reward, self.success, self.over = 0.0, 0, None, None, False
        self.message = ""

    def act(self, action: Any, repeat: int | None = None) -> None:
        """Apply ``action`` (its JSON form) for ``repeat`` env steps (default: the guide's ``press_steps``), each
        recorded, stopping early when the episode ends; :class:`SessionError` if it is not in the action space or
        no episode is under way."""
        self._check_open()
        if self.over:
            raise SessionError("game_over", "the game is over: start a new game")
        try:
            action = action_from_json(action, self.env.action_space)
        except (ValueError, TypeError) as err:  # TypeError: e.g. an object where numbers belong
            raise SessionError("bad_action", str(err)[:200]) from None
        for _ in range(self.guide.press_steps if repeat is None else repeat):
            self._step(action)
            if self.over:
                break

    def press(self, key: str) -> None:
        """Act as the control bound to ``key`` (a browser ``KeyboardEvent.key``) says."""
        control = self.guide.control(key)
        if control is None:
            raise SessionError("unknown_key", f"key {key[:20]!r} does nothing in this game")
        if not self.over:
            reason = check_press(self.env, control)
            if reason:
                raise SessionError("not_now", reason)
        self.act(control.action)

    def _step(self, action: Any) -> None:
        obs, reward, terminated, truncated, self.info = self.env.step(action)
        self.writer.step(action, reward, terminated, truncated, obs, self.info)
        self.total += float(reward)
        self.steps += 1
        self.last_reward = float(reward)
        self.message = "not a group: nothing happens" if self.info.get("illegal_action") else ""
        if terminated or truncated:
            self.over, self.finished = True, self.finished + 1
            success = self.info.get("success", self.info.get("is_success"))
            self.success = bool(success) if success is not None else None
            outcome = {True: "success! ", False: "failed. "}.get(self.success, "")
            self.message = f"game over: {outcome}score {self.total:g}"

    def legal_mask(self) -> np.ndarray | None:
        """``(n,) bool`` actions that change the game now, for envs with ``action_masks()``; else None."""
        masks = getattr(self.game, "action_masks", None)
        return None if masks is None or self.episode < 0 else np.asarray(masks(), bool)

    def _check_open(self) -> None:
        if self.closed:
            raise SessionError("closed", "this session is closed")

    # -- what the screen shows -------------------------------------------------------------------------------------

    def view(self) -> dict[str, Any]:
        """The state a front end draws, as JSON values: the status line's numbers, and the board (colour indices,
        group labels and points per cell) for board games or the rendered frame (PNG data URL) for the others.
        Hidden ground truth (``info["state"]`` of the delayed games) is never included."""
        steps_left = None if self.limit is None else max(self.limit - self.steps, 0)
        out: dict[str, Any] = {
            "game": self.episode + 1, "steps": self.steps, "steps_left": steps_left, "score": self.total,
            "last_reward": self.last_reward, "over": self.over, "success": self.success,
            "message": self.message or hint(self.env, self.info), "delay": getattr(self.game, "delay", None),
            "games_left": None if self.games is None else self.games - self.finished,
        }  # fmt: skip
        if self.episode < 0:
            return out
        if self.guide.kind == "board":
            out.update(self._board_view())
            if not self.over and not any(g >= 0 for row in out["groups"] for g in row):
                out["message"] = "no group on this board: click any bubble to end the game"
        else:
            out["image"] = png_data_url(np.asarray(self.env.render()))
        return out

    def _board_view(self) -> dict[str, Any]:
        from repgym.envs.bubble import rules
        from repgym.envs.bubble.render import colour_index

        config, state = self.game.config, self.game.game
        board = state.board[0]
        labels = rules.label_groups(board, config)[0]
        sizes = np.bincount(labels.reshape(-1) + 1, minlength=config.n_cells + 1)[1:]
        points = np.where(labels >= 0, rules.group_reward(sizes[np.maximum(labels, 0)], config), 0.0)
        preview = rules.next_column(state, config)[0] if config.continuous else None
        return {
            "board": colour_index(board, config).tolist(), "groups": labels.tolist(), "points": points.tolist(),
            "preview": None if preview is None else colour_index(preview, config).tolist(), "shift": config.shift,
        }  # fmt: skip

    # -- ending ------------------------------------------------------------------------------------------------------

    def close(self, reason: str = "quit") -> Path:
        """End the recording (an episode under way ends with ``reason``: ``quit`` or ``disconnect``) and the env;
        idempotent. Returns the recording's path."""
        if not self.closed:
            self.closed = True
            try:
                self.writer.close(reason)
            finally:
                self.env.close()
        return self.path

    def __enter__(self) -> GameSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def png_data_url(image: np.ndarray) -> str:
    """``(height, width, 3) uint8`` RGB as a ``data:image/png;base64,...`` URL."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image, dtype=np.uint8)).save(buf, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
