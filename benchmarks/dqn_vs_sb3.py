"""Training speed and returns: repgym's ``qr-dqn`` against sb3-contrib's ``QRDQN`` on CartPole-v1, in one run.

Both sides get RL Zoo's tuned CartPole-v1 settings and the same algorithm: MLP 4-256-256-(2 x 10 quantiles), batch
64, 128 gradient steps every 256 env steps, target copied every 10 env steps, Adam (lr 2.3e-3, epsilon 0.01/32 on
both), gradient norm clipped at 10, epsilon 1 -> 0.04 over 8k steps, no double DQN (sb3-contrib's QR-DQN has none),
one env, ``torch.set_num_threads(1)``. For each seed the two train back to back (order alternating), so both see the
same machine load; steps/s is env steps over the wall time of ``learn`` (and over the process's CPU time, steadier
on a shared machine); the ratios are repgym / sb3, the mean row's ratio is of the mean rates. After training, each
plays ``--episodes`` greedy episodes (seeds 10_000+)::

    nice python benchmarks/dqn_vs_sb3.py                       # 3 seeds x 50k steps
    python benchmarks/dqn_vs_sb3.py --steps 5000 --seeds 0     # a quick look
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from repgym.agents import make_agent
from repgym.runs import EvalProtocol, play

ENV_ID = "CartPole-v1"
ADAM_EPS = 0.01 / 32
SHARED = dict(learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1_000, gamma=0.99,
              target_update_interval=10, train_freq=256, gradient_steps=128, exploration_final_eps=0.04)  # fmt: skip


def make_repgym(seed: int, steps: int):
    return make_agent("qr-dqn", ENV_ID, seed=seed, **SHARED, exploration_steps=int(0.16 * steps), n_quantiles=10,
                      net_arch=(256, 256), double_dqn=False, adam_eps=ADAM_EPS, max_grad_norm=10.0)  # fmt: skip


def make_sb3(seed: int, steps: int):
    policy_kwargs = dict(net_arch=[256, 256], n_quantiles=10, optimizer_kwargs=dict(eps=ADAM_EPS))
    return make_agent("sb3-qrdqn", ENV_ID, seed=seed, **SHARED, exploration_fraction=0.16, max_grad_norm=10.0,
                      policy_kwargs=policy_kwargs)  # fmt: skip


def timed(make, seed: int, steps: int, episodes: int) -> tuple[float, float, float]:
    """(steps/s of learn on the wall clock, steps/s of this process's CPU time, mean greedy return afterwards).

    CPU time is what the process itself used, so it moves less than wall time when other work shares the
    machine; both are reported."""
    agent = make(seed, steps)
    start, cpu = time.perf_counter(), time.process_time()
    agent.learn(steps)
    wall_rate = steps / (time.perf_counter() - start)
    cpu_rate = steps / (time.process_time() - cpu)
    return wall_rate, cpu_rate, play(agent, gym.make(ENV_ID), EvalProtocol(episodes)).mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--episodes", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    console = Console()
    rows = []
    for i, seed in enumerate(args.seeds):
        sides = [("sb3", make_sb3), ("repgym", make_repgym)]
        results = {}
        for label, make in sides if i % 2 == 0 else sides[::-1]:
            results[label] = timed(make, seed, args.steps, args.episodes)
        rows.append((seed, *results["repgym"], *results["sb3"]))
        r, b = results["repgym"], results["sb3"]
        console.print(f"seed {seed}: repgym {r[0]:.0f} steps/s (CPU {r[1]:.0f}), return {r[2]:.1f}; "
                      f"sb3-contrib {b[0]:.0f} steps/s (CPU {b[1]:.0f}), return {b[2]:.1f}")  # fmt: skip
    title = f"QR-DQN on {ENV_ID}, {args.steps} steps, 1 thread, greedy return over {args.episodes} episodes"
    table = Table(title=title)
    for col in ("seed", "repgym steps/s", "sb3-contrib steps/s", "ratio", "ratio (CPU time)", "repgym return",
                "sb3-contrib return"):  # fmt: skip
        table.add_column(col)
    arr = np.array([row[1:] for row in rows])  # wall, cpu, return for repgym, then for sb3
    for (seed, *_), (r_wall, r_cpu, r_ret, s_wall, s_cpu, s_ret) in zip(rows, arr, strict=True):
        table.add_row(str(seed), f"{r_wall:.0f}", f"{s_wall:.0f}", f"{r_wall / s_wall:.2f}x", f"{r_cpu / s_cpu:.2f}x",
                      f"{r_ret:.1f}", f"{s_ret:.1f}")  # fmt: skip
    m = arr.mean(axis=0)
    table.add_row("mean", f"{m[0]:.0f}", f"{m[3]:.0f}", f"{m[0] / m[3]:.2f}x", f"{m[1] / m[4]:.2f}x", f"{m[2]:.1f}",
                  f"{m[5]:.1f}")  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
