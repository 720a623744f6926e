"""Callbacks for repgym agents' ``learn``: progress bar, periodic checkpoints, periodic evaluation, stopping.

Modelled on Stable-Baselines3's: ``learn`` calls ``on_training_start(agent, total_timesteps)``, then ``on_step(agent)``
after every env step (a vector env's step counts ``num_envs``; ``agent.num_timesteps`` is already updated) and
stops early when it returns False, then ``on_training_end(agent)``. ``callback=`` also takes a list of callbacks or
a plain function ``fn(agent) -> bool | None``. Every agent takes them, the sb3-* agents too (they also take SB3's
own callbacks).

:class:`StopTraining` with :func:`stop_on_signals` is how ``repgym train`` survives Ctrl-C: the signal only sets a
flag, and ``learn`` returns at the next step boundary, never in the middle of an update.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import gymnasium as gym


class Callback:
    """Base class: override the hooks you need."""

    def on_training_start(self, agent: Any, total_timesteps: int) -> None:
        """Before the first step of a ``learn`` call."""

    def on_step(self, agent: Any) -> bool:
        """After each env step; False stops training."""
        return True

    def on_training_end(self, agent: Any) -> None:
        """After the last step (also after an early stop)."""


class CallbackList(Callback):
    """Several callbacks in order; training stops when any ``on_step`` returns False."""

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.callbacks = list(callbacks)

    def on_training_start(self, agent: Any, total_timesteps: int) -> None:
        for cb in self.callbacks:
            cb.on_training_start(agent, total_timesteps)

    def on_step(self, agent: Any) -> bool:
        return all([cb.on_step(agent) for cb in self.callbacks])  # every callback sees every step

    def on_training_end(self, agent: Any) -> None:
        for cb in self.callbacks:
            cb.on_training_end(agent)


class FunctionCallback(Callback):
    """``fn(agent)`` after every step; returning False (not None) stops training."""

    def __init__(self, fn: Callable[[Any], bool | None]) -> None:
        self.fn = fn

    def on_step(self, agent: Any) -> bool:
        return self.fn(agent) is not False


class _Every(Callback):
    """Fires :meth:`fire` whenever ``agent.num_timesteps`` crosses a multiple of ``freq``."""

    def __init__(self, freq: int) -> None:
        if freq < 1:
            raise ValueError(f"frequency must be a positive number of steps, got {freq}")
        self.freq = int(freq)
        self._last = 0

    def on_training_start(self, agent: Any, total_timesteps: int) -> None:
        self._last = agent.num_timesteps

    def on_step(self, agent: Any) -> bool:
        now = agent.num_timesteps
        fired = now // self.freq > self._last // self.freq
        self._last = now
        return self.fire(agent) is not False if fired else True

    def fire(self, agent: Any) -> bool | None:
        raise NotImplementedError


class CheckpointCallback(_Every):
    """Save the agent to ``<save_path>/<name_prefix>_<steps>_steps`` every ``save_freq`` env steps."""

    def __init__(self, save_freq: int, save_path: str | Path, name_prefix: str = "agent") -> None:
        super().__init__(save_freq)
        self.save_path = Path(save_path)
        self.name_prefix = name_prefix
        self.saved: list[Path] = []

    def fire(self, agent: Any) -> None:
        self.saved.append(agent.save(self.save_path / f"{self.name_prefix}_{agent.num_timesteps}_steps"))


class EvalCallback(_Every):
    """Evaluate on ``eval_env`` every ``eval_freq`` env steps (:func:`repgym.runs.play`);
    ``evaluations`` collects ``(steps, mean return, std)``; with ``best_model_save_path`` the best agent is saved;
    training stops once the mean return reaches ``stop_at`` (if given). ``seed``: first reset seed (default: the
    run protocol's evaluation seeds). Results go to the agent's logger too."""

    def __init__(
        self,
        eval_env: gym.Env,
        eval_freq: int,
        n_eval_episodes: int = 10,
        seed: int | None = None,
        best_model_save_path: str | Path | None = None,
        stop_at: float | None = None,
    ) -> None:
        super().__init__(eval_freq)
        self.eval_env = eval_env
        self.n_eval_episodes = n_eval_episodes
        self.seed = seed
        self.best_model_save_path = None if best_model_save_path is None else Path(best_model_save_path)
        self.stop_at = stop_at
        self.evaluations: list[tuple[int, float, float]] = []
        self.best_mean = float("-inf")

    def fire(self, agent: Any) -> bool:
        from repgym.runs import DEFAULT_FIRST_SEED, EvalProtocol, play

        result = play(
            agent,
            self.eval_env,
            EvalProtocol(self.n_eval_episodes, first_seed=DEFAULT_FIRST_SEED if self.seed is None else self.seed),
        )
        self.evaluations.append((agent.num_timesteps, result.mean, result.std))
        logger = getattr(agent, "logger", None)
        if logger is not None:
            logger.record("eval/mean_return", result.mean, agent.num_timesteps)
            logger.record("eval/std_return", result.std, agent.num_timesteps)
        if result.mean > self.best_mean:
            self.best_mean = result.mean
            if self.best_model_save_path is not None:
                agent.save(self.best_model_save_path)
        return self.stop_at is None or result.mean < self.stop_at


class StopTraining(Callback):
    """A flag that ends ``learn`` at the next step boundary once set (by :func:`stop_on_signals`, or by hand);
    ``reason`` says what set it."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason: str | None = None

    def set(self, reason: str = "stopped") -> None:
        self.reason = self.reason or reason
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    def on_step(self, agent: Any) -> bool:
        return not self.is_set()


@contextmanager
def stop_on_signals(stop: StopTraining, signals: Sequence[int] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[None]:
    """While inside, the first of ``signals`` sets ``stop`` instead of ending the process, and puts the previous
    handlers back, so that a second Ctrl-C interrupts at once; the handlers are restored on exit. Main thread only
    (Python delivers signals there)."""
    previous = {sig: signal.getsignal(sig) for sig in signals}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    def handle(signum: int, frame: Any) -> None:
        stop.set(signal.Signals(signum).name)
        restore()

    for sig in signals:
        signal.signal(sig, handle)
    try:
        yield
    finally:
        restore()


class ProgressBarCallback(Callback):
    """A rich progress bar over the steps of one ``learn`` call, with steps/s and time left."""

    def __init__(self) -> None:
        self._progress = None
        self._task = None
        self._start = 0
        self._t0 = 0.0
        self._shown = 0.0

    def on_training_start(self, agent: Any, total_timesteps: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self._start = agent.num_timesteps
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
        )  # fmt: skip
        self._task = self._progress.add_task(getattr(agent, "name", "learn"), total=total_timesteps, rate="")
        self._progress.start()
        self._t0 = time.perf_counter()

    def on_step(self, agent: Any) -> bool:
        now = time.perf_counter()
        if now - self._shown >= 0.1:  # redraws cost more than steps
            self._shown = now
            done = agent.num_timesteps - self._start
            rate = done / max(now - self._t0, 1e-9)
            self._progress.update(self._task, completed=done, rate=f"{rate:,.0f} steps/s")
        return True

    def on_training_end(self, agent: Any) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=agent.num_timesteps - self._start)
            self._progress.stop()


def as_callback(callback: Callback | Sequence[Callback] | Callable[[Any], bool | None] | None,
                progress_bar: bool = False) -> Callback:  # fmt: skip
    """One :class:`Callback` from ``callback=`` (None, a callback, a list, or a function) plus a progress bar."""
    if callback is None:
        callbacks: list[Callback] = []
    elif isinstance(callback, Callback):
        callbacks = [callback]
    elif isinstance(callback, Sequence):
        callbacks = [as_callback(cb) for cb in callback]
    elif callable(callback):
        callbacks = [FunctionCallback(callback)]
    else:
        raise ValueError(f"callback must be a Callback, a list of them or a function, got {type(callback).__name__}")
    if progress_bar:
        callbacks.append(ProgressBarCallback())
    return callbacks[0] if len(callbacks) == 1 else CallbackList(callbacks)


@contextmanager
def learning_session(agent: Any, total_timesteps: int, callback: Any = None, progress_bar: bool = False,
                     log_dir: str | Path | None = None) -> Iterator[Callback]:  # fmt: skip
    """The frame of a hand-written ``learn`` loop, shared by the agents that step their own games: yields the
    callbacks (``on_step`` is the loop's to call) after ``on_training_start``, runs the block on the agent's own
    torch generator, and always ends with ``on_training_end`` and the run logger closed. While it runs,
    ``agent.logger`` is a :class:`~repgym.agents.logger.RunLogger` on ``log_dir`` (None without one)."""
    from repgym.agents.logger import RunLogger

    callbacks = as_callback(callback, progress_bar)
    agent.logger = RunLogger(log_dir) if log_dir is not None else None
    callbacks.on_training_start(agent, int(total_timesteps))
    with agent._torch_rng():  # the global torch generator stays as it was
        try:
            yield callbacks
        finally:
            callbacks.on_training_end(agent)
            if agent.logger is not None:
                agent.logger.close()
                agent.logger = None
