"""Attribution with Captum: layer conductance (how much of the score of the agent's chosen action flows through
each unit) and neuron conductance (which input features drive the most conductive units).

Conductance (Dhamdhere, Sundararajan & Yan 2019) is integrated gradients routed through a hidden unit: summed
over a layer's units it equals ``F(x) - F(baseline)`` (completeness), which is reported as a check
(``completeness_error``, relative). The network is the verified :class:`~repgym.analysis.forward_path.ForwardPath`
from the agent's recorded calls; ``F`` is the score of the chosen action (Q-value, logit, or the mean of a
distributional head's atoms/quantiles), or the single output of a value net.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from captum.attr import LayerConductance, NeuronConductance
from torch import nn

from repgym.analysis.forward_path import ForwardPath, action_scores
from repgym.analysis.tidy import Table


class _Scores(nn.Module):
    """``path`` followed by :func:`action_scores`: ``(batch, *input) -> (batch, k)``."""

    def __init__(self, path: nn.Module, n_actions: int | None) -> None:
        super().__init__()
        self.path = path
        self.n_actions = n_actions

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return action_scores(self.path(x), self.n_actions)


def _targets(scores: torch.Tensor, actions: np.ndarray | None) -> torch.Tensor | int:
    k = scores.shape[1]
    if k == 1:
        return 0
    if actions is None:
        return torch.as_tensor(scores.argmax(dim=1))
    actions = np.asarray(actions).reshape(-1)
    if actions.size != scores.shape[0] or actions.min() < 0 or actions.max() >= k:
        raise ValueError(f"actions must be {scores.shape[0]} indices in 0..{k - 1} (the chosen actions)")
    return torch.as_tensor(actions, dtype=torch.int64)


def _baseline(inputs: torch.Tensor, baseline: str) -> torch.Tensor:
    if baseline == "zeros":
        return torch.zeros_like(inputs)
    if baseline == "mean":
        return inputs.mean(dim=0, keepdim=True).expand_as(inputs).contiguous()
    raise ValueError(f"baseline must be 'zeros' or 'mean', got {baseline!r}")


def feature_names(input_shape: Sequence[int], obs_shape: Sequence[int] | None) -> list[str]:
    """Names of the path's input features: ``obs[i,j,k]`` when the input is the flattened (or identical)
    observation, else ``input[i]``."""
    size = int(np.prod(input_shape))
    if obs_shape is not None and int(np.prod(obs_shape)) == size:
        return [f"obs[{','.join(map(str, ix))}]" for ix in np.ndindex(*obs_shape)]
    return [f"input[{','.join(map(str, ix))}]" for ix in np.ndindex(*input_shape)]


def conductance(
    path: ForwardPath,
    inputs: torch.Tensor,
    actions: np.ndarray | None,
    n_actions: int | None,
    unit_axes: dict[str, int] | None = None,
    layers: Sequence[str] | None = None,
    n_steps: int = 32,
    baseline: str = "zeros",
    top_neurons: int = 3,
    top_features: int = 5,
    obs_shape: Sequence[int] | None = None,
    internal_batch_size: int = 2048,
    target_label: str | None = None,
) -> Table:
    """Layer conductance of every unit on every layer of ``path`` but the last, and neuron conductance of the
    ``top_neurons`` most conductive units per layer onto the ``top_features`` input features.

    Args:
        path: a verified forward path (:func:`~repgym.analysis.forward_path.trace_forward_path`).
        inputs: ``(n, *path.shapes[0])`` what the path's first module receives for each state.
        actions: ``(n,)`` the chosen actions (the attribution target), or None for argmax / single output.
        n_actions: size of the discrete action space (to read the output as one score per action).
        unit_axes: ``{layer: unit axis}`` in the layer's output (batch first); default 1.
        layers: which of the path's layers (default: all but the output layer).
        n_steps: integration steps.
        baseline: ``"zeros"`` or ``"mean"`` (the mean input over the states).
        obs_shape: the observation shape, to name input features ``obs[...]``.
        target_label: what ``actions`` index, recorded as the rows' ``target`` (default: "chosen action", or
            "value" for a single output), e.g. ``"output[1]"`` when each dimension of a continuous action is
            attributed in turn.
    """
    model = _Scores(path.as_module(), n_actions).eval()
    inputs = inputs.to(torch.float32)
    base = _baseline(inputs, baseline)
    with torch.no_grad():
        scores = model(inputs)
        base_scores = model(base)
    target = _targets(scores, actions)
    target_index = target if isinstance(target, torch.Tensor) else torch.full((inputs.shape[0],), target)
    gain = (scores - base_scores).gather(1, target_index[:, None]).squeeze(1)
    names = feature_names(path.shapes[0], obs_shape)
    n = inputs.shape[0]
    target_name = target_label or ("chosen action" if scores.shape[1] > 1 else "value")
    params = {"n_steps": n_steps, "baseline": baseline, "target": target_name}
    table = Table()
    chain = model.path.layers
    for layer in layers or path.names[:-1]:
        module = chain[path.names.index(layer)]
        axis = (unit_axes or {}).get(layer, 1)
        attr, delta = LayerConductance(model, module).attribute(
            inputs,
            baselines=base,
            target=target,
            n_steps=n_steps,
            return_convergence_delta=True,
            internal_batch_size=internal_batch_size,
        )
        attr = attr.detach().movedim(axis, 1) if attr.ndim > 2 else attr.detach()
        per_unit = attr.reshape(n, attr.shape[1], -1).sum(dim=2).to(torch.float64).numpy()
        mean_abs_gain = float(gain.abs().mean())
        error = float(delta.abs().mean()) / mean_abs_gain if mean_abs_gain > 0 else float(delta.abs().mean())
        table.add("attribution", layer, None, "completeness_error", error, n, **params)
        table.add("attribution", layer, None, "total_conductance", per_unit.sum(axis=1).mean(), n, **params)
        mean_abs = np.abs(per_unit).mean(axis=0)
        for unit in range(per_unit.shape[1]):
            table.add("attribution", layer, unit, "conductance", per_unit[:, unit].mean(), n, **params)
            table.add("attribution", layer, unit, "abs_conductance", mean_abs[unit], n, **params)
        for unit in np.argsort(-mean_abs, kind="stable")[:top_neurons]:
            selector = _neuron(attr, int(unit), axis) if attr.ndim > 2 else int(unit)
            neuron_attr = NeuronConductance(model, module).attribute(
                inputs,
                neuron_selector=selector,
                baselines=base,
                target=target,
                n_steps=n_steps,
                internal_batch_size=internal_batch_size,
            )
            per_feature = neuron_attr.detach().reshape(n, -1).abs().mean(dim=0).to(torch.float64).numpy()
            for rank, feature in enumerate(np.argsort(-per_feature, kind="stable")[:top_features], start=1):
                table.add(
                    "attribution",
                    layer,
                    int(unit),
                    "input_conductance",
                    per_feature[feature],
                    n,
                    feature=names[feature],
                    rank=rank,
                    **params,
                )
    return table


def _neuron(attr: torch.Tensor, unit: int, axis: int) -> tuple[int, ...]:
    """The single position of a filter (unit ``unit``) with the largest mean |conductance|, as a Captum selector
    in the layer's native layout (batch excluded)."""
    units_first = attr.abs().mean(dim=0)[unit]  # attr is already units-first: (n, units, *rest)
    position = np.unravel_index(int(units_first.reshape(-1).argmax()), tuple(units_first.shape))
    native = [0] * (attr.ndim - 1)
    rest_axes = [i for i in range(1, attr.ndim + 0) if i != axis]
    native[axis - 1] = unit
    for ax, pos in zip(rest_axes, position, strict=True):
        native[ax - 1] = int(pos)
    return tuple(native)
