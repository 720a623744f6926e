"""A differentiable path through an agent, rebuilt from the agent interface alone.

``predict`` runs without gradients and returns actions, but attribution needs ``d output / d layer``. From the
module calls that :func:`repgym.analysis.capture.capture_activations` recorded on one batch, this walks back
from the last module to run (the output layer): a module's predecessor is the latest module that finished before
it started and whose output holds exactly the values of its input (reshapes allowed, so a functional flatten
between a conv and a linear layer is fine). The chain found is then *checked*: composing its modules on the
recorded input must reproduce the recorded output, else the chain is shortened from the front until it does.
So a returned path is a verified function of the agent's network, never a guess; skip connections, in-place
ops or recurrent state that break the chain simply give a shorter path (or none).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from repgym.analysis.capture import Call, first_tensor, hooks


class _Chain(nn.Module):
    """``modules`` applied in order, each input reshaped to the per-sample shape that module saw."""

    def __init__(self, modules: list[nn.Module], shapes: list[tuple[int, ...]]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(modules)
        self.shapes = shapes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module, shape in zip(self.layers, self.shapes, strict=True):
            x = first_tensor(module(x.reshape(x.shape[0], *shape)))
        return x


@dataclass
class ForwardPath:
    """A verified chain of named modules from ``names[0]``'s input to ``names[-1]``'s output."""

    names: list[str]
    modules: list[nn.Module]
    shapes: list[tuple[int, ...]]  # per-sample input shape of each module
    max_error: float  # largest |recomposed - recorded| output difference on the traced batch

    def as_module(self) -> nn.Module:
        """The path as one ``nn.Module`` (shares the agent's layers: hooks on them see its calls)."""
        return _Chain(self.modules, self.shapes)

    def module(self, name: str) -> nn.Module:
        return self.modules[self.names.index(name)]

    def inputs(self, run, observations: np.ndarray, batch_size: int = 256) -> torch.Tensor:
        """``(n, *shapes[0])`` float32: what the first module receives for each observation (via ``run``)."""
        got: list[torch.Tensor] = []

        def pre(name: str, module: nn.Module, args: tuple) -> None:
            tensor = first_tensor(args)
            got.append(tensor.detach().to(torch.float32).clone())

        handles = [self.modules[0].register_forward_pre_hook(lambda m, a: pre(self.names[0], m, a))]
        try:
            with torch.no_grad():
                for lo in range(0, len(observations), batch_size):
                    before = len(got)
                    run(observations[lo : lo + batch_size])
                    if len(got) != before + 1:
                        raise RuntimeError(f"module {self.names[0]!r} ran {len(got) - before} times for one batch")
        finally:
            for handle in handles:
                handle.remove()
        return torch.cat(got).reshape(len(observations), *self.shapes[0])


def trace_forward_path(calls: list[Call], end: str | None = None, rtol: float = 1e-4) -> ForwardPath | None:
    """The longest verified chain ending at module ``end`` (default: the last module to finish), or None.

    Args:
        calls: the first batch's module calls (:attr:`Capture.calls`), in order of completion.
        end: the name of the last module of the path.
        rtol: tolerance of the check, relative to the output's largest magnitude.
    """
    counts: dict[str, int] = {}
    for call in calls:
        counts[call.name] = counts.get(call.name, 0) + 1
    usable = [
        c
        for c in calls
        if counts[c.name] == 1 and c.input is not None and c.output is not None and c.module is not None
    ]
    if not usable:
        return None
    last = usable[-1] if end is None else next((c for c in usable if c.name == end), None)
    if last is None:
        return None
    chain = [last]
    batch = last.output.shape[0]
    while True:
        cur = chain[0]
        if cur.input.shape[0] != batch:
            break
        candidates = [
            c
            for c in usable
            if c.end < cur.start and c not in chain and c.output.shape[0] == batch and same_values(c.output, cur.input)
        ]
        if not candidates:
            break
        chain.insert(0, max(candidates, key=lambda c: c.end))
    modules_by_call = [_module_of(c) for c in chain]
    while chain:
        names = [c.name for c in chain]
        shapes = [tuple(c.input.shape[1:]) for c in chain]
        error = _check(modules_by_call, shapes, chain[0].input, last.output)
        if error is not None and error <= rtol * max(1.0, float(last.output.abs().max())):
            return ForwardPath(names, modules_by_call, shapes, error)
        chain, modules_by_call = chain[1:], modules_by_call[1:]
    return None


def action_scores(output: torch.Tensor, n_actions: int | None) -> torch.Tensor:
    """``(batch, k)``: one score per action when the output's second axis has ``n_actions`` entries (extra axes,
    e.g. quantiles or atoms, are averaged: the mean of a distributional head), else the output flattened."""
    if n_actions is not None and output.ndim >= 2 and output.shape[1] == n_actions:
        return output.reshape(output.shape[0], n_actions, -1).mean(-1)
    return output.reshape(output.shape[0], -1)


def run_with_output(modules: dict[str, nn.Module], name: str, run, observations: np.ndarray) -> np.ndarray:
    """``(n, *out_shape) float32``: module ``name``'s output while ``run`` processes ``observations`` (one call)."""
    got: list[torch.Tensor] = []

    def hook(_name: str, module: nn.Module, args: tuple, output) -> None:
        got.append(first_tensor(output).detach().to(torch.float32).clone())

    with torch.no_grad(), hooks({name: modules[name]}, hook):
        run(observations)
    if len(got) != 1:
        raise RuntimeError(f"module {name!r} ran {len(got)} times for one batch; expected once")
    return got[0].cpu().numpy()


def _module_of(call: Call) -> nn.Module:
    if call.module is None:
        raise ValueError(f"call {call.name!r} records no module")
    return call.module


def same_values(a: torch.Tensor, b: torch.Tensor) -> bool:
    """True when two batches hold exactly the same values per sample (shapes may differ by a reshape)."""
    if a.shape[0] != b.shape[0] or a[0].numel() != b[0].numel() or a.dtype != b.dtype:
        return False
    return bool(torch.equal(a.reshape(a.shape[0], -1), b.reshape(b.shape[0], -1)))


def _check(
    modules: list[nn.Module], shapes: list[tuple[int, ...]], x: torch.Tensor, want: torch.Tensor
) -> float | None:
    try:
        with torch.no_grad():
            got = _Chain(modules, shapes)(x.to(torch.float32) if not x.is_floating_point() else x)
    except (RuntimeError, TypeError, ValueError):
        return None
    if got is None or got.shape != want.shape:
        return None
    return float((got.to(torch.float64) - want.to(torch.float64)).abs().max())
