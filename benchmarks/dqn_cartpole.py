"""Learning check: ``qr-dqn`` and ``c51-dqn`` on CartPole-v1 within 50k env steps, over several seeds.

Settings follow RL Zoo's tuned sb3-contrib QR-DQN for CartPole-v1 (lr 2.3e-3, batch 64, 128 gradient steps every
256 env steps, target copied every 10 env steps, epsilon 1 -> 0.04 over the first 8k steps, two hidden layers of
256, 10 quantiles); C51 uses the same with 51 atoms on [0, 100] (returns with gamma 0.99 stay below 100). Every
``--eval-every`` steps the greedy agent plays 10 episodes; at the end it plays ``--final-episodes`` (seeds 10_000+).
A seed passes when the final mean return is >= 475::

    nice python benchmarks/dqn_cartpole.py                     # 3 seeds x 2 heads x 50k steps
    python benchmarks/dqn_cartpole.py --heads qr --seeds 0 --steps 20000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from repgym.agents import make_agent
from repgym.agents.callbacks import EvalCallback
from repgym.runs import EvalProtocol, play

ENV_ID = "CartPole-v1"
THRESHOLD = 475.0
COMMON = dict(
    learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1_000, gamma=0.99,
    target_update_interval=10, train_freq=256, gradient_steps=128, exploration_steps=8_000,
    exploration_final_eps=0.04, net_arch=(256, 256),
)  # fmt: skip
HEAD_SETTINGS = {
    "qr": dict(n_quantiles=10),
    "c51": dict(n_atoms=51, v_min=0.0, v_max=100.0),
    "expectile": dict(n_expectiles=11),
    "mean": {},
}


def run(head: str, seed: int, steps: int, eval_every: int, final_episodes: int) -> dict:
    """Train one agent and return its evaluation curve and final score."""
    name = {"qr": "qr-dqn", "c51": "c51-dqn", "expectile": "expectile-dqn", "mean": "dqn"}[head]
    agent = make_agent(name, ENV_ID, seed=seed, **COMMON, **HEAD_SETTINGS[head])
    evaluator = EvalCallback(gym.make(ENV_ID), eval_freq=eval_every, n_eval_episodes=10)
    start = time.perf_counter()
    agent.learn(steps, callback=evaluator)
    wall = time.perf_counter() - start
    final = play(agent, gym.make(ENV_ID), EvalProtocol(final_episodes))
    first = next((s for s, mean, _ in evaluator.evaluations if mean >= THRESHOLD), None)
    return {
        "agent": name, "seed": seed, "steps": agent.num_timesteps, "wall_s": wall, "steps_per_s": steps / wall,
        "final_mean": final.mean, "final_std": final.std, "first_step_at_threshold": first,
        "curve": [(s, m) for s, m, _ in evaluator.evaluations], "passed": final.mean >= THRESHOLD,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--heads", nargs="+", default=["qr", "c51"], choices=sorted(HEAD_SETTINGS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=50_000)
    parser.add_argument("--eval-every", type=int, default=5_000)
    parser.add_argument("--final-episodes", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1: stable on shared machines)")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    console = Console()
    results = []
    for head in args.heads:
        for seed in args.seeds:
            r = run(head, seed, args.steps, args.eval_every, args.final_episodes)
            results.append(r)
            curve = " ".join(f"{m:.0f}" for _, m in r["curve"])
            console.print(f"{r['agent']} seed {seed}: final {r['final_mean']:.1f} ± {r['final_std']:.1f}, "
                          f"{r['steps_per_s']:.0f} steps/s, eval curve [{curve}]")  # fmt: skip
    table = Table(title=f"CartPole-v1, {args.steps} steps, final mean return over {args.final_episodes} episodes")
    for col in ("agent", "seed", "final mean ± std", "first eval >= 475 at", "steps/s", "pass"):
        table.add_column(col)
    for r in results:
        first = "-" if r["first_step_at_threshold"] is None else str(r["first_step_at_threshold"])
        table.add_row(r["agent"], str(r["seed"]), f"{r['final_mean']:.1f} ± {r['final_std']:.1f}", first,
                      f"{r['steps_per_s']:.0f}", "yes" if r["passed"] else "no")  # fmt: skip
    console.print(table)
    for head in args.heads:
        passed = [r for r in results if r["agent"].startswith(head) or (head == "mean" and r["agent"] == "dqn")]
        n_pass = sum(r["passed"] for r in passed)
        console.print(f"{passed[0]['agent']}: {n_pass}/{len(passed)} seeds reach >= {THRESHOLD:.0f} "
                      f"(mean of finals {np.mean([r['final_mean'] for r in passed]):.1f})")  # fmt: skip
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
