"""Attribution: Captum conductance of the chosen action (or of each output dimension, for continuous actions)
through every weighted layer of the verified forward path from the observation to the output module."""

from __future__ import annotations

import numpy as np

from repgym.analysis.attribution import conductance
from repgym.analysis.capture import has_parameters
from repgym.analysis.forward_path import trace_forward_path
from repgym.analysis.registry import Context, Section, analyzer
from repgym.analysis.report import md_table
from repgym.analysis.tidy import Table


def report(rows: Table, layers: list[str]) -> Section:
    md = ["## Attribution (Captum conductance of the chosen action)", ""]
    body = []
    for layer in rows.unique("layer"):
        units = rows.filter(layer=layer, metric="abs_conductance")
        if not units.rows:
            continue
        top = units.rows[int(np.argmax(units.values()))]
        err = rows.filter(layer=layer, metric="completeness_error").values()
        target = top.params.get("target")
        features = [
            r.params["feature"]
            for r in rows.filter(layer=layer, unit=top.unit, metric="input_conductance", params_target=target)
        ]
        label = top.unit if target in ("chosen action", "value", None) else f"{top.unit} ({target})"
        body.append([layer, label, top.value, err.max() if err.size else None, ", ".join(features[:3])])
    md += [md_table(["layer", "top unit", "mean abs conductance", "completeness error", "its top inputs"], body), ""]
    return Section("\n".join(md))


@analyzer(
    "attribution",
    order=86,
    needs=("activations", "agent"),
    report=report,
    description="attribution (Captum conductance)",
)
def attribution(ctx: Context) -> Table:
    s, states, cap = ctx.settings, ctx.states, ctx.capture
    table = Table()
    path = trace_forward_path(cap.calls, end=ctx.output)
    ctx.notes["attribution"] = "no verified forward path through the latent modules"
    if path is None or len(path.names) < 2:
        return table
    few = ctx.keys[: s.attribution_states]
    inputs = path.inputs(ctx.run, few)
    axes = {k: cap.unit_axes[k][1] for k in path.names if k in cap.unit_axes and cap.unit_axes[k][0] == 0}
    width = int(np.prod(cap.activations[path.names[-1]].shape[1:]))
    if states.n_actions is not None or width == 1:
        chosen = ctx.act(few).reshape(len(few), -1)[:, 0] if states.n_actions is not None else None
        targets: list[tuple[np.ndarray | None, str | None]] = [(chosen, None)]
    else:  # continuous actions: each output dimension (e.g. each joint's torque mean) is its own target
        targets = [(np.full(len(few), i), f"output[{i}]") for i in range(width)]
    layers = [k for k in path.names[:-1] if has_parameters(path.module(k))] or None
    for chosen, label in targets:
        table.extend(conductance(path, inputs, chosen, states.n_actions, axes, n_steps=s.attribution_steps,
                                 obs_shape=states.obs.shape[1:], layers=layers, target_label=label))  # fmt: skip
    ctx.notes["attribution"] = f"path {' -> '.join(path.names)} (max recomposition error {path.max_error:.2e})"
    return table
