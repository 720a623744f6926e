"""repgym in Jupyter: play any env in a notebook cell, or watch an agent play one.

```python
from repgym.notebook import Play, show

game = Play("KeyToDoor-v0", delay=5)      # a widget: click the board / press the keys shown (the cell has focus)
game                                      # (display it)
game.press("ArrowUp"); game.act(2)        # or play from Python: the same checks, the same recording
game.close()                              # ends the recording (game.path); also when the kernel exits

show("zoo:qr-keytodoor-d5", "repgym/KeyToDoor-v0", delay=5)   # an agent's episode as an animation, with the score
show("random", "repgym/BubbleBreaker-v0", rows=6, cols=6)    # a baseline by name; or an agent object
```

:class:`Play` is a third front end of :class:`~repgym.human.session.GameSession`, beside the desktop window and the
browser: the env runs in the kernel, the widget (anywidget; ``pip install "repgym[notebook]"``) only draws what the
session's :meth:`~repgym.human.session.GameSession.view` says and sends the player's clicks and keys, checked by
the web server's own message parser. Sessions are recorded like ``repgym play``'s (default folder:
:func:`~repgym.human.recording.default_recordings_dir`), so ``repgym replay`` and ``repgym leaderboard submit``
take them.

:func:`show` plays with :func:`repgym.runs.play` (the evaluation seeds, as every score in repgym) and returns an
:class:`Episodes` film: an animated GIF in the notebook, one move per ``seconds_per_move``, the score above each frame.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import html
import io
import json
import os
import weakref
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from repgym.envs.registry import NAMESPACE
from repgym.human.session import GameSession, SessionError
from repgym.human.web.messages import MessageError, parse_message

try:
    import anywidget
    import traitlets
except ImportError:  # the notebook extra is not installed: show() still works, Play says what to install
    anywidget = None

_STATIC = files("repgym.human.web").joinpath("static")
SECONDS_PER_MOVE = 0.5  # as repgym replay: one move (a click, a key press) every half second
END_HOLD_S = 1.5  # the last frame of an episode stays this long


def env_config(env: str | gym.Env | Any, settings: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(env id, constructor arguments)`` from an id (``KeyToDoor-v0`` and ``repgym/KeyToDoor-v0`` alike), an
    :class:`~repgym.runs.EnvSpec` or a made env (its spec's id and arguments), with ``settings`` on top."""
    if isinstance(env, gym.Env):
        if env.spec is None:
            raise ValueError("the env has no spec (it was not made with gym.make): pass its id instead")
        kwargs = {k: v for k, v in env.spec.kwargs.items() if k != "render_mode"}
        return env.spec.id, {**kwargs, **settings}
    if hasattr(env, "id") and hasattr(env, "kwargs"):  # EnvSpec
        return env.id, {**dict(env.kwargs), **settings}
    if not isinstance(env, str):
        raise TypeError(f"env must be an env id, an EnvSpec or a made env, got {type(env).__name__}")
    import repgym.envs  # noqa: F401  (registers the repgym ids)

    if env not in gym.registry and f"{NAMESPACE}/{env}" in gym.registry:
        env = f"{NAMESPACE}/{env}"
    return env, dict(settings)


if anywidget is not None:

    class Play(anywidget.AnyWidget):
        """A game of ``env`` (an id, EnvSpec or made env; ``settings``: constructor arguments) in a notebook cell.

        The widget's ``view`` is the session's :meth:`~repgym.human.session.GameSession.view` after every move and
        ``error`` the last refusal (a move that is not allowed now, an unknown key), as on the web page.
        :meth:`act`, :meth:`press` and :meth:`reset` play from Python, through the same checks."""

        _esm = _STATIC.joinpath("notebook.js").read_text(encoding="utf-8")
        _css = _STATIC.joinpath("notebook.css").read_text(encoding="utf-8")
        guide = traitlets.Dict().tag(sync=True)
        view = traitlets.Dict().tag(sync=True)
        error = traitlets.Unicode("").tag(sync=True)

        def __init__(
            self,
            env: str | gym.Env | Any,
            *,
            seed: int | None = None,
            player: str = "notebook",
            record_dir: str | os.PathLike | None = None,
            durable: bool = True,
            **settings: Any,
        ) -> None:
            from repgym.human.web.messages import check_player

            env_id, kwargs = env_config(env, settings)
            self.session = GameSession(env_id, kwargs, seed=seed, player=check_player(player), record_dir=record_dir,
                                       durable=durable)  # fmt: skip
            super().__init__(guide=self.session.guide.to_json())
            self.on_msg(self._on_message)
            _open_sessions.add(self.session)
            self.reset()

        @property
        def path(self) -> Path:
            """The session's recording."""
            return self.session.path

        def reset(self) -> None:
            """Start the next game."""
            self._apply(self.session.reset)

        def act(self, action: Any) -> None:
            """Apply ``action`` (an int, or a list of numbers for Box spaces), as a click would."""
            self._apply(self.session.act, action)

        def press(self, key: str) -> None:
            """Press ``key`` (a ``KeyboardEvent.key`` of the guide's controls, e.g. ``"ArrowUp"``)."""
            self._apply(self.session.press, key)

        def close(self) -> Path:
            """End the recording (a game under way is recorded as ``quit``) and the widget; returns the recording."""
            path = self.session.close()
            _open_sessions.discard(self.session)
            super().close()
            return path

        def _apply(self, fn: Any, *args: Any) -> None:
            try:
                fn(*args)
            except SessionError as err:
                self.error = str(err)
                return
            self.error = ""
            self.view = self.session.view()

        def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
            """A click or key from the front end, checked as the web server checks its messages."""
            try:
                message = parse_message(json.dumps(content))
            except (MessageError, TypeError, ValueError) as err:
                self.error = str(err)
                return
            kind = message["type"]
            if kind == "reset":
                self.reset()
            elif kind == "action":
                self.act(message["action"])
            elif kind == "key":
                self.press(message["key"])
            else:
                self.close()

else:

    class Play:  # type: ignore[no-redef]
        """Stands in for the widget when anywidget is missing."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise ImportError('repgym.notebook.Play needs anywidget: pip install "repgym[notebook]"')


_open_sessions: weakref.WeakSet[GameSession] = weakref.WeakSet()


@atexit.register
def _close_open_sessions() -> None:
    """A kernel that exits ends its games' recordings properly (the game under way as ``quit``)."""
    for session in list(_open_sessions):
        with contextlib.suppress(OSError):
            session.close()


# -- watching an agent -------------------------------------------------------------------------------------------


@dataclass
class Episodes:
    """An agent's episodes as frames: ``frames[i]`` is ``(captioned RGB image, seconds on screen)``; ``returns``
    per episode. Shows itself in a notebook as an animated GIF with the returns under it."""

    label: str
    frames: list[tuple[np.ndarray, float]]
    returns: list[float] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)

    def gif(self) -> bytes:
        """The frames as an animated GIF (looping)."""
        from PIL import Image

        if not self.frames:
            raise ValueError("no frames: no episode was played")
        images = [Image.fromarray(np.ascontiguousarray(frame, dtype=np.uint8)) for frame, _ in self.frames]
        buf = io.BytesIO()
        images[0].save(buf, format="GIF", save_all=True, append_images=images[1:], loop=0,
                       duration=[max(20, round(1000 * seconds)) for _, seconds in self.frames])  # fmt: skip
        return buf.getvalue()

    def _repr_html_(self) -> str:
        data = base64.b64encode(self.gif()).decode()
        summary = ", ".join(f"episode {i + 1}: return {r:g} in {n} steps"
                            for i, (r, n) in enumerate(zip(self.returns, self.lengths, strict=True)))  # fmt: skip
        return (f"<figure style='margin:0'><img src='data:image/gif;base64,{data}' alt='{html.escape(self.label)}'>"
                f"<figcaption>{html.escape(self.label)}: {html.escape(summary)}</figcaption></figure>")  # fmt: skip


class _Filmed(gym.Wrapper):
    """Keeps a captioned frame after every reset and every ``every``-th step (and the last), the score above it."""

    def __init__(self, env: gym.Env, every: int, seconds: float) -> None:
        super().__init__(env)
        self.every, self.seconds = every, seconds
        self.frames: list[tuple[np.ndarray, float]] = []
        self.returns: list[float] = []
        self.lengths: list[int] = []
        self._score, self._steps, self._gained = 0.0, 0, 0.0

    def _keep(self, end: bool = False) -> None:
        from repgym.human.replay import captioned, upscale

        gained = f"   ({self._gained:+g})" if self._gained else ""
        lines = [f"score {self._score:g}{gained}",
                 f"game {len(self.returns) + 1 - end}   move {-(-self._steps // self.every)}"
                 + ("   (game over)" if end else "")]  # fmt: skip
        frame = captioned(upscale(np.asarray(self.env.render())), lines)
        self.frames.append((frame, self.seconds + (END_HOLD_S if end else 0.0)))

    def reset(self, **kwargs: Any) -> Any:
        out = self.env.reset(**kwargs)
        self._score, self._steps, self._gained = 0.0, 0, 0.0
        self._keep()
        return out

    def step(self, action: Any) -> Any:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._score += float(reward)
        self._gained += float(reward)
        self._steps += 1
        done = terminated or truncated
        if done:
            self.returns.append(self._score)
            self.lengths.append(self._steps)
        if done or self._steps % self.every == 0:
            self._keep(end=done)
            self._gained = 0.0
        return obs, reward, terminated, truncated, info


def show(agent: Any, env: str | gym.Env | Any | None = None, episodes: int = 1, seed: int = 0,
         seconds_per_move: float = SECONDS_PER_MOVE, **settings: Any) -> Episodes:  # fmt: skip
    """Play ``episodes`` episodes of ``agent`` — an object with ``predict`` (any repgym agent), a checkpoint folder
    or ``zoo:NAME``, a baseline name (``random``, ``greedy``, ``expert``...) or None (random legal moves) — in
    ``env`` (an id, EnvSpec or made env; default: a checkpoint's own env; ``settings``: constructor arguments), on
    the run protocol's evaluation seeds, and return the film (displayed by the notebook)."""
    from repgym.human.guides import guide_for
    from repgym.runs import Checkpoint, EvalProtocol, is_checkpoint_ref, play

    label = getattr(agent, "name", None) or type(agent).__name__
    if isinstance(agent, str | os.PathLike) and is_checkpoint_ref(agent):
        checkpoint = Checkpoint.read(agent)
        label = str(agent)
        if env is None:
            if checkpoint.env is None:
                raise ValueError(f"{agent}: the checkpoint records no env: pass one")
            env = checkpoint.env
    elif isinstance(agent, str | os.PathLike):
        label = str(agent)
    if env is None:
        raise ValueError("give the env to play (an id such as 'repgym/KeyToDoor-v0')")
    env_id, kwargs = env_config(env, settings)
    made = gym.make(env_id, render_mode="rgb_array", **kwargs)
    try:
        try:
            every = max(1, guide_for(made).press_steps)  # physics: one frame per key-press worth of steps
        except ValueError:
            every = 1
        filmed = _Filmed(made, every, seconds_per_move)
        if agent is None:
            player, label = None, "random"
        elif hasattr(agent, "predict"):
            player = agent
        else:
            from repgym.benchmark.video import make_player

            player = make_player(agent, made, seed=seed)
        play(player, filmed, EvalProtocol(episodes, rng_seed=seed))
        return Episodes(f"{label} on {env_id}", filmed.frames, filmed.returns, filmed.lengths)
    finally:
        made.close()
