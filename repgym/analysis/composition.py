"""Filter composition: which lower-layer units each higher-layer unit is built from, how many, and how consistently
across inputs — the founders' "how filters are recombined".

For each weighted module on the verified forward path (:mod:`repgym.analysis.forward_path`) the lower layer is the
path module just before it (usually the previous layer's activation) and the higher layer is the module itself.
The contribution of lower unit ``i`` to higher unit ``j`` on input ``x`` is gradient x activation,
``c_ij(x) = sum_pos a_i(x)[pos] * d h_j(x) / d a_i(x)[pos]`` with ``h_j`` the higher unit's output summed over its
positions (a conv filter's map). For a linear or conv layer this is exactly ``W_ji a_i`` (summed over the kernel),
so the contributions and the bias add up to the unit's pre-activation; for a nonlinear module it is the first-order
share. It is a different measure from importance: ablation asks what the output loses without a unit, composition
asks which units a unit is made of.

Per higher unit, with ``q`` (default 0.9) of the total ``sum_i |c_ij|``:

- ``composition_degree``: on each input, the fewest lower units that carry ``q`` of it, averaged over the inputs
  where the unit receives anything (a unit that copies one lower unit has degree 1);
- ``overall_degree`` and ``effective_sources`` (``(sum m)^2 / sum m^2``): the same from the mean ``|c_ij|`` over
  inputs, the unit's composition overall;
- ``consistency``: mean Jaccard overlap between each input's set of composing units and the overall set (1: the
  same lower units compose it on every input);
- ``top_source_share``: the share of its largest overall source (``params["source"]``).

Per lower unit: ``out_degree`` (how many higher units count it in their overall set) and ``coverage`` (on what
fraction of inputs it composes at least one higher unit: which units are in use over the most inputs); per lower
layer ``widest_unit_coverage`` (the first unit of largest coverage), ``mean_coverage`` and
``full_coverage_fraction`` (the share of units that compose something on every input).
"""

from __future__ import annotations

import numpy as np
import torch

from repgym.analysis.capture import has_parameters
from repgym.analysis.forward_path import ForwardPath
from repgym.analysis.tidy import Table


def contributions(
    lower: torch.Tensor, module: torch.nn.Module, in_shape: tuple[int, ...], lower_axis: int, higher_axis: int
) -> np.ndarray:
    """``(n, higher_units, lower_units) float64`` gradient x activation of ``module`` applied to ``lower``.

    ``lower`` is the lower layer's output in its native layout ``(n, ...)``, with its units on ``lower_axis``;
    ``module`` reads it reshaped to ``(n, *in_shape)`` and lays its units on ``higher_axis`` of its output."""
    a = lower.detach().to(torch.float32).clone().requires_grad_(True)
    out = module(a.reshape(a.shape[0], *in_shape))
    out = out[0] if isinstance(out, tuple) else out
    if out.ndim < 2 or out.shape[0] != a.shape[0]:
        raise ValueError(f"module output of shape {tuple(out.shape)} has no batch axis of size {a.shape[0]}")
    units = out.movedim(higher_axis, 1).reshape(out.shape[0], out.shape[higher_axis], -1).sum(-1)  # (n, H)
    sum_axes = [d for d in range(1, a.ndim) if d != lower_axis]
    result = np.empty((a.shape[0], units.shape[1], a.shape[lower_axis]), dtype=np.float64)
    for j in range(units.shape[1]):
        (grad,) = torch.autograd.grad(units[:, j].sum(), a, retain_graph=True, allow_unused=True)
        if grad is None:
            result[:, j] = 0.0
            continue
        c = (grad * a).detach()
        result[:, j] = (c.sum(dim=sum_axes) if sum_axes else c).to(torch.float64).numpy()
    return result


def carrying_sets(weights: np.ndarray, q: float) -> np.ndarray:
    """``(m, k) bool``: per row of non-negative ``weights (m, k)``, the fewest entries (largest first) whose sum
    reaches ``q`` of the row's total; all False for a row that sums to 0."""
    weights = np.asarray(weights, dtype=np.float64)
    order = np.argsort(-weights, axis=1, kind="stable")
    ranked = np.take_along_axis(weights, order, axis=1)
    total = ranked.sum(axis=1, keepdims=True)
    cumulative = np.cumsum(ranked, axis=1)
    # rank r is needed while the mass before it is still short of q (a relative tolerance absorbs rounding)
    needed = (cumulative - ranked) < q * total * (1 - 1e-9)
    needed &= total > 0
    sets = np.zeros_like(needed)
    np.put_along_axis(sets, order, needed, axis=1)
    return sets


def compose(c: np.ndarray, q: float = 0.9) -> dict[str, np.ndarray]:
    """The composition measures of the module docstring from contributions ``c (n, higher, lower)``: per higher
    unit ``composition_degree``, ``overall_degree``, ``effective_sources``, ``consistency``, ``top_source``,
    ``top_source_share``, ``inputs_used``; per lower unit ``out_degree``, ``coverage``."""
    if not 0.0 < q <= 1.0:
        raise ValueError(f"q must be in (0, 1], got {q}")
    c = np.abs(np.asarray(c, dtype=np.float64))
    if c.ndim != 3 or 0 in c.shape:
        raise ValueError(f"contributions must be (n, higher, lower) and non-empty, got shape {c.shape}")
    n, h, lo = c.shape
    mean = c.mean(axis=0)  # (h, lo)
    overall = carrying_sets(mean, q)  # (h, lo)
    total = mean.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        effective = np.where(total > 0, total**2 / (mean**2).sum(axis=1), np.nan)
        share = np.where(total > 0, mean.max(axis=1) / total, np.nan)
    degree = np.full(h, np.nan)
    consistency = np.full(h, np.nan)
    used = np.zeros(h, dtype=np.int64)
    covered = np.zeros((n, lo), dtype=bool)
    for j in range(h):
        sets = carrying_sets(c[:, j], q)  # (n, lo)
        live = sets.any(axis=1)
        covered |= sets
        used[j] = int(live.sum())
        if not live.any():
            continue
        sizes = sets[live].sum(axis=1)
        degree[j] = sizes.mean()
        inter = (sets[live] & overall[j]).sum(axis=1)
        union = (sets[live] | overall[j]).sum(axis=1)
        consistency[j] = float(np.mean(inter / union))
    return {
        "composition_degree": degree,
        "overall_degree": np.where(total > 0, overall.sum(axis=1), np.nan),
        "effective_sources": effective,
        "consistency": consistency,
        "top_source": mean.argmax(axis=1),
        "top_source_share": share,
        "inputs_used": used,
        "out_degree": overall.sum(axis=0).astype(np.float64),
        "coverage": covered.mean(axis=0),
    }


def layer_pairs(path: ForwardPath) -> list[tuple[int, int]]:
    """``(lower, higher)`` indices into ``path.names``: each weighted module after the first, with the module that
    feeds it."""
    return [(t - 1, t) for t in range(1, len(path.names)) if has_parameters(path.modules[t])]


def composition(
    path: ForwardPath,
    inputs: torch.Tensor,
    unit_axes: dict[str, tuple[int, int]],
    q: float = 0.9,
) -> Table:
    """Rows ``composition`` for every (lower, higher) pair of :func:`layer_pairs`: per higher unit (``layer`` =
    the higher layer, ``params["source_layer"]``) and per lower unit (``layer`` = the lower layer,
    ``params["target_layer"]``) the measures of :func:`compose`, and whole-layer means (``unit`` None).
    ``unit_axes`` are :attr:`~repgym.analysis.capture.Capture.unit_axes` (layers whose batch axis is not 0 are
    skipped); ``inputs`` are what the path's first module receives."""
    table = Table()
    n = int(inputs.shape[0])
    for lo_i, hi_i in layer_pairs(path):
        lower, higher = path.names[lo_i], path.names[hi_i]
        if unit_axes.get(lower, (1, 1))[0] != 0 or unit_axes.get(higher, (1, 1))[0] != 0:
            continue
        prefix = ForwardPath(path.names[: lo_i + 1], path.modules[: lo_i + 1], path.shapes[: lo_i + 1], 0.0)
        with torch.no_grad():
            below = prefix.as_module()(inputs.to(torch.float32))
        c = contributions(below, path.modules[hi_i], path.shapes[hi_i], unit_axes[lower][1], unit_axes[higher][1])
        m = compose(c, q)
        for j in range(c.shape[1]):
            for metric in ("composition_degree", "overall_degree", "effective_sources", "consistency"):
                table.add("composition", higher, j, metric, m[metric][j], int(m["inputs_used"][j]),
                          source_layer=lower, q=q)  # fmt: skip
            table.add("composition", higher, j, "top_source_share", m["top_source_share"][j], n,
                      source_layer=lower, source=int(m["top_source"][j]), q=q)  # fmt: skip
        for i in range(c.shape[2]):
            table.add("composition", lower, i, "out_degree", m["out_degree"][i], n, target_layer=higher, q=q)
            table.add("composition", lower, i, "coverage", m["coverage"][i], n, target_layer=higher, q=q)
        summary = {"source_layer": lower, "q": q, "units": c.shape[1], "source_units": c.shape[2]}
        for metric in ("composition_degree", "effective_sources", "consistency"):
            values = m[metric]
            value = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
            table.add("composition", higher, None, f"mean_{metric}", value, n, **summary)
        widest = int(np.argmax(m["coverage"]))
        table.add("composition", lower, None, "widest_unit_coverage", m["coverage"][widest], n,
                  target_layer=higher, widest_unit=widest, q=q)  # fmt: skip
        table.add("composition", lower, None, "mean_coverage", float(m["coverage"].mean()), n,
                  target_layer=higher, q=q)  # fmt: skip
        table.add("composition", lower, None, "full_coverage_fraction", float(np.mean(m["coverage"] == 1.0)), n,
                  target_layer=higher, q=q)  # fmt: skip
    return table
