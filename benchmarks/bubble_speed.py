"""Bubble Breaker stepping speed: one env, ``SyncVectorEnv`` of single envs, and the native vector env's engines.

Every env plays ``repgym/BubbleBreaker-v0`` (14x10, 5 colours) with uniformly random legal clicks chosen by array
operations from ``info["action_mask"]``; only the ``step()`` calls are timed (the whole call: rules, observations,
masks, info dicts, autoresets), not the choice of clicks. The native vector env runs on the numpy engine and on the
compiled numba engine with one and two threads; all are measured in the same run, so the ratios hold on any
machine. Each figure is the best of its timed rounds (as ``timeit`` does), since shared machines add noise that
only ever slows a round down. The memory per board is what the native env holds per board (its state arrays, its
last masks, and each board's random generator), measured with ``tracemalloc``::

    python benchmarks/bubble_speed.py                      # B = 256, 1024 and 4096
    python benchmarks/bubble_speed.py --batch-sizes 64 4096 --steps 100000
    python benchmarks/bubble_speed.py --quick              # a few seconds, for a smoke test

OpenMP's idle threads spin by default, which on a shared machine takes the core another job needs and slows the
two-thread figures several times; this script asks for passive waiting (``OMP_WAIT_POLICY=PASSIVE``) unless the
environment sets a policy, and prints numba's threading layer.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before numba starts its OpenMP threads

import argparse  # noqa: E402
import gc  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Callable  # noqa: E402

import gymnasium as gym  # noqa: E402
import numba  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

import repgym  # noqa: E402, F401  (registers the ids)

ENV_ID = "repgym/BubbleBreaker-v0"
NATIVE = {  # the native env's engines, by row label
    "numpy": {"engine": "numpy"},
    "numba, 1 thread": {"numba_threads": 1},
    "numba, 2 threads": {"numba_threads": 2},
}


def masked_random(rng: np.random.Generator, masks: np.ndarray) -> np.ndarray:
    """One uniformly random legal cell per row of ``masks`` ``(batch, cells) bool`` (cell 0 when none is legal)."""
    return (rng.random(masks.shape, dtype=np.float32) * masks).argmax(axis=1)


def single_env_speed(steps: int, repeats: int, seed: int) -> float:
    """Steps per second of one ``gymnasium.make`` env (TimeLimit and checkers included), resetting at the end."""
    env = gym.make(ENV_ID)
    rng = np.random.default_rng(seed)
    _, info = env.reset(seed=seed)
    best = float("inf")
    for _ in range(repeats):
        elapsed = 0.0
        for _ in range(steps):
            action = int(masked_random(rng, info["action_mask"][None])[0])
            start = time.perf_counter()
            _, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                _, info = env.reset()
            elapsed += time.perf_counter() - start
        best = min(best, elapsed)
    env.close()
    return steps / best


def vector_env_speed(make: Callable[[], gym.vector.VectorEnv], steps: int, repeats: int, seed: int) -> float:
    """Board-steps per second of a vector env's ``step()`` (NEXT_STEP autoreset), over rounds of at least ``steps``
    board-steps. Rounds follow each other, so the boards are at every stage of their games (autoresets included)."""
    env = make()
    rng = np.random.default_rng(seed)
    _, info = env.reset(seed=seed)
    for _ in range(3):  # warm-up (compiled kernels load from numba's cache on first use)
        _, _, _, _, info = env.step(masked_random(rng, info["action_mask"]))
    calls = max(10, -(-steps // env.num_envs))
    best = float("inf")
    for _ in range(repeats):
        elapsed = 0.0
        for _ in range(calls):
            actions = masked_random(rng, info["action_mask"])
            start = time.perf_counter()
            _, _, _, _, info = env.step(actions)
            elapsed += time.perf_counter() - start
        best = min(best, elapsed)
    boards = env.num_envs
    env.close()
    return calls * boards / best


def make_vector_env(num_envs: int, mode: str, **kwargs) -> gym.vector.VectorEnv:
    """``repgym/BubbleBreaker-v0`` as a SyncVectorEnv (``"sync"``) or the native env (``"vector_entry_point"``)."""
    return gym.make_vec(ENV_ID, num_envs, vectorization_mode=mode, **kwargs)


def memory_per_board(num_envs: int, seed: int) -> tuple[float, int]:
    """``(bytes traced per board, bytes of state arrays per board)`` held by a native env after a few steps (returned
    observations and infos dropped). The traced figure includes each board's ``numpy.random.Generator``."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    env = make_vector_env(num_envs, "vector_entry_point")
    rng = np.random.default_rng(seed)
    _, info = env.reset(seed=seed)
    for _ in range(5):
        _, _, _, _, info = env.step(masked_random(rng, info["action_mask"]))
    del info
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    base = env.unwrapped if hasattr(env, "unwrapped") else env
    arrays = [*base.game, base._elapsed, base._autoreset, base._mask, base._groups]
    return held / num_envs, sum(a.nbytes for a in arrays) // num_envs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=None, help="board-steps per timed round (default 20000)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=None, help="boards per vector env")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds per figure (native engines: 3x as many)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="small run: 3000 steps, batch sizes 32 128, 1 round")
    args = parser.parse_args(argv)
    steps = args.steps or (3000 if args.quick else 20_000)
    batch_sizes = args.batch_sizes or ([32, 128] if args.quick else [256, 1024, 4096])
    repeats = 1 if args.quick else args.repeats

    console = Console(width=120)
    console.print(
        f"{ENV_ID}: random legal clicks, step() timed, best of {repeats} round(s) of {steps} board-steps "
        f"({3 * repeats} for the native engines)"
    )
    single = single_env_speed(min(steps, 10_000), repeats, args.seed)
    table = Table(title="Bubble Breaker 14x10, 5 colours: board-steps per second")
    for column in ("env", "boards", "steps/s", "x sync", "x numpy engine", "x single env"):
        table.add_column(column, justify="left" if column == "env" else "right")
    table.add_row("single env (gym.make)", "1", f"{single:,.0f}", "", "", "1.0x")
    for b in batch_sizes:
        sync = vector_env_speed(lambda b=b: make_vector_env(b, "sync"), steps, repeats, args.seed)
        table.add_row("SyncVectorEnv", str(b), f"{sync:,.0f}", "1.0x", "", f"{sync / single:.1f}x")
        numpy_speed = None
        for name, kwargs in NATIVE.items():
            make = lambda b=b, kwargs=kwargs: make_vector_env(b, "vector_entry_point", **kwargs)  # noqa: E731
            speed = vector_env_speed(make, steps, 3 * repeats, args.seed)
            numpy_speed = numpy_speed or speed
            table.add_row(
                f"native, {name}", str(b), f"{speed:,.0f}", f"{speed / sync:.1f}x", f"{speed / numpy_speed:.1f}x",
                f"{speed / single:.1f}x",
            )  # fmt: skip
        table.add_section()
    console.print(table)
    traced, arrays = memory_per_board(max(batch_sizes), args.seed)
    console.print(
        f"memory per board ({max(batch_sizes)} boards): {traced:,.0f} bytes held by the native env, of which "
        f"{arrays} bytes of state arrays (board, key, new columns, score, step count, autoreset flag, legal mask, "
        f"group count); the rest is each board's numpy random generator"
    )
    console.print(
        f"numba threading layer: {numba.threading_layer()}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}, "
        f"{os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    main()
