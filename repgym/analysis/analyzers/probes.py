"""Probes: cross-validated ridge regression (classification for categorical factors) from each layer, and from the
observation itself, to every ground-truth factor; folds split by episode."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from repgym.analysis.probes import probe_table
from repgym.analysis.registry import Context, Section, analyzer
from repgym.analysis.report import heatmap, md_table
from repgym.analysis.tidy import Table


def figure(rows: Table) -> Figure | None:
    """Heatmap of probe R² (cross-validated) per layer x factor."""
    rows = rows.filter(metric="r2")
    if not rows.rows:
        return None
    layers, factors, grid = rows.pivot("layer", "params.factor")
    fig = Figure(figsize=(max(6, 0.18 * len(factors) + 3), max(3, 0.35 * len(layers) + 1.5)))
    ax = fig.add_subplot(1, 1, 1)
    heatmap(ax, np.clip(grid, 0, 1), layers, factors, "probe R² (out-of-fold, clipped at 0)", 0.0, 1.0)
    return fig


def report(rows: Table, layers: list[str]) -> Section:
    md = ["## Probes (cross-validated ridge, folds by episode)", ""]
    figures = {}
    if (drawn := figure(rows)) is not None:
        figures["probes.png"] = drawn
        md += ["![probes](probes.png)", ""]
    body = []
    for layer in rows.unique("layer"):
        sel = rows.filter(layer=layer)
        r2 = sel.filter(metric="r2", params_kind="continuous").values()
        acc = sel.filter(metric="accuracy").values()
        chance = sel.filter(metric="chance").values()
        body.append([layer, np.mean(r2) if r2.size else None, np.mean(acc) if acc.size else None,
                     np.mean(chance) if chance.size else None, sel.rows[0].n])  # fmt: skip
    header = ["layer", "mean R² (continuous)", "mean accuracy (categorical)", "mean chance", "n"]
    md += [md_table(header, body), ""]
    best = []
    for factor in rows.filter(metric="r2").unique("params.factor")[:60]:
        sel = rows.filter(lambda r: r.layer != "observation", metric="r2", params_factor=factor)
        if sel.rows:
            top = sel.rows[int(np.nanargmax(np.nan_to_num(sel.values(), nan=-np.inf)))]
            best.append([factor, top.layer, top.value])
    if best:
        md += ["<details><summary>Best layer per factor (R²)</summary>", "", md_table(["factor", "layer", "R²"], best),
               "", "</details>", ""]  # fmt: skip
    return Section("\n".join(md), figures)


@analyzer("probes", order=50, needs=("activations", "ground_truth"), produces=("probe",), report=report)
def probes(ctx: Context) -> Table:
    s, states = ctx.settings, ctx.states
    acts = {"observation": states.obs, **ctx.acts}
    return probe_table(acts, states.factors, states.categorical, s.probe_folds, states.episode, s.seed, states.defined)
