"""Learning curves of training runs as one figure, with the random and expert references of the env beside them.

Each run is a ``repgym train --out DIR`` folder. Its curve is the greedy return of every intermediate checkpoint
(``DIR/checkpoints/step_N``, written with ``--checkpoint-every``) and of the final one, each played with the default
evaluation protocol (episode i from reset seed 1,000,000 + i); and, where the agent logs one, the mean return of its
training episodes (``DIR/logs/metrics.csv``: exploration included, so it sits below the greedy curve). ``DIR=zoo:NAME``
takes the horizontal references (random, expert) and the title's budget and CPU time from that zoo entry; without
one, random and the expert are measured on the same games as the checkpoints::

    python benchmarks/learning_curves.py --out docs/figures/curves-physics.png --title "Physics bodies: SAC" \\
        runs/zoo/sac-reach=zoo:sac-reach runs/zoo/sac-reach-zerog=zoo:sac-reach-zerog

Why a script and not a command: the figures are the README's, made once from runs on this machine; the leaderboard
HTML (``repgym leaderboard --format html``) draws the training curves of every benchmark job.
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from repgym.agents.evaluate import evaluate_checkpoint
from repgym.agents.zoo import zoo_entry
from repgym.benchmark.baseline_policies import reference_results
from repgym.runs import ZOO_PREFIX, Checkpoint, EnvSpec, EvalProtocol, EvalResult
from repgym.runs.env_spec import canonical_kwargs

STEP_DIR = re.compile(r"step_(\d+)$")


@dataclass
class Curve:
    """One run: greedy evaluations of its checkpoints and its training-episode returns, with the references."""

    title: str
    greedy: list[tuple[int, float, float]]  # (env step, mean, std) per checkpoint
    training: list[tuple[int, float]]  # (env step, training episode return)
    random: float | None  # mean return of the references on the same games
    expert: float | None


def checkpoints_of(run: Path) -> list[tuple[int, Path]]:
    """``(step, folder)`` of the run's intermediate checkpoints and its final one, by step."""
    found = {int(m.group(1)): p for p in (run / "checkpoints").glob("step_*") if (m := STEP_DIR.search(p.name))}
    final = run / "checkpoint"
    if (final / "agent.json").is_file():
        found[Checkpoint.read(final).num_timesteps] = final
    return sorted(found.items())


def training_returns(run: Path) -> list[tuple[int, float]]:
    """``rollout/episode_return`` rows of the run's ``metrics.csv`` (repgym's own agents write one)."""
    path = run / "logs" / "metrics.csv"
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["metric"] == "rollout/episode_return"]
    return [(int(r["step"]), float(r["value"])) for r in rows]


def measure(spec: str, episodes: int, metric: str = "return") -> Curve:
    """The curve of one ``DIR`` or ``DIR=zoo:NAME`` argument; ``metric``: mean ``return`` or ``success`` rate."""
    folder, _, ref = spec.partition("=")
    run = Path(folder)
    if not (run / "checkpoint").is_dir():
        raise SystemExit(f"learning_curves.py: {run} is not a run folder (repgym train --out DIR: DIR/checkpoint)")
    zoo = zoo_entry(ref.removeprefix(ZOO_PREFIX)) if ref else None
    protocol = EvalProtocol(episodes)
    greedy = []
    for step, path in checkpoints_of(run):
        _, env, result = evaluate_checkpoint(Checkpoint.read(path), protocol)
        env.close()
        value, spread = _value(result, metric)
        greedy.append((step, value, spread))
        print(f"{run}: step {step:,}: {metric} {value:.2f} over {episodes} episodes", flush=True)
    final = Checkpoint.read(run / "checkpoint")
    random_result, expert_result = reference_results(final.require_env(), protocol)  # the same games
    random = _value(random_result, metric)[0]
    expert = None if expert_result is None else _value(expert_result, metric)[0]
    name = zoo.ref if zoo is not None else run.name
    title = f"{name} ({final.agent}) on {_short(final.require_env())}\n{final.num_timesteps:,} steps"
    if zoo is not None:
        title += f", {zoo.cpu_seconds / 60:.1f} CPU-min"
    return Curve(title, greedy, training_returns(run) if metric == "return" else [], random, expert)


def _value(result: EvalResult, metric: str) -> tuple[float, float]:
    """(value, spread) of one evaluation: mean and std of the returns, or the success rate (no spread)."""
    if metric == "return":
        return result.mean, result.std
    if result.success_rate is None:
        raise SystemExit("learning_curves.py: --metric success needs an env that reports success")
    return result.success_rate, 0.0


def _short(spec: EnvSpec) -> EnvSpec:
    """The env as a title names it: no ``repgym/``, no arguments that equal the defaults."""
    return EnvSpec(spec.id.removeprefix("repgym/"), canonical_kwargs(spec.id, spec.kwargs))


def smooth(points: list[tuple[int, float]], window: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Running mean over ``window`` logged points (default: a 30th of them; agents that log a mean over recent
    episodes already smooth, and log few points)."""
    window = window or max(1, len(points) // 30)
    steps = np.array([p[0] for p in points], float)
    values = np.array([p[1] for p in points], float)
    if len(values) < window:
        return steps, values
    kernel = np.ones(window) / window
    return steps[window - 1 :], np.convolve(values, kernel, mode="valid")


def draw(curves: Sequence[Curve], title: str, out: Path, ylabel: str = "episode return") -> None:
    """One panel per run: greedy evaluations, smoothed training returns, random and expert lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 2 if len(curves) in (2, 4) else min(3, len(curves))
    rows = math.ceil(len(curves) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.4 * rows), squeeze=False)
    for ax, curve in zip(axes.flat, curves, strict=False):
        if curve.training:
            x, y = smooth(curve.training)
            ax.plot(x, y, color="tab:blue", alpha=0.45, lw=1, label="training episodes (exploring)")
        if curve.greedy:
            steps, means, stds = (np.array(v, float) for v in zip(*curve.greedy, strict=True))
            ax.errorbar(steps, means, yerr=stds, fmt="o-", color="tab:blue", ms=4, capsize=2, label="greedy (eval)")
        if curve.random is not None:
            ax.axhline(curve.random, ls="--", color="grey", lw=1, label=f"random {curve.random:.2f}")
        if curve.expert is not None:
            ax.axhline(curve.expert, ls="--", color="tab:green", lw=1, label=f"expert {curve.expert:.2f}")
        ax.set_title(curve.title, fontsize=8)
        ax.set_xlim(left=0)
        ax.set_xlabel("env steps", fontsize=8)
        ax.set_ylabel(ylabel, fontsize=8)
        if ylabel == "success rate":
            ax.set_ylim(-0.05, 1.05)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="best", framealpha=0.6)
    for ax in list(axes.flat)[len(curves) :]:
        ax.axis("off")
    fig.suptitle(textwrap.fill(title, width=int(40 * cols * 1.6)), fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print(f"wrote {out}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("runs", nargs="+", metavar="DIR[=zoo:NAME]", help="training run folders")
    parser.add_argument("--out", required=True, type=Path, metavar="PNG", help="figure to write")
    parser.add_argument("--title", default="learning curves", help="figure title")
    parser.add_argument("--episodes", type=int, default=10, help="greedy episodes per checkpoint (default: 10)")
    parser.add_argument("--metric", choices=("return", "success"), default="return",
                        help="mean episode return, or the success rate where the env reports one "
                             "(default: return)")  # fmt: skip
    args = parser.parse_args(argv)
    curves = [measure(spec, args.episodes, args.metric) for spec in args.runs]
    draw(curves, args.title, args.out, "episode return" if args.metric == "return" else "success rate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
