"""Unit generality: in what fraction of the states each unit is active, and which units are dead or dormant."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from repgym.analysis.generality import generality as unit_generality
from repgym.analysis.registry import Context, Section, analyzer
from repgym.analysis.report import layer_rows, md_table, short
from repgym.analysis.tidy import Table


def figure(rows: Table) -> Figure | None:
    """Per-layer histograms of the units' active fraction."""
    rows = rows.filter(metric="active_fraction")
    layers = rows.unique("layer")
    if not layers:
        return None
    cols = min(4, len(layers))
    nrows = math.ceil(len(layers) / cols)
    fig = Figure(figsize=(3.2 * cols, 2.4 * nrows))
    for k, layer in enumerate(layers):
        ax = fig.add_subplot(nrows, cols, k + 1)
        ax.hist(rows.filter(layer=layer).values(), bins=np.linspace(0, 1, 21), color="tab:blue")
        ax.set_title(short(layer, 34), fontsize=7)
        ax.set_xlabel("fraction of states active", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


def report(rows: Table, layers: list[str]) -> Section:
    md = ["## Unit generality", ""]
    figures = {}
    if (drawn := figure(rows)) is not None:
        figures["generality.png"] = drawn
        md += ["![generality](generality.png)", ""]
    metrics = ("mean_active_fraction", "general_fraction", "dead_fraction", "dormant_fraction")
    body = layer_rows(rows, "generality", metrics, layers)
    md += [md_table(["layer", "mean active", "general (≥90%)", "dead", "dormant (τ=0.025)"], body), ""]
    return Section("\n".join(md), figures)


@analyzer("generality", order=20, report=report, description="unit generality")
def generality(ctx: Context) -> Table:
    return unit_generality(ctx.acts)
