"""Learning curves of training runs as one figure, with the random and expert references of the env beside them.

Each run is a ``repgym train --out DIR`` folder. Its curve is the greedy return of every intermediate checkpoint
(``DIR/checkpoints/step_N``, written with ``--checkpoint-every``) and of the final one, each played with the default
evaluation protocol (episode i from reset seed 1,000,000 + i); and, where the agent logs one, the mean return of its
training episodes (``DIR/logs/metrics.csv``: exploration included, so it sits below the greedy curve). ``DIR=zoo:NAME``
takes the horizontal references (random, expert) and the title's budget and CPU time from that zoo entry::

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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from repgym.agents.evaluate import evaluate_checkpoint
from repgym.agents.zoo import ZooEntry, zoo_entry
from repgym.runs import ZOO_PREFIX, Checkpoint, EnvSpec, EvalProtocol
from repgym.runs.env_spec import canonical_kwargs

STEP_DIR = re.compile(r"step_(\d+)$")


@dataclass
class Curve:
    """One run: greedy evaluations of its checkpoints and its training-episode returns, with the references."""

    label: str
    greedy: list[tuple[int, float, float]]  # (env step, mean, std) per checkpoint
    training: list[tuple[int, float]]  # (env step, training episode return)
    zoo: ZooEntry | None


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


def measure(spec: str, episodes: int) -> Curve:
    """The curve of one ``DIR`` or ``DIR=zoo:NAME`` argument."""
    folder, _, ref = spec.partition("=")
    run = Path(folder)
    if not run.is_dir():
        raise SystemExit(f"learning_curves.py: {run} is not a run folder (repgym train --out DIR)")
    zoo = zoo_entry(ref.removeprefix(ZOO_PREFIX)) if ref else None
    protocol = EvalProtocol(episodes)
    greedy = []
    for step, path in checkpoints_of(run):
        _, env, result = evaluate_checkpoint(Checkpoint.read(path), protocol)
        env.close()
        greedy.append((step, result.mean, result.std))
        print(f"{run}: step {step:,}: {result.mean:.2f} ± {result.std:.2f} over {episodes} episodes", flush=True)
    label = zoo.name if zoo is not None else run.name
    return Curve(label, greedy, training_returns(run), zoo)


def smooth(points: list[tuple[int, float]], window: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Running mean over ``window`` training episodes (the raw returns are too noisy to read)."""
    steps = np.array([p[0] for p in points], float)
    values = np.array([p[1] for p in points], float)
    if len(values) < window:
        return steps, values
    kernel = np.ones(window) / window
    return steps[window - 1 :], np.convolve(values, kernel, mode="valid")


def draw(curves: Sequence[Curve], title: str, out: Path) -> None:
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
        name = curve.label
        if curve.zoo is not None:
            z = curve.zoo
            ax.axhline(z.random.mean, ls="--", color="grey", lw=1, label=f"random {z.random.mean:.2f}")
            if z.expert is not None:
                ax.axhline(z.expert.mean, ls="--", color="tab:green", lw=1, label=f"expert {z.expert.mean:.2f}")
            env = EnvSpec(z.env.id.removeprefix("repgym/"), canonical_kwargs(z.env.id, z.env.kwargs))
            name = f"zoo:{z.name} ({z.agent}) on {env}\n{z.train_steps:,} steps, {z.cpu_seconds / 60:.1f} CPU-min"
        ax.set_title(name, fontsize=8)
        ax.set_xlim(left=0)
        ax.set_xlabel("env steps", fontsize=8)
        ax.set_ylabel("episode return", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=6, loc="lower right")
    for ax in list(axes.flat)[len(curves) :]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
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
    args = parser.parse_args(argv)
    draw([measure(spec, args.episodes) for spec in args.runs], args.title, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
