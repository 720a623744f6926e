"""Activation capture: forward hooks on named modules record their outputs while a batch of observations runs
through an agent (``agent.predict``) or any callable.

Every captured array is laid out ``(n, units, *rest)``: the batch axis first (found as the axis whose size is the
batch size, so LSTMs with ``batch_first=False`` work), then the unit axis — the last axis of linear, recurrent and
layer-norm outputs (features last), axis 1 of everything else (torch's channels-first convention: conv channels,
or the actions of a ``(batch, actions, atoms)`` distributional head) — then whatever is left (spatial positions,
time steps, atoms). Tuple outputs are split: an
LSTM's ``(output, (h, c))`` gives ``name`` (the output sequence), ``name.h`` and ``name.c``; a GRU/RNN's
``(output, h)`` gives ``name`` and ``name.h``; other tuples give ``name``, ``name[1]``, ``name[1][0]``...

Modules that did not run, ran on a batch of another size (e.g. a value net evaluated on search afterstates) or
ran more than once per call are reported in :attr:`Capture.skipped` / :attr:`Capture.repeated` rather than
guessed at. The order in which modules finished, with their inputs and outputs on the first batch, is kept in
:attr:`Capture.calls` for :mod:`repgym.analysis.forward_path`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

Run = Callable[[np.ndarray], Any]
_FEATURE_LAST = (nn.Linear, nn.RNNBase, nn.LayerNorm, nn.Embedding, nn.MultiheadAttention)


@dataclass
class Call:
    """One module call on the first batch: start/end order, first tensor argument and first tensor output."""

    name: str
    start: int
    end: int
    input: torch.Tensor | None
    output: torch.Tensor | None
    module: nn.Module | None = None


@dataclass
class Capture:
    """What :func:`capture_activations` recorded.

    Attributes:
        activations: ``{name: (n, units, *rest) float32}``.
        modules: ``{name: module}`` of the recorded entries (tuple parts map to their module).
        unit_axes: ``{name: (batch_axis, unit_axis)}`` in the module's native output layout.
        calls: module calls on the first batch, in order of completion.
        skipped: ``{name: reason}`` for modules given but not recorded.
        repeated: names of modules that ran more than once per call (the last call is kept).
    """

    activations: dict[str, np.ndarray]
    modules: dict[str, nn.Module]
    unit_axes: dict[str, tuple[int, int]]
    calls: list[Call] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    repeated: list[str] = field(default_factory=list)
    parts: dict[str, str] = field(default_factory=dict)  # tuple-part entry (``lstm.h``) -> its module's name

    def is_main(self, name: str) -> bool:
        """True for a module's main output, False for a part of its tuple output (``lstm.h``, ``lstm.c``)."""
        return name in self.activations and name not in self.parts

    @property
    def n(self) -> int:
        return next(iter(self.activations.values())).shape[0] if self.activations else 0

    def flat(self, name: str) -> np.ndarray:
        """``(n, units * rest) float32``: one row of features per state."""
        act = self.activations[name]
        return act.reshape(act.shape[0], -1)

    def layers(self) -> list[str]:
        return list(self.activations)

    def last_module(self) -> str | None:
        """The module that finished last on the first batch (usually the agent's output layer)."""
        names = [c.name for c in self.calls if c.name in self.activations]
        return names[-1] if names else None


def unit_axis(module: nn.Module, ndim: int) -> int:
    """The axis of ``module``'s output (in native layout, batch included) that indexes its units: the last for
    linear, recurrent and attention layers and for any module whose ``features_last`` attribute is true (a custom
    module over ``(batch, time, features)``), else axis 1 (channels of a convolution)."""
    if ndim <= 2:
        return ndim - 1
    if isinstance(module, _FEATURE_LAST) or getattr(module, "features_last", False):
        return ndim - 1
    return 1


def batch_axis(shape: tuple[int, ...], batch: int, module: nn.Module | None = None, part: bool = False) -> int | None:
    """The batch axis of an output: known for recurrent modules (their ``batch_first`` output; axis 1 of the
    returned states), else axis 0 if it has the batch size, else the only axis that has it, else None."""
    if isinstance(module, nn.RNNBase) and len(shape) == 3:
        axis = 1 if part or not module.batch_first else 0
        return axis if shape[axis] == batch else None
    if shape and shape[0] == batch:
        return 0
    matches = [i for i, size in enumerate(shape) if size == batch]
    return matches[0] if len(matches) == 1 else None


def split_output(name: str, module: nn.Module, output: Any) -> list[tuple[str, torch.Tensor]]:
    """``[(entry_name, tensor)]`` of a module output (see the module docstring for tuple naming)."""
    if isinstance(output, torch.Tensor):
        return [(name, output)]
    if isinstance(module, nn.LSTM) and isinstance(output, tuple) and len(output) == 2:
        seq, (h, c) = output
        return [(name, seq), (f"{name}.h", h), (f"{name}.c", c)]
    if isinstance(module, nn.RNNBase) and isinstance(output, tuple) and len(output) == 2:
        return [(name, output[0]), (f"{name}.h", output[1])]
    out: list[tuple[str, torch.Tensor]] = []

    def walk(item: Any, path: str) -> None:
        if isinstance(item, torch.Tensor):
            out.append((name if not out else path, item))
        elif isinstance(item, tuple | list):
            for i, sub in enumerate(item):
                walk(sub, f"{path}[{i}]")

    walk(output, name)
    return out


def first_tensor(value: Any) -> torch.Tensor | None:
    """The first tensor in a (nested) tuple/list, or None."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, tuple | list):
        for item in value:
            found = first_tensor(item)
            if found is not None:
                return found
    return None


def to_units_first(tensor: torch.Tensor, b_axis: int, u_axis: int) -> np.ndarray:
    """``(batch, units, *rest) float32`` numpy copy of a native-layout tensor."""
    moved = tensor.detach().movedim((b_axis, u_axis), (0, 1)) if tensor.ndim > 1 else tensor.detach()[:, None]
    return moved.to(torch.float32).cpu().numpy().copy()


def has_representation(agent: Any) -> bool:
    """True when ``agent`` overrides :meth:`repgym.agents.base.Agent.represent` (its latent modules run on other
    inputs than the observations inside ``predict``, e.g. a look-ahead agent's afterstates)."""
    from repgym.agents.base import Agent

    method = getattr(type(agent), "represent", None)
    return callable(method) and method is not Agent.represent


def has_parameters(module: nn.Module) -> bool:
    """True for a module with weights (a linear or conv layer), False for a parameter-free one (ReLU, tanh)."""
    return any(True for _ in module.parameters())


def agent_runner(agent: Any) -> Run:
    """``run(obs_batch)`` that drives the agent's latent modules once per observation: ``agent.represent`` where
    the agent defines it, else ``agent.predict(obs_batch, deterministic=True)`` (the agent interface)."""
    if has_representation(agent):
        return agent.represent

    def run(obs: np.ndarray) -> Any:
        return agent.predict(obs, deterministic=True)

    return run


def stack_memory(memory: list[Any]) -> tuple[Any, np.ndarray] | None:
    """Batch the recurrent states that one-observation ``predict`` calls returned: ``(state, episode_start)``.

    Each array of a state is joined along its batch axis — axis 1 when it has size 1 there (torch's
    ``(layers, batch, hidden)``, as SB3's recurrent policies and the world-model agent return), else axis 0. A
    None (an episode's first step) becomes zeros with ``episode_start`` True, which recurrent agents reset.
    None when the states have no batch axis to join along, or none is given.
    """
    template = next((m for m in memory if m is not None), None)
    if template is None:
        return None

    def axis(leaf: np.ndarray) -> int | None:
        if leaf.ndim >= 2 and leaf.shape[1] == 1:
            return 1
        return 0 if leaf.ndim >= 1 and leaf.shape[0] == 1 else None

    def join(parts: list[Any], like: Any) -> Any:
        if isinstance(like, tuple | list):
            return type(like)(join([p[i] for p in parts], item) for i, item in enumerate(like))
        like = np.asarray(like)
        ax = axis(like)
        if ax is None:
            raise ValueError(f"recurrent state of shape {like.shape} has no batch axis of size 1")
        return np.concatenate([np.asarray(p) for p in parts], axis=ax)

    def zeros(like: Any) -> Any:
        if isinstance(like, tuple | list):
            return type(like)(zeros(item) for item in like)
        return np.zeros_like(np.asarray(like))

    starts = np.array([m is None for m in memory])
    try:
        return join([zeros(template) if m is None else m for m in memory], template), starts
    except ValueError:
        return None


def recurrent_runner(agent: Any, observations: np.ndarray, memory: list[Any]) -> Run | None:
    """``run(indices)``: ``agent.predict`` on ``observations[indices]`` with the recurrent state each of them had
    while the agent played (:attr:`StateSet.memory`), so hooks see the latents of the agent's own history rather
    than of a fresh state. None when the states cannot be batched (:func:`stack_memory`)."""
    if stack_memory(memory) is None:
        return None

    def run(indices: np.ndarray) -> Any:
        idx = np.asarray(indices, dtype=np.int64)
        state, starts = stack_memory([memory[i] for i in idx]) or (None, None)
        return agent.predict(observations[idx], state=state, episode_start=starts, deterministic=True)

    return run


@contextmanager
def hooks(modules: dict[str, nn.Module], forward_hook: Callable, pre_hook: Callable | None = None) -> Iterator[None]:
    """Register ``forward_hook(name, module, args, output)`` (and ``pre_hook(name, module, args)``) on every
    module for the duration of the block."""
    handles = []
    try:
        for name, module in modules.items():
            handles.append(module.register_forward_hook(lambda m, a, o, _n=name: forward_hook(_n, m, a, o)))
            if pre_hook is not None:
                handles.append(module.register_forward_pre_hook(lambda m, a, _n=name: pre_hook(_n, m, a)))
        yield
    finally:
        for handle in handles:
            handle.remove()


def capture_activations(
    modules: dict[str, nn.Module],
    run: Run,
    inputs: np.ndarray,
    batch_size: int = 256,
    keep_calls: bool = True,
) -> Capture:
    """Run ``inputs`` (``(n, *obs_shape)``) through ``run`` in batches and record every module's output.

    Args:
        modules: named modules to hook (an agent's ``latent_modules()``).
        run: called with each ``(batch, *obs_shape)`` slice; e.g. :func:`agent_runner` or a ``nn.Module`` wrapper.
        inputs: the observations.
        batch_size: states per call.
        keep_calls: keep the first batch's call records (inputs and outputs) for forward-path tracing.
    """
    inputs = np.asarray(inputs)
    if inputs.ndim < 1 or inputs.shape[0] == 0:
        raise ValueError(f"inputs must be a non-empty batch (n, *obs_shape), got shape {inputs.shape}")
    if not modules:
        raise ValueError("no modules to capture: the agent's latent_modules() is empty")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    chunks: dict[str, list[np.ndarray]] = {}
    entry_module: dict[str, nn.Module] = {}
    axes: dict[str, tuple[int, int]] = {}
    skipped: dict[str, str] = {}
    repeated: set[str] = set()
    calls: list[Call] = []
    starts: dict[str, list[int]] = {}
    tuple_parts: dict[str, str] = {}
    state = {"clock": 0, "batch": 0, "first": True, "fired": {}}

    def pre_hook(name: str, module: nn.Module, args: tuple) -> None:
        if state["first"] and keep_calls:
            starts.setdefault(name, []).append(state["clock"])
            state["clock"] += 1

    def forward_hook(name: str, module: nn.Module, args: tuple, output: Any) -> None:
        batch = state["batch"]
        count = state["fired"].get(name, 0) + 1
        state["fired"][name] = count
        if count > 1:
            repeated.add(name)
        for entry, tensor in split_output(name, module, output):
            b_axis = batch_axis(tuple(tensor.shape), batch, module, part=entry != name)
            if b_axis is None:
                skipped[entry] = f"output shape {tuple(tensor.shape)} has no batch axis of size {batch}"
                continue
            u_axis = unit_axis(module, tensor.ndim) if tensor.ndim > 1 else 0
            if u_axis == b_axis:
                u_axis = 1 if b_axis == 0 else 0
            array = to_units_first(tensor, b_axis, u_axis)
            if count > 1 and chunks.get(entry):
                chunks[entry][-1] = array
            else:
                chunks.setdefault(entry, []).append(array)
            entry_module[entry] = module
            if entry != name:
                tuple_parts[entry] = name
            axes[entry] = (b_axis, u_axis)
        if state["first"] and keep_calls:
            start = starts[name].pop(0) if starts.get(name) else -1
            calls.append(
                Call(
                    name,
                    start,
                    state["clock"],
                    _detached(first_tensor(args)),
                    _detached(first_tensor(output)),
                    module,
                )
            )
            state["clock"] += 1

    with torch.no_grad(), hooks(modules, forward_hook, pre_hook):
        for lo in range(0, inputs.shape[0], batch_size):
            batch = inputs[lo : lo + batch_size]
            state["batch"] = batch.shape[0]
            state["fired"] = {}
            run(batch)
            state["first"] = False
    n = inputs.shape[0]
    activations: dict[str, np.ndarray] = {}
    for entry, parts in chunks.items():
        array = np.concatenate(parts, axis=0)
        if array.shape[0] != n:
            skipped[entry] = f"recorded {array.shape[0]} rows for {n} inputs (it did not run on every batch)"
            continue
        activations[entry] = array
        skipped.pop(entry, None)
    for name in modules:
        if name not in entry_module and name not in skipped:
            skipped[name] = "did not run during the forward pass"
    return Capture(
        activations=activations,
        modules={k: entry_module[k] for k in activations},
        unit_axes={k: axes[k] for k in activations},
        calls=calls,
        skipped=skipped,
        repeated=sorted(repeated),
        parts={k: v for k, v in tuple_parts.items() if k in activations},
    )


def _detached(tensor: torch.Tensor | None) -> torch.Tensor | None:
    return None if tensor is None else tensor.detach().clone()
