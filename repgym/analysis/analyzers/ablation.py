"""Causal impact of units: each unit of the weighted layers ablated alone and cumulatively (output and action
change on fixed states), and the return with each layer's most impactful units ablated."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from repgym.analysis.ablation import return_impact, unit_ablation
from repgym.analysis.capture import has_parameters, has_representation
from repgym.analysis.registry import Context, Section, analyzer
from repgym.analysis.report import md_table, short
from repgym.analysis.tidy import Table
from repgym.runs import EvalProtocol


def figure(rows: Table) -> Figure | None:
    """Impact curves: action change and output change against the number of units ablated (most impactful
    first: solid; random order: dashed)."""
    rows = rows.filter(analyzer="ablation_curve")
    layers = rows.unique("layer")
    if not layers:
        return None
    fig = Figure(figsize=(11, 4))
    colours = [f"C{i % 10}" for i in range(len(layers))]
    for k, metric in enumerate(("action_change", "output_change")):
        ax = fig.add_subplot(1, 2, k + 1)
        for layer, colour in zip(layers, colours, strict=True):
            for order, style in (("impact", "-"), ("random", "--")):
                sel = rows.filter(layer=layer, metric=metric, params_order=order)
                if not sel.rows:
                    continue
                units = sel.rows[0].params["units"]
                x = [r.params["k"] / units for r in sel]
                ax.plot(x, sel.values(), style, color=colour, label=short(layer, 30) if order == "impact" else None)
        ax.set_xlabel("fraction of the layer's units ablated", fontsize=8)
        ax.set_ylabel(metric.replace("_", " "), fontsize=8)
        ax.tick_params(labelsize=7)
    fig.axes[0].legend(fontsize=6, loc="lower right")
    fig.suptitle("ablation impact curves (solid: most impactful first; dashed: random order)", fontsize=9)
    fig.tight_layout()
    return fig


def report(rows: Table, layers: list[str]) -> Section:
    md = ["## Causal impact (ablation)", ""]
    figures = {}
    if (drawn := figure(rows)) is not None:
        figures["ablation.png"] = drawn
        md += ["![ablation](ablation.png)", ""]
    body = []
    for layer in layers:
        sel = rows.filter(analyzer="ablation", layer=layer, metric="output_change")
        if not sel.rows:
            continue
        values = sel.values()
        top = sel.rows[int(np.argmax(values))]
        acts = rows.filter(analyzer="ablation", layer=layer, metric="action_change").values()
        body.append([layer, values.mean(), top.unit, values.max(), acts.max(), float(np.mean(values < 1e-9))])
    if body:
        header = ["layer", "mean output change", "top unit", "its output change", "max action change",
                  "units with no effect"]  # fmt: skip
        md += [md_table(header, body), ""]
    ret = rows.filter(analyzer="ablation_return")
    if ret.rows:
        ks = sorted({r.params["k"] for r in ret})
        header = ["layer", *[f"return, top-{k} ablated" if k else "return, intact" for k in ks]]
        body = []
        for layer in ret.unique("layer"):
            by_k = {r.params["k"]: r for r in ret.filter(layer=layer)}
            body.append(
                [layer, *[f"{by_k[k].value:.1f} ± {by_k[k].params['std']:.1f}" if k in by_k else None for k in ks]]
            )
        md += [f"Returns over {ret.rows[0].n} episodes:", "", md_table(header, body), ""]
    return Section("\n".join(md), figures)


@analyzer(
    "ablation",
    order=84,
    needs=("activations", "agent"),
    produces=("ablation", "ablation_curve", "ablation_return"),
    report=report,
    description="ablation",
)
def ablation(ctx: Context) -> Table:
    s = ctx.settings
    # parameter-free layers (activations) are left out: zeroing a ReLU/tanh unit is zeroing its input unit
    weighted = [k for k in ctx.main_layers if has_parameters(ctx.capture.modules[k])]
    table, impacts = unit_ablation(
        ctx.capture,
        ctx.act,
        ctx.keys[: s.ablation_states],
        layers=weighted,
        output=ctx.output,
        mode=s.ablation_mode,
        seed=s.seed,
        progress=ctx.progress,
        run=ctx.run if has_representation(ctx.agent) else None,  # else act's own call drives the output module
    )
    if s.episodes > 0:
        protocol = EvalProtocol(s.episodes, max_steps=s.max_episode_steps)
        table.extend(return_impact(ctx.agent, ctx.env, ctx.capture, impacts, s.return_ks, protocol, s.ablation_mode,
                                   progress=ctx.progress))  # fmt: skip
    return table
