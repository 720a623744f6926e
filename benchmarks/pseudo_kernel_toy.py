"""Pseudo-kernel prediction of shared representations on the multitask toy (Pyle, Musslick, Cohen & Patel 2023).

For each curriculum (single-task then multitask, or concurrent) and initial weight scale (1x, 10x) and seed, the
hidden layer after training is predicted from the initial network and the curriculum alone (the loss-gradient
weighted tangent kernel, :mod:`repgym.analysis.pseudo_kernel`), the network is trained, and predicted and
actual sharing are compared. Prints mean ± std over seeds and writes the tidy table.

    python benchmarks/pseudo_kernel_toy.py                       # 5 seeds, about 5 minutes on 2 cores
    python benchmarks/pseudo_kernel_toy.py --seeds 2 --steps 1000  # quick look
    python benchmarks/pseudo_kernel_toy.py --seeds 3 --horizons 100,300,1000,3000 --scales 1  # where it breaks

``--horizons`` trains each condition for each number of steps and prints how the prediction tracks the learned
change as training goes on: the prediction is first order (the network linearised at initialisation), so it is
exact while training stays in the kernel regime and fails once the hidden layer learns features. Input sharing
groups tasks by the stimulus dimension they read, output sharing by the output dimension they write.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table as RichTable

from repgym.analysis.pseudo_kernel import CURRICULA, pseudo_kernel_experiment

SHOWN = (
    "learned_similarity_correlation",
    "learned_sharing_predicted",
    "learned_sharing_actual",
    "hidden_similarity_correlation",
    "hidden_ari_predicted_actual",
    "hidden_sharing_predicted",
    "hidden_sharing_actual",
    "learned_output_sharing_predicted",
    "learned_output_sharing_actual",
    "hidden_change_predicted",
    "hidden_change_actual",
    "single_accuracy",
    "multitask_accuracy",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5, help="seeds per condition (default: 5)")
    parser.add_argument("--steps", type=int, default=3000, help="gradient steps in total (default: 3000)")
    parser.add_argument("--lr", type=float, default=0.1, help="learning rate (default: 0.1)")
    parser.add_argument("--hidden", type=int, default=100, help="hidden units (default: 100)")
    parser.add_argument("--scales", default="1,10", help="initial weight scales, comma-separated (default: 1,10)")
    parser.add_argument(
        "--horizons", default=None, help="comma-separated step counts: also track the prediction over training"
    )
    parser.add_argument("--out", default="pseudo_kernel_toy", help="folder for table.csv / table.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    scales = [float(s) for s in args.scales.split(",")]
    console = Console(width=180)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        table = pseudo_kernel_experiment(
            seeds=range(args.seeds),
            init_scales=scales,
            progress=progress,
            steps=args.steps,
            lr=args.lr,
            hidden=args.hidden,
        )
    if args.horizons:
        _print_horizons(console, [int(h) for h in args.horizons.split(",")], scales, args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "table.csv")
    table.to_json(out / "table.json")
    view = RichTable(title=f"predicted vs actual sharing, mean ± std over {args.seeds} seeds")
    view.add_column("metric")
    conditions = [(c, s) for c in CURRICULA for s in scales]
    for curriculum, scale in conditions:
        view.add_column(f"{curriculum}\ninit x{scale:g}", justify="right")
    for metric in SHOWN:
        cells = []
        for curriculum, scale in conditions:
            values = table.filter(metric=metric, params_curriculum=curriculum, params_init_scale=scale).values()
            cells.append(f"{np.nanmean(values):+.3f} ± {np.nanstd(values):.3f}" if values.size else "–")
        view.add_row(metric, *cells)
    console.print(view)
    console.print(f"table: {out / 'table.csv'}")


HORIZON_SHOWN = (
    "learned_similarity_correlation",
    "learned_sharing_predicted",
    "learned_sharing_actual",
    "learned_output_sharing_predicted",
    "learned_output_sharing_actual",
    "single_accuracy",
)


def _print_horizons(console: Console, horizons: list[int], scales: list[float], args: argparse.Namespace) -> None:
    """Predicted vs actual learned change after each number of training steps (each a fresh run per seed)."""
    view = RichTable(title=f"prediction over training, mean ± std over {args.seeds} seeds")
    for name in ("curriculum", "init", "steps", *HORIZON_SHOWN):
        view.add_column(name.replace("learned_", ""), justify="right")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("horizons", total=len(CURRICULA) * len(scales) * len(horizons))
        for curriculum in CURRICULA:
            for scale in scales:
                for steps in horizons:
                    table = pseudo_kernel_experiment(
                        seeds=range(args.seeds),
                        init_scales=(scale,),
                        curricula=(curriculum,),
                        steps=steps,
                        lr=args.lr,
                        hidden=args.hidden,
                    )
                    cells = []
                    for metric in HORIZON_SHOWN:
                        values = table.filter(metric=metric).values()
                        cells.append(f"{np.nanmean(values):+.2f} ± {np.nanstd(values):.2f}")
                    view.add_row(curriculum, f"x{scale:g}", str(steps), *cells)
                    progress.advance(task)
    console.print(view)


if __name__ == "__main__":
    main()
