"""Masking and score check on Bubble Breaker: ``qr-dqn`` against the size-weighted random baseline.

The agent trains on Bubble Breaker's native vector env (16 boards) with action masks and colour-permutation
augmentation, for a fixed budget of env steps (``--steps``, default 200k board-steps) on ``--rows`` x ``--cols``
boards with ``--colours`` colours (default 8x8, 4 colours). Then the greedy agent (legal moves only) and the baseline
policies play the same ``--games`` boards (seeds 0..games-1). Reported: mean score ± standard error, the margin over
size-weighted (absolute and relative, with a Welch t statistic), game length, and the illegal clicks while learning
and playing (must be 0)::

    nice python benchmarks/dqn_bubble.py                     # 200k steps, 8x8, 4 colours, 500 games
    python benchmarks/dqn_bubble.py --steps 20000 --games 50 # a quick look
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

import repgym  # noqa: F401  (registers the ids)
from repgym.agents import make_agent
from repgym.envs.bubble.policies import policy_action
from repgym.runs import EvalProtocol, play

ENV_ID = "repgym/BubbleBreaker-v0"
SETTINGS = dict(
    n_quantiles=32, cnn_channels=(16, 32), cnn_hidden=256, gamma=0.99, n_steps=3, batch_size=64,
    buffer_size=100_000, learning_starts=5_000, train_freq=16, gradient_steps=4, target_update_interval=2_000,
    learning_rate=1e-3, exploration_final_eps=0.02, augmentation="colours",
)  # fmt: skip


def play_policy(name: str, env: gym.Env, games: int) -> np.ndarray:
    """Scores of a baseline policy on boards ``reset(seed=0..games-1)``."""
    rng = np.random.default_rng(12345)
    scores = []
    for game in range(games):
        env.reset(seed=game)
        done = False
        while not done:
            _, _, terminated, truncated, info = env.step(policy_action(name, env, rng))
            done = terminated or truncated
        scores.append(info["score"])
    return np.asarray(scores, dtype=float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=200_000, help="training budget in board-steps")
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--cols", type=int, default=8)
    parser.add_argument("--colours", type=int, default=4)
    parser.add_argument("--num-envs", type=int, default=16)
    parser.add_argument("--games", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    board = dict(rows=args.rows, cols=args.cols, colours=args.colours)
    console = Console()

    envs = gym.make_vec(ENV_ID, num_envs=args.num_envs, vectorization_mode="vector_entry_point", **board)
    agent = make_agent("qr-dqn", envs, seed=args.seed, exploration_steps=args.steps // 4, **SETTINGS)
    start = time.perf_counter()
    agent.learn(args.steps, progress_bar=True)
    wall = time.perf_counter() - start
    console.print(
        f"trained {args.steps} board-steps in {wall:.0f} s ({args.steps / wall:.0f} steps/s), "
        f"{agent.n_updates} gradient steps, illegal clicks while learning: {agent.illegal_actions}"
    )

    env = gym.make(ENV_ID, **board)
    result = play(agent, env, EvalProtocol(args.games, first_seed=0))
    rows = {"qr-dqn (greedy, masked)": (result.scores, result.lengths.mean())}
    for name in ("size-weighted", "random", "greedy", "tabu-colour"):
        rows[f"policy:{name}"] = (play_policy(name, env, args.games), float("nan"))

    table = Table(title=f"Bubble Breaker {args.rows}x{args.cols}, {args.colours} colours, {args.games} games "
                        f"(seeds 0..{args.games - 1}); agent budget {args.steps} board-steps")  # fmt: skip
    for col in ("player", "mean score ± s.e.", "vs size-weighted"):
        table.add_column(col)
    base = rows["policy:size-weighted"][0]
    for name, (scores, _) in rows.items():
        diff = scores.mean() - base.mean()
        se = np.sqrt(scores.var(ddof=1) / len(scores) + base.var(ddof=1) / len(base))
        table.add_row(name, f"{scores.mean():.1f} ± {scores.std(ddof=1) / np.sqrt(len(scores)):.1f}",
                      f"{diff:+.1f} ({100 * diff / base.mean():+.1f}%, t = {diff / max(se, 1e-9):.1f})")  # fmt: skip
    console.print(table)
    console.print(f"agent: mean game length {result.lengths.mean():.1f} moves, illegal clicks in play: "
                  f"{result.illegal_actions}")  # fmt: skip


if __name__ == "__main__":
    main()
