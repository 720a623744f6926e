"""Physics env stepping speed against raw ``mujoco.mj_step`` on the same model, measured in the same run.

For each body, at ``frame_skip=1`` with state observations, three loops take the same uniformly random motor
commands: raw MuJoCo (``data.ctrl[:] = a; mujoco.mj_step(model, data)`` on the env's own model, one ``mj_step``
per action, as Gymnasium's ``MujocoEnv`` writes its controls), the env class itself (``env.step`` in the table:
``env.unwrapped.step`` with its action checks, observation, reward and ``info["state"]``), and ``gymnasium.make``'s
env (plus Gymnasium's TimeLimit / order / checker wrappers and a reset every episode). The Thrower keeps the ball
(release < 0), so no episode ends early. The target is env >= 0.5 x raw. ``--pixels`` adds 64 x 64 pixel
observations (bound by the offscreen renderer). Each figure is the best of ``--repeats`` rounds, the loops taking
turns so that a change in the machine's load hits them alike. Rounds are timed in CPU time of this process by
default (all loops run in this one thread), so that other processes on a shared machine do not count; ``--clock
wall`` times them by the wall clock::

    python benchmarks/physics_speed.py
    python benchmarks/physics_speed.py --steps 50000 --pixels --clock wall
    python benchmarks/physics_speed.py --quick          # a few seconds, for a smoke test
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
from rich.console import Console
from rich.table import Table

import repgym  # noqa: F401  (registers the ids; chooses a headless OpenGL backend before MuJoCo is imported)

ENV_IDS = ("repgym/TwoLinkReach-v0", "repgym/ThreeLinkReach-v0", "repgym/Thrower-v0")
CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def random_actions(env: gym.Env, steps: int, seed: int) -> np.ndarray:
    """``(steps, action_dim) float32`` uniform motor commands; the Thrower's release entry stays at -1 (held)."""
    actions = np.random.default_rng(seed).uniform(-1, 1, (steps, *env.action_space.shape)).astype(np.float32)
    actions[:, env.unwrapped.model.nu :] = -1.0
    return actions


def best_rates(
    runs: dict[str, Callable[[], None]], steps: int, repeats: int, clock: Callable[[], float] = time.process_time
) -> dict[str, float]:
    """Steps per second of each loop's fastest of ``repeats`` calls (each doing ``steps`` steps), timed by ``clock``.

    The loops take turns round by round, so that a change in the machine's load hits them alike."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            start = clock()
            run()
            best[name] = min(best[name], clock() - start)
    return {name: steps / seconds for name, seconds in best.items()}


def raw_loop(env: gym.Env, actions: np.ndarray) -> Callable[[], None]:
    """Raw MuJoCo on the env's model (fresh MjData), the same motor commands."""
    import mujoco

    model = env.unwrapped.model
    data = mujoco.MjData(model)
    ctrl = np.ascontiguousarray(actions[:, : model.nu], dtype=np.float64)

    def run() -> None:
        step = mujoco.mj_step
        for a in ctrl:
            data.ctrl[:] = a
            step(model, data)

    return run


def env_loop(env: gym.Env, actions: np.ndarray, seed: int) -> Callable[[], None]:
    """``env.step`` over the actions, resetting when an episode ends."""
    env.reset(seed=seed)

    def run() -> None:
        step = env.step
        for a in actions:
            _, _, terminated, truncated, _ = step(a)
            if terminated or truncated:
                env.reset()

    return run


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", action="append", dest="env_ids", help="env id (repeatable; default: one per body)")
    parser.add_argument("--steps", type=int, default=None, help="steps per timed round (default 20000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds per figure; the best is reported")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pixels", action="store_true", help="also time 64 x 64 pixel observations")
    parser.add_argument("--quick", action="store_true", help="small run: 2000 steps, 1 round")
    parser.add_argument(
        "--clock", choices=sorted(CLOCKS), default="cpu", help="time rounds by this process's CPU time or the wall"
    )
    args = parser.parse_args(argv)
    steps = args.steps or (2000 if args.quick else 20_000)
    repeats = 1 if args.quick else args.repeats
    clock = CLOCKS[args.clock]

    console = Console()
    console.print(
        f"frame_skip=1, state observations, uniform random motor commands; best of {repeats} round(s), "
        f"{args.clock} time"
    )
    table = Table(title="steps per second, one MuJoCo step per env step")
    for column in ("env", "raw mj_step", "env.step", "env/raw", "gym.make", "make/raw"):
        table.add_column(column, justify="left" if column == "env" else "right")
    for env_id in args.env_ids or ENV_IDS:
        env = gym.make(env_id, frame_skip=1)
        actions = random_actions(env, steps, args.seed)
        loops = {
            "raw": raw_loop(env, actions),
            "bare": env_loop(env.unwrapped, actions, args.seed),
            "made": env_loop(env, actions, args.seed),
        }
        rates = best_rates(loops, steps, repeats, clock)
        raw, bare, made = rates["raw"], rates["bare"], rates["made"]
        name = env_id.removeprefix("repgym/")
        table.add_row(name, f"{raw:,.0f}", f"{bare:,.0f}", f"{bare / raw:.2f}x", f"{made:,.0f}", f"{made / raw:.2f}x")
        env.close()
        if args.pixels:
            env = gym.make(env_id, frame_skip=1, obs_mode="pixels")
            n = min(steps, 1000)
            pixels = best_rates({"pixels": env_loop(env.unwrapped, actions[:n], args.seed)}, n, repeats, clock)
            pixels = pixels["pixels"]
            table.add_row("  + 64x64 pixels", "", f"{pixels:,.0f}", f"{pixels / raw:.3f}x", "", "")
            env.close()
    console.print(table)


if __name__ == "__main__":
    main()
