"""Does a distributional agent learn Umbrella's return distribution, or only its mean?

At Umbrella's first step the return is exactly known: ``delay`` distractor rewards of ±1 (fair coins), then ±1 for
the choice, discounted by ``gamma``. This script enumerates that distribution for each action and each forecast,
and compares it with what a QR-DQN checkpoint predicts there (mean, standard deviation, and the 1-Wasserstein
distance between the two quantile functions), next to a freshly initialised network with the same settings::

    python benchmarks/umbrella_return_distribution.py                 # zoo:qr-umbrella-d5
    python benchmarks/umbrella_return_distribution.py --checkpoint runs/qr-umbrella/checkpoint

The untrained row is the control: what the same network says before learning anything.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from collections.abc import Sequence

import numpy as np

from repgym.agents import load_agent, make_agent
from repgym.runs import DEFAULT_FIRST_SEED, Checkpoint

LEVELS = (np.arange(4000) + 0.5) / 4000  # quantile levels at which two distributions are compared


def exact_returns(delay: int, gamma: float, outcome: int, distractor: float = 1.0) -> np.ndarray:
    """Every equally likely return from the choice on: distractors at steps 0..delay-1, the outcome at ``delay``."""
    signs = itertools.product((-distractor, distractor), repeat=delay)
    return np.sort([sum(gamma**t * s for t, s in enumerate(row)) + gamma**delay * outcome for row in signs])


def quantile_function(values: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """The distribution's quantiles at :data:`LEVELS`."""
    order = np.argsort(values)
    cdf = np.cumsum(probs[order])
    return values[order][np.searchsorted(cdf, LEVELS - 1e-12).clip(max=len(values) - 1)]


def compare(agent, obs: np.ndarray, right: int, delay: int, gamma: float, distractor: float) -> list[str]:
    """One line per action: the agent's mean and std at ``obs`` against the exact ones, and W1 between them."""
    dist = agent.return_distribution(obs)
    lines = []
    for action, name in ((0, "leave"), (1, "take")):
        exact = exact_returns(delay, gamma, 1 if action == right else -1, distractor)
        values, probs = dist.values[action], dist.probs[action]
        mean = float((values * probs).sum())
        std = float(np.sqrt((probs * (values - mean) ** 2).sum()))
        exact_q = np.quantile(exact, LEVELS, method="inverted_cdf")
        w1 = float(np.mean(np.abs(quantile_function(values, probs) - exact_q)))
        lines.append(f"{name:5s}: mean {mean:+.2f} (exact {exact.mean():+.2f})  std {std:.2f} (exact {exact.std():.2f})"
                     f"  W1 to the exact distribution {w1:.2f}")  # fmt: skip
    return lines


def first_states(env) -> dict[str, np.ndarray]:
    """The first observation under rain and under sun, from the evaluation seeds."""
    found: dict[str, np.ndarray] = {}
    for i in range(100):
        obs, info = env.reset(seed=DEFAULT_FIRST_SEED + i)
        found.setdefault("rain" if info["state"]["weather"] == 1 else "sun", obs)
        if len(found) == 2:
            return found
    raise RuntimeError("100 resets without both forecasts")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--checkpoint", default="zoo:qr-umbrella-d5", help="a distributional agent on Umbrella")
    args = parser.parse_args(argv)
    checkpoint = Checkpoint.read(args.checkpoint)
    env = checkpoint.make_env()
    game = env.unwrapped
    if type(game).__name__ != "UmbrellaEnv":
        raise SystemExit(f"{args.checkpoint}: trained on {checkpoint.env}, not on Umbrella")
    hp = {k: v for k, v in checkpoint.hyperparameters.items() if k != "head"}  # the registry sets the head
    gamma = float(checkpoint.hyperparameters.get("gamma", 0.99))
    agents = {"trained": load_agent(checkpoint, env=env), "untrained": make_agent(checkpoint.agent, env, seed=0, **hp)}
    print(f"{args.checkpoint}: {checkpoint.agent} on {checkpoint.env}, gamma {gamma}")
    for label, obs in first_states(env).items():
        right = 1 if label == "rain" else 0
        for name, agent in agents.items():
            for line in compare(agent, obs, right, game.delay, gamma, game.distractor_reward):
                print(f"{label:4s} {name:9s} {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
