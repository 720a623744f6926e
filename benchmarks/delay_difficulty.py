"""Does the ``delay`` knob make the delayed games harder? Tabular Q(lambda) on each game at increasing delays.

One simple learner — tabular Q-learning with lambda-returns (Peng's Q(lambda), updated at the end of each
episode), epsilon-greedy, keyed by the exact symbolic observation — trains for the same number of episodes on each
game at each delay and seed, then plays greedily; the figure is its success rate (``info["success"]``) per game
versus delay, next to the uniformly random policy. Every game keeps its default settings except ``delay``::

    nice python benchmarks/delay_difficulty.py                       # delays 0 5 20 80, 3 seeds, 2000 episodes
    nice python benchmarks/delay_difficulty.py --delays 0 2 5 10 20 40 80 --seeds 5
    python benchmarks/delay_difficulty.py --quick                    # a few seconds, for a smoke test

Prints a table (mean ± std over seeds) and writes ``delay_difficulty.png`` (``--out``).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import numpy as np
from matplotlib.figure import Figure  # no pyplot: no global state
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import repgym  # noqa: F401  (registers the ids)
from repgym.runs import EnvSpec, EvalProtocol, play

GAMES = ("KeyToDoor", "Umbrella", "LaggedControl", "HiddenSequence")


@dataclass
class QLambdaConfig:
    episodes: int = 2000  # training episodes per (game, delay, seed)
    alpha: float = 0.1  # step size toward the lambda-return
    gamma: float = 0.99  # discount per step
    lam: float = 0.9  # lambda: 0 is one-step Q-learning, 1 Monte-Carlo; traces bridge non-Markov observations
    epsilon: float = 0.1  # exploration rate while training
    eval_episodes: int = 200  # greedy episodes that measure the success rate


def train_and_evaluate(env_id: str, delay: int, seed: int, cfg: QLambdaConfig) -> float:
    """Train tabular Q(lambda) on ``env_id`` at ``delay``; return the greedy policy's success rate."""
    env = gym.make(env_id, delay=delay)
    n_actions = int(env.action_space.n)
    rng = np.random.default_rng(seed)
    q: dict[bytes, np.ndarray] = {}

    def values(key: bytes) -> np.ndarray:
        if key not in q:
            q[key] = np.zeros(n_actions)
        return q[key]

    def act(key: bytes, epsilon: float) -> int:
        if rng.random() < epsilon:
            return int(rng.integers(n_actions))
        v = values(key)
        return int(rng.choice(np.flatnonzero(v == v.max())))  # random among ties

    for episode in range(cfg.episodes):
        obs, _ = env.reset(seed=seed * 1_000_003 + episode)
        keys, actions, rewards, done = [], [], [], False
        while not done:
            keys.append(obs.tobytes())
            actions.append(act(keys[-1], cfg.epsilon))
            obs, reward, terminated, truncated, _ = env.step(actions[-1])
            rewards.append(reward)
            done = terminated or truncated
        # Lambda-returns backward from the end: G_t = r_t + gamma * ((1 - lam) * max_a Q(s_t+1, a) + lam * G_t+1),
        # bootstrapping from the last observation only when the episode was truncated.
        g = next_max = 0.0 if terminated else values(obs.tobytes()).max()
        for t in reversed(range(len(keys))):
            g = rewards[t] + cfg.gamma * ((1 - cfg.lam) * next_max + cfg.lam * g)
            v = values(keys[t])
            next_max = v.max()
            v[actions[t]] += cfg.alpha * (g - v[actions[t]])

    successes = 0
    for episode in range(cfg.eval_episodes):
        obs, _ = env.reset(seed=10**9 + seed * 100_003 + episode)
        done = False
        while not done:
            obs, _, terminated, truncated, info = env.step(act(obs.tobytes(), 0.0))
            done = terminated or truncated
        successes += bool(info["success"])
    return successes / cfg.eval_episodes


def plot(delays: list[int], learned: dict[str, np.ndarray], random: dict[str, np.ndarray], path: Path) -> None:
    """Success rate versus delay: learned (mean ± std over seeds, solid) and random (dashed), one colour a game."""
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(delays))  # evenly spaced: delays grow roughly geometrically
    for i, game in enumerate(learned):
        colour = f"C{i}"
        rates = learned[game]
        ax.errorbar(x, rates.mean(axis=1), yerr=rates.std(axis=1), color=colour, marker="o", capsize=3, label=game)
        ax.plot(x, random[game], color=colour, linestyle="--", alpha=0.6)
    ax.set_xticks(x, [str(d) for d in delays])
    ax.set_xlabel("delay (steps)")
    ax.set_ylabel("success rate (greedy, after training)")
    ax.set_ylim(-0.03, 1.03)
    ax.set_title("Tabular Q(λ) on the delayed games (dashed: random policy)")
    ax.legend(loc="upper right", fontsize=8)
    fig.savefig(path, dpi=120)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delays", type=int, nargs="+", default=[0, 5, 20, 80])
    parser.add_argument("--seeds", type=int, default=3, help="training seeds per (game, delay)")
    parser.add_argument("--episodes", type=int, default=QLambdaConfig.episodes, help="training episodes per run")
    parser.add_argument("--games", nargs="+", default=list(GAMES), choices=GAMES)
    parser.add_argument("--out", type=Path, default=Path("delay_difficulty.png"), help="figure path")
    parser.add_argument("--quick", action="store_true", help="delays 0 and 5, 1 seed, 150 episodes")
    args = parser.parse_args(argv)
    if args.quick:
        args.delays, args.seeds, args.episodes = [0, 5], 1, 150
    cfg = QLambdaConfig(episodes=args.episodes, eval_episodes=50 if args.quick else QLambdaConfig.eval_episodes)
    console = Console()
    learned = {g: np.zeros((len(args.delays), args.seeds)) for g in args.games}
    random = {g: np.zeros(len(args.delays)) for g in args.games}
    start = time.perf_counter()
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("training", total=len(args.games) * len(args.delays) * args.seeds)
        for game in args.games:
            env_id = f"repgym/{game}-v0"
            for i, delay in enumerate(args.delays):
                protocol = EvalProtocol(cfg.eval_episodes)  # random play on the run protocol's evaluation games
                random[game][i] = play(None, EnvSpec(env_id, {"delay": delay}), protocol).success_rate
                for seed in range(args.seeds):
                    progress.update(task, description=f"{game} delay={delay} seed={seed}")
                    learned[game][i, seed] = train_and_evaluate(env_id, delay, seed, cfg)
                    progress.advance(task)
    wall = time.perf_counter() - start

    table = Table(title=f"Success rate after {cfg.episodes} training episodes (mean ± std over {args.seeds} seeds; "
                  "random policy in brackets)")  # fmt: skip
    table.add_column("game", no_wrap=True)
    for delay in args.delays:
        table.add_column(f"delay {delay}", justify="right")
    for game in args.games:
        cells = [f"{m:.2f}±{s:.2f} ({r:.2f})" for m, s, r in
                 zip(learned[game].mean(axis=1), learned[game].std(axis=1), random[game], strict=True)]  # fmt: skip
        table.add_row(game, *cells)
    console.print(table)
    console.print(f"tabular Q(λ): alpha={cfg.alpha} gamma={cfg.gamma} lambda={cfg.lam} epsilon={cfg.epsilon}, "
                  f"{cfg.eval_episodes} greedy evaluation episodes; wall time {wall:.0f} s")  # fmt: skip
    plot(args.delays, learned, random, args.out)
    console.print(f"figure: {args.out}")


if __name__ == "__main__":
    main()
