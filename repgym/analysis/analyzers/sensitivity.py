"""Sensitivity score (after MAML): the loss drop on a new task (a held-out ground-truth factor, or a random readout
of the observation, through a fresh linear head) after a few gradient steps from the current weights, per layer
alone and with all layers free."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from repgym.analysis.forward_path import trace_forward_path
from repgym.analysis.registry import Context, Section, analyzer
from repgym.analysis.report import md_table, short
from repgym.analysis.sensitivity import body_of, frozen_layers, support_split, task_targets
from repgym.analysis.sensitivity import sensitivity as sensitivity_table
from repgym.analysis.tidy import Table

STATES = 512  # states adapted on (support) and measured on (query), half the episodes each
STEPS, STEP = 5, 0.01  # gradient steps, each moving the free weights by 1% of their norm


def _label(row) -> str:
    return "all layers" if row.params.get("mode") == "all" else row.layer


def figure(rows: Table) -> Figure | None:
    """Relative loss drop per layer (and all layers together), one bar per task."""
    rows = rows.filter(metric="sensitivity")
    if not rows.rows:
        return None
    labels = list(dict.fromkeys(_label(r) for r in rows))
    tasks = rows.unique("params.task")
    fig = Figure(figsize=(max(6.0, 1.2 * len(labels) + 2), 3.6))
    ax = fig.add_subplot(1, 1, 1)
    width = 0.8 / max(1, len(tasks))
    for t, task in enumerate(tasks):
        by_label = {_label(r): r.value for r in rows.filter(params_task=task)}
        xs = np.arange(len(labels)) + (t - (len(tasks) - 1) / 2) * width
        ax.bar(xs, [by_label.get(label, np.nan) for label in labels], width, label=short(task, 34))
    ax.axhline(0.0, color="k", linewidth=0.6)
    ax.set_xticks(range(len(labels)), [short(label, 22) for label in labels], fontsize=7, rotation=20)
    ax.set_ylabel("relative loss drop (query states)", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=6)
    first = rows.rows[0].params
    title = f"sensitivity: {first.get('steps')} steps of at most {first.get('step'):.0%} of the weights' norm"
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def report(rows: Table, layers: list[str]) -> Section | None:
    scores = rows.filter(metric="sensitivity")
    if not scores.rows:
        return None
    md = ["## Sensitivity (loss drop on a new task after a few gradient steps)", ""]
    figures = {}
    if (drawn := figure(rows)) is not None:
        figures["sensitivity.png"] = drawn
        md += ["![sensitivity](sensitivity.png)", ""]
    tasks = scores.unique("params.task")
    body = []
    for label in dict.fromkeys(_label(r) for r in scores):
        sel = scores.filter(lambda r, want=label: _label(r) == want)
        mean = rows.filter(lambda r, want=label: _label(r) == want, metric="mean_sensitivity")
        before = rows.filter(lambda r, want=label: _label(r) == want, metric="loss_before").values()
        after = rows.filter(lambda r, want=label: _label(r) == want, metric="loss_after").values()
        adapted = rows.filter(lambda r, want=label: _label(r) == want, metric="support_sensitivity").values()
        by_task = {r.params["task"]: r.value for r in sel}
        support = float(np.mean(adapted)) if adapted.size else None
        body.append([label, mean.rows[0].value if mean.rows else None, support, float(before.mean()),
                     float(after.mean()), *[by_task.get(t) for t in tasks]])  # fmt: skip
    first = scores.rows[0]
    header = ["free", "mean sensitivity", "on the support states", "mean loss before", "mean loss after", *tasks]
    md += [md_table(header, body), ""]
    p = first.params
    md += [f"Body `{' → '.join(p.get('body', []))}` read by a fresh ridge head; {p.get('steps')} gradient steps "
           f"(each at most {p.get('step'):.0%} of the free weights' norm, backtracking) on half the episodes, loss "
           f"on the other half ({first.n} states); sensitivity = relative drop of the task's MSE.", ""]  # fmt: skip
    return Section("\n".join(md), figures)


@analyzer(
    "sensitivity",
    order=88,
    needs=("activations", "agent"),
    report=report,
    description="sensitivity (loss drop after k steps)",
)
def sensitivity(ctx: Context) -> Table:
    s, states = ctx.settings, ctx.states
    path = trace_forward_path(ctx.capture.calls, end=ctx.output)
    if path is None:
        ctx.notes["sensitivity"] = "no verified forward path through the latent modules"
        return Table()
    rng = np.random.default_rng(s.seed)
    index = np.sort(rng.choice(len(states), min(STATES, len(states)), replace=False))
    inputs = path.inputs(ctx.run, ctx.keys[index])
    factors = {k: v[index] for k, v in states.factors.items() if k not in states.defined}
    tasks = task_targets(factors, states.obs[index], seed=s.seed)
    body = body_of(path)
    frozen = frozen_layers(dict(zip(body.names, body.modules, strict=True)))
    try:
        return sensitivity_table(path, inputs, tasks, support_split(states.episode[index], s.seed), STEPS, STEP,
                                 frozen=frozen)  # fmt: skip
    except ValueError as err:
        ctx.console.print(f"[yellow]sensitivity skipped:[/yellow] {err}")
        return Table()
