"""Bubble Breaker stepping speed: one env, ``SyncVectorEnv`` of single envs, and the native vector env.

All three play ``repgym/BubbleBreaker-v0`` (14x10, 5 colours) with uniformly random legal clicks chosen by array
operations from ``info["action_mask"]``, and are measured in the same run, so the ratios hold on any machine.
Each figure is the best of ``--repeats`` timed rounds (as ``timeit`` does), since shared machines add noise that
only ever slows a round down::

    python benchmarks/bubble_speed.py                      # B = 256 and 1024
    python benchmarks/bubble_speed.py --batch-sizes 64 4096 --steps 100000
    python benchmarks/bubble_speed.py --quick              # a few seconds, for a smoke test
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
from rich.console import Console
from rich.table import Table

import repgym  # noqa: F401  (registers the ids)

ENV_ID = "repgym/BubbleBreaker-v0"


def masked_random(rng: np.random.Generator, masks: np.ndarray) -> np.ndarray:
    """One uniformly random legal cell per row of ``masks`` ``(batch, cells) bool`` (cell 0 when none is legal)."""
    return (rng.random(masks.shape, dtype=np.float32) * masks).argmax(axis=1)


def single_env_speed(steps: int, repeats: int, seed: int) -> float:
    """Board-steps per second of one ``gymnasium.make`` env (TimeLimit and checkers included), resetting at the end."""
    env = gym.make(ENV_ID)
    rng = np.random.default_rng(seed)
    _, info = env.reset(seed=seed)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            action = int(masked_random(rng, info["action_mask"][None])[0])
            _, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                _, info = env.reset()
        best = min(best, time.perf_counter() - start)
    env.close()
    return steps / best


def vector_env_speed(make: Callable[[], gym.vector.VectorEnv], steps: int, repeats: int, seed: int) -> float:
    """Board-steps per second of a vector env (NEXT_STEP autoreset), over rounds of at least ``steps`` board-steps.

    Rounds follow each other, so the boards are at every stage of their games (autoresets included)."""
    env = make()
    rng = np.random.default_rng(seed)
    _, info = env.reset(seed=seed)
    for _ in range(3):  # warm-up
        _, _, _, _, info = env.step(masked_random(rng, info["action_mask"]))
    calls = max(10, -(-steps // env.num_envs))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            _, _, _, _, info = env.step(masked_random(rng, info["action_mask"]))
        best = min(best, time.perf_counter() - start)
    boards = env.num_envs
    env.close()
    return calls * boards / best


def make_vector_env(num_envs: int, mode: str) -> gym.vector.VectorEnv:
    """``repgym/BubbleBreaker-v0`` as a SyncVectorEnv (``"sync"``) or the native env (``"vector_entry_point"``)."""
    return gym.make_vec(ENV_ID, num_envs, vectorization_mode=mode)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=None, help="board-steps per timed round (default 20000)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None, help="boards per vector env")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per figure; the best is reported")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="small run: 3000 steps, batch sizes 32 128, 1 round")
    args = parser.parse_args(argv)
    steps = args.steps or (3000 if args.quick else 20_000)
    batch_sizes = args.batch_sizes or ([32, 128] if args.quick else [256, 1024])
    repeats = 1 if args.quick else args.repeats

    console = Console()
    console.print(f"{ENV_ID}: random legal clicks, best of {repeats} round(s) of {steps} board-steps")
    single = single_env_speed(min(steps, 10_000), repeats, args.seed)
    table = Table(title="Bubble Breaker 14x10, 5 colours: board-steps per second")
    for column in ("engine", "boards", "steps/s", "native / sync", "native / single"):
        table.add_column(column, justify="left" if column == "engine" else "right")
    table.add_row("single env (gym.make)", "1", f"{single:,.0f}", "", "")
    for b in batch_sizes:
        sync = vector_env_speed(lambda b=b: make_vector_env(b, "sync"), steps, repeats, args.seed)
        native = vector_env_speed(lambda b=b: make_vector_env(b, "vector_entry_point"), steps, repeats, args.seed)
        table.add_row("SyncVectorEnv", str(b), f"{sync:,.0f}", "", "")
        table.add_row("native vector env", str(b), f"{native:,.0f}", f"{native / sync:.1f}x", f"{native / single:.1f}x")
    console.print(table)


if __name__ == "__main__":
    main()
