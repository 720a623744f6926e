"""Bubble Breaker / SameGame learners against every baseline policy on the same games: the reference targets' ratio.

For each checkpoint, plays the default evaluation protocol (episode i from reset seed 1,000,000 + i) with the agent
as saved and, with ``--search``, also with that search (a look-ahead agent's beam, say), then every baseline policy
of the env (random, size-weighted, greedy, tabu-colour) on the same games, and prints one markdown row per way of
acting: mean ± std, the best baseline and the ratio to it (the reference targets compare learners with the best
baseline, or with greedy)::

    python benchmarks/bubble_reference.py runs/zoo/lookahead-Shifter/checkpoint zoo:distill-bb \\
        --search beam --search-kwargs '{"width": 16, "evaluator": "value"}'

Why a script: the reference suite (``repgym bench --suite reference``) retrains every learner from scratch at five
seeds; this measures runs that exist, one seed each, in minutes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence

from repgym.agents import Agent
from repgym.benchmark.baseline_policies import BaselineAgent, baseline_names
from repgym.runs import Checkpoint, EvalProtocol, EvalResult, play


def measure(path: str, protocol: EvalProtocol, search: str | None, search_kwargs: dict) -> list[str]:
    """Markdown rows for one checkpoint: each way it acts, then the ratio to the env's best baseline."""
    checkpoint = Checkpoint.read(path)
    env = checkpoint.make_env()
    spec = checkpoint.require_env()
    ways: list[tuple[str, Agent]] = [(checkpoint.agent, Agent.load(checkpoint, env=env))]
    if search is not None:
        searched = Agent.load(checkpoint, env=env, search=search, search_kwargs=search_kwargs, search_time=None)
        ways.append((f"{checkpoint.agent}, {search} {json.dumps(search_kwargs)}", searched))
    baselines: dict[str, EvalResult] = {}
    for name in baseline_names(env):
        if name != "expert":
            baselines[name] = play(BaselineAgent(name, env, seed=0), env, protocol)
    best_name = max((n for n in baselines if n != "random"), key=lambda n: baselines[n].mean)
    best = baselines[best_name]
    rows = []
    for label, agent in ways:
        start = time.process_time()
        result = play(agent, env, protocol)
        cpu = (time.process_time() - start) / protocol.episodes
        ratio = (result.mean - baselines["random"].mean) / max(best.mean - baselines["random"].mean, 1e-9)
        rows.append(f"| {spec} | {label} | {result.mean:,.0f} ± {result.std:,.0f} | {best_name} "
                    f"{best.mean:,.0f} | {result.mean / best.mean:.2f}x | greedy {baselines['greedy'].mean:,.0f}: "
                    f"{result.mean / baselines['greedy'].mean:.2f}x | {ratio:.2f} | {cpu:.2f} s |")  # fmt: skip
    others = ", ".join(f"{n} {r.mean:,.0f}" for n, r in baselines.items())
    rows.append(f"| {spec} | baselines | {others} | | | | | |")
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("checkpoints", nargs="+", help="checkpoint folders or zoo:NAME")
    parser.add_argument("--episodes", type=int, default=30, help="games (default: 30, the default protocol)")
    parser.add_argument("--search", default=None, help="also act with this search (look-ahead agents: beam, nmcs)")
    parser.add_argument("--search-kwargs", default="{}", help="JSON keyword arguments of the search")
    args = parser.parse_args(argv)
    try:
        search_kwargs = json.loads(args.search_kwargs)
    except json.JSONDecodeError as error:
        parser.error(f"--search-kwargs is not JSON: {error}")
    protocol = EvalProtocol(episodes=args.episodes)
    print("| env | agent | mean ± std | best baseline | ratio | ratio to greedy | (mean - random) / (best - random) "
          "| CPU per game |\n|---|---|---|---|---|---|---|---|")  # fmt: skip
    for path in args.checkpoints:
        search = args.search if Checkpoint.read(path).agent == "lookahead" else None
        for row in measure(path, protocol, search, search_kwargs):
            print(row, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
