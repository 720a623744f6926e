"""Nested manifolds: whether the latents of a sub-class of states (key held, one colour left, hand above the
shoulder: a predicate over the ground truth) form a lower-dimensional submanifold inside those of all states."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from repgym.analysis.nested import default_subclass, nested_manifolds, parse_subclass
from repgym.analysis.registry import Context, Section, analyzer
from repgym.analysis.report import md_table, short
from repgym.analysis.tidy import Table


def figure(rows: Table) -> Figure | None:
    """Per layer: TwoNN and local-PCA dimension of the class and of the sub-class."""
    layers = rows.filter(metric="twonn_class").unique("layer")
    if not layers:
        return None
    fig = Figure(figsize=(max(6.0, 1.1 * len(layers) + 3), 3.4))
    for k, (kind, title) in enumerate((("twonn", "TwoNN intrinsic dimension"), ("local_pca", "local PCA dimension"))):
        ax = fig.add_subplot(1, 2, k + 1)
        xs = np.arange(len(layers))
        for offset, part, colour in ((-0.2, "class", "tab:blue"), (0.2, "subclass", "tab:orange")):
            values = [rows.filter(layer=layer, metric=f"{kind}_{part}").rows for layer in layers]
            ax.bar(xs + offset, [v[0].value if v else np.nan for v in values], 0.4, color=colour,
                   label="all states" if part == "class" else "sub-class")  # fmt: skip
        ax.set_xticks(xs, [short(layer, 18) for layer in layers], fontsize=6, rotation=30)
        ax.set_title(title, fontsize=8)
        ax.tick_params(labelsize=6)
        ax.legend(fontsize=6)
    fig.suptitle(f"sub-class: {rows.rows[0].params.get('subclass')}", fontsize=9)
    fig.tight_layout()
    return fig


def report(rows: Table, layers: list[str]) -> Section | None:
    if not rows.rows:
        return None
    first = rows.rows[0].params
    md = [f"## Nested manifolds (sub-class `{first.get('subclass')}` inside all states)", ""]
    figures = {}
    if (drawn := figure(rows)) is not None:
        figures["nested.png"] = drawn
        md += ["![nested manifolds](nested.png)", ""]
    body = []
    for layer in rows.unique("layer"):
        got = {r.metric: r for r in rows.filter(layer=layer)}
        if "twonn_class" not in got:
            body.append([layer, *[None] * 9, got["twonn_subclass"].params.get("error")])
            continue

        def with_chance(metric: str, got=got) -> str:
            r = got[metric]
            return f"{r.value:.2f} ({r.params['chance']:.2f})" if np.isfinite(r.value) else "–"

        body.append([layer, got["twonn_class"].value, got["twonn_subclass"].value, got["local_pca_class"].value,
                     got["local_pca_subclass"].value, with_chance("tangent_containment"),
                     with_chance("subclass_neighbours"), with_chance("neighbourhood_preservation"),
                     got["twonn_subclass"].n, got["twonn_class"].n, ""])  # fmt: skip
    header = ["layer", "TwoNN all", "TwoNN sub", "local PCA all", "local PCA sub", "containment (chance)",
              "sub neighbours (chance)", "preservation (chance)", "n sub", "n all", "note"]  # fmt: skip
    md += [md_table(header, body), ""]
    md += [f"Distinct states: {first.get('distinct_states')} of {first.get('states')}; k = {first.get('k')} "
           f"neighbours, local PCA to {first.get('variance'):.0%} of the variance. A submanifold shows as a lower "
           "dimension for the sub-class with containment near 1.", ""]  # fmt: skip
    return Section("\n".join(md), figures)


@analyzer(
    "nested",
    order=89,
    needs=("activations", "ground_truth"),
    report=report,
    description="nested manifolds (sub-class inside class)",
)
def nested(ctx: Context) -> Table:
    states = ctx.states
    text = ctx.settings.nested_subclass
    subclass = parse_subclass(text) if text else default_subclass(states.factors, ctx.env)
    if subclass is None:
        ctx.notes["nested"] = "no sub-class: the env family has no default and none was given"
        ctx.console.print("[yellow]nested skipped:[/yellow] no default sub-class for this env")
        return Table()
    acts = {k: ctx.acts[k] for k in ctx.main_layers}
    return nested_manifolds(acts, states.factors, states.obs, subclass, seed=ctx.settings.seed)
