"""Filter composition: which lower-layer units each higher-layer unit is built from (gradient x activation
contributions), how many (composition degree), how consistently across inputs, and which lower units compose
something on the most inputs."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from repgym.analysis.composition import composition as composition_table
from repgym.analysis.forward_path import trace_forward_path
from repgym.analysis.registry import Context, Section, analyzer
from repgym.analysis.report import md_table, short
from repgym.analysis.tidy import Table

STATES = 256  # inputs over which contributions are measured


def _pairs(rows: Table) -> list[tuple[str, str]]:
    """``(lower, higher)`` layer pairs in the order their rows were written."""
    sel = rows.filter(metric="mean_composition_degree")
    return [(r.params["source_layer"], r.layer) for r in sel]


def figure(rows: Table) -> Figure | None:
    """Per layer pair: histogram of the higher units' composition degree, and the lower units' coverage sorted."""
    pairs = _pairs(rows)
    if not pairs:
        return None
    fig = Figure(figsize=(8, 2.6 * len(pairs)))
    for k, (lower, higher) in enumerate(pairs):
        degree = rows.filter(layer=higher, metric="composition_degree", params_source_layer=lower).values()
        coverage = rows.filter(layer=lower, metric="coverage", params_target_layer=higher).values()
        ax = fig.add_subplot(len(pairs), 2, 2 * k + 1)
        ax.hist(degree[np.isfinite(degree)], bins=30, color="tab:blue")
        ax.set_title(f"{short(lower, 20)} → {short(higher, 20)}", fontsize=7)
        share = rows.filter(layer=higher, metric="mean_composition_degree", params_source_layer=lower)
        q = next((r.params.get("q") for r in share), None)
        carried = f"{q:.0%}" if q is not None else "most"
        ax.set_xlabel(f"composition degree (lower units carrying {carried} of a unit's input)", fontsize=7)
        ax = fig.add_subplot(len(pairs), 2, 2 * k + 2)
        ax.plot(np.sort(coverage)[::-1], color="tab:orange")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel(f"units of {short(lower, 20)}, most used first", fontsize=7)
        ax.set_ylabel("coverage (fraction of inputs)", fontsize=7)
        for axis in fig.axes[-2:]:
            axis.tick_params(labelsize=6)
    fig.tight_layout()
    return fig


def report(rows: Table, layers: list[str]) -> Section | None:
    pairs = _pairs(rows)
    if not pairs:
        return None
    md = ["## Filter composition (which lower units make up each unit)", ""]
    figures = {}
    if (drawn := figure(rows)) is not None:
        figures["composition.png"] = drawn
        md += ["![composition](composition.png)", ""]
    body = []
    for lower, higher in pairs:

        def one(layer: str, metric: str, **where) -> float | None:
            sel = rows.filter(layer=layer, metric=metric, unit=None, **where)
            return sel.rows[0].value if sel.rows else None

        degree = rows.filter(layer=higher, metric="composition_degree", params_source_layer=lower).values()
        widest = rows.filter(layer=lower, metric="widest_unit_coverage", params_target_layer=higher).rows
        q = rows.filter(layer=higher, metric="mean_composition_degree", params_source_layer=lower).rows[0]
        body.append([
            f"{lower} → {higher}",
            q.params["source_units"],
            one(higher, "mean_composition_degree", params_source_layer=lower),
            f"{np.nanmin(degree):.0f}–{np.nanmax(degree):.0f}" if np.isfinite(degree).any() else None,
            one(higher, "mean_effective_sources", params_source_layer=lower),
            one(higher, "mean_consistency", params_source_layer=lower),
            one(lower, "mean_coverage", params_target_layer=higher),
            one(lower, "full_coverage_fraction", params_target_layer=higher),
            f"{widest[0].params['widest_unit']} ({widest[0].value:.2f})" if widest else None,
        ])  # fmt: skip
    header = ["lower → higher", "lower units", "mean degree", "degree range", "effective sources", "consistency",
              "mean coverage", "used on every input", "widest lower unit (coverage)"]  # fmt: skip
    q_value = rows.rows[0].params.get("q")
    md += [md_table(header, body), "",
           f"Degree: the fewest lower units carrying {q_value:.0%} of a unit's |gradient x activation| on an input "
           "(mean over inputs); consistency: Jaccard of each input's set with the overall set; coverage: fraction "
           "of inputs on which a lower unit composes at least one higher unit.", ""]  # fmt: skip
    return Section("\n".join(md), figures)


@analyzer(
    "composition",
    order=87,
    needs=("activations", "agent"),
    report=report,
    description="filter composition (gradient x activation)",
)
def composition(ctx: Context) -> Table:
    path = trace_forward_path(ctx.capture.calls, end=ctx.output)
    if path is None or len(path.names) < 2:
        ctx.notes["composition"] = "no verified forward path of two or more modules"
        return Table()
    rng = np.random.default_rng(ctx.settings.seed)
    index = np.sort(rng.choice(len(ctx.keys), min(STATES, len(ctx.keys)), replace=False))
    return composition_table(path, path.inputs(ctx.run, ctx.keys[index]), ctx.capture.unit_axes)
