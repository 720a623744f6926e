"""Causal impact of units: ablate each unit / filter (set it to zero or to its mean over the states) with a
forward hook and measure how the agent's output and actions change on a fixed set of states, and how its
return changes over a fixed set of episodes ("filter-level dropout").

Per unit: ``output_change`` = ``|out_ablated - out| / |out - mean(out)|`` (Frobenius norms over the states: 1
means the change is as large as the output's own spread) and ``action_change`` = the fraction of states whose
deterministic action changes (continuous actions: ``|a_ablated - a| / |a - mean(a)|``, like the output).
Impact curves ablate the ``k`` most impactful units of a layer together (and, for comparison, ``k`` units in a
random order); return curves play episodes with the top-``k`` units ablated.

Only the module's main output is ablated (an LSTM's output sequence, not its returned ``(h, c)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from rich.progress import Progress
from torch import nn

from repgym.analysis.capture import Capture, Run, first_tensor, hooks
from repgym.analysis.tidy import Table
from repgym.runs import EvalProtocol, play

Act = Callable[[np.ndarray], np.ndarray]


def _replace_first(output: Any, tensor: torch.Tensor) -> Any:
    if isinstance(output, torch.Tensor):
        return tensor
    items = list(output)
    for i, item in enumerate(items):
        if isinstance(item, torch.Tensor):
            items[i] = tensor
            break
        if isinstance(item, tuple | list):
            items[i] = _replace_first(item, tensor)
            break
    return type(output)(items)


@contextmanager
def ablated(
    module: nn.Module,
    units: Sequence[int] | np.ndarray,
    axes: tuple[int, int],
    values: np.ndarray | None = None,
) -> Iterator[None]:
    """While the block runs, ``module``'s output has ``units`` replaced by 0 (``values=None``) or by
    ``values[units]`` (``values``: ``(units, *rest)`` in the units-first layout of :mod:`capture`).

    A recurrent module's returned state is ablated too, so that the unit is silenced in the memory carried to the
    next step and not only in this step's output: the top layer's ``h`` takes the same values as the output
    (for the top layer they are the same quantity), and an LSTM's cell ``c`` is zeroed in zero mode (left as is
    in mean mode)."""
    index = torch.as_tensor(np.asarray(units, dtype=np.int64))
    b_axis, u_axis = axes

    def hook(module: nn.Module, _args: tuple, output: Any) -> Any:
        tensor = first_tensor(output)
        if tensor is None or index.numel() == 0:
            return output
        tensor = tensor.clone()
        view = tensor.movedim((b_axis, u_axis), (0, 1)) if tensor.ndim > 1 else tensor[:, None]
        fill = None if values is None else torch.as_tensor(values[index.numpy()], dtype=view.dtype)
        view[:, index] = 0 if fill is None else fill
        if isinstance(module, nn.RNNBase) and isinstance(output, tuple) and len(output) == 2:
            return tensor, _ablated_state(output[1], index, fill)
        return _replace_first(output, tensor)

    handle = module.register_forward_hook(hook)
    try:
        yield
    finally:
        handle.remove()


def _ablated_state(state: Any, index: torch.Tensor, fill: torch.Tensor | None) -> Any:
    """An RNN's returned ``h`` (or LSTM ``(h, c)``), each ``(layers, batch, hidden)``, with the top layer's
    ``units`` set as the output's were (``fill``: their ``(units, *rest)`` values, averaged over the rest)."""
    h, c = (state, None) if isinstance(state, torch.Tensor) else state
    h = h.clone()
    h[-1][:, index] = 0 if fill is None else fill.reshape(len(index), -1).mean(dim=1).to(h.dtype)
    if c is None:
        return h
    if fill is None:
        c = c.clone()
        c[-1][:, index] = 0
    return h, c


def _outputs_and_actions(
    act: Act, output_module: nn.Module, observations: np.ndarray, run: Run | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The output module's output while ``run`` (default: ``act``) processes the observations, and the actions."""
    got: list[torch.Tensor] = []

    def hook(_name: str, _m: nn.Module, _a: tuple, output: Any) -> None:
        got.append(first_tensor(output).detach().to(torch.float64).clone())

    with torch.no_grad():
        with hooks({"out": output_module}, hook):
            result = (run or act)(observations)
        actions = np.asarray(act(observations) if run is not None else result)
    if len(got) != 1:
        raise RuntimeError(f"the output module ran {len(got)} times for one batch; expected once")
    return got[0].cpu().numpy().reshape(len(observations), -1), actions.reshape(len(observations), -1)


def _relative_change(new: np.ndarray, base: np.ndarray) -> float:
    """``|new - base| / |base - mean(base)|`` (Frobenius norms over the states)."""
    spread = np.linalg.norm(base - base.mean(axis=0))
    delta = np.linalg.norm(new - base)
    return float(delta / spread) if spread > 0 else (0.0 if delta == 0 else float("inf"))


def _change(out: np.ndarray, base: np.ndarray, base_actions: np.ndarray, actions: np.ndarray) -> tuple[float, float]:
    """``(output_change, action_change)``; for continuous (floating-point) actions the action change is relative,
    as the output change is (any ablation moves a continuous action a little, so "changed" would always be 1)."""
    output_change = _relative_change(out, base)
    if np.issubdtype(base_actions.dtype, np.floating):
        return output_change, _relative_change(actions.astype(np.float64), base_actions.astype(np.float64))
    return output_change, float(np.mean(np.any(actions != base_actions, axis=1)))


def _values(capture: Capture, layer: str, mode: str) -> np.ndarray | None:
    if mode == "zero":
        return None
    if mode == "mean":
        return capture.activations[layer].mean(axis=0)
    raise ValueError(f"mode must be 'zero' or 'mean', got {mode!r}")


def curve_points(units: int) -> list[int]:
    """``0, 1, 2, 4, ... , units``: how many units an impact curve ablates at each point."""
    points = [0]
    k = 1
    while k < units:
        points.append(k)
        k *= 2
    points.append(units)
    return points


def unit_ablation(
    capture: Capture,
    act: Act,
    observations: np.ndarray,
    layers: Sequence[str] | None = None,
    output: str | None = None,
    mode: str = "zero",
    seed: int = 0,
    progress: Progress | None = None,
    run: Run | None = None,
) -> tuple[Table, dict[str, np.ndarray]]:
    """Ablate every unit of each layer, one at a time, then cumulatively (impact curves).

    Args:
        capture: activations of ``observations`` (for layouts, means and the output module).
        act: ``(n, *obs_shape) -> (n,)`` deterministic actions (``agent.predict(obs, deterministic=True)[0]``).
        observations: the fixed states ``(n, *obs_shape)``.
        layers: layers to ablate (default: every captured main output).
        output: the module whose output is "the agent's output" (default: the last module to run).
        mode: ``"zero"`` or ``"mean"`` (the unit's mean over the states, per position).
        seed: for the random-order comparison curve.
        progress: a rich Progress to report on.
        run: what drives the output module once per observation (:func:`~repgym.analysis.capture.agent_runner`)
            when ``act`` runs it on other inputs (a look-ahead agent's afterstates); default: ``act`` itself.
            ``act`` still gives the actions, so the action change is the change of the move the agent plays.

    Returns:
        the table, and ``{layer: (units,) output_change}`` of single-unit ablations (units by impact).
    """
    output = output or capture.last_module()
    if output is None or output not in capture.modules:
        raise ValueError(f"output module {output!r} was not captured; expected one of {capture.layers()}")
    layers = [name for name in (layers or capture.layers()) if capture.is_main(name)]
    out_module = capture.modules[output]
    base, base_actions = _outputs_and_actions(act, out_module, observations, run)
    n = len(observations)
    rng = np.random.default_rng(seed)
    table = Table()
    impacts: dict[str, np.ndarray] = {}
    task = (
        progress.add_task("ablating units", total=sum(capture.activations[k].shape[1] for k in layers))
        if progress
        else None
    )
    for layer in layers:
        module, axes = capture.modules[layer], capture.unit_axes[layer]
        values = _values(capture, layer, mode)
        units = capture.activations[layer].shape[1]
        impact = np.zeros(units)
        for unit in range(units):
            with ablated(module, [unit], axes, values):
                out, actions = _outputs_and_actions(act, out_module, observations, run)
            impact[unit], action_change = _change(out, base, base_actions, actions)
            table.add("ablation", layer, unit, "output_change", impact[unit], n, mode=mode, output=output)
            table.add("ablation", layer, unit, "action_change", action_change, n, mode=mode, output=output)
            if progress is not None:
                progress.advance(task)
        impacts[layer] = impact
        orders = {"impact": np.argsort(-impact, kind="stable"), "random": rng.permutation(units)}
        for order_name, order in orders.items():
            for k in curve_points(units):
                with ablated(module, order[:k], axes, values):
                    out, actions = _outputs_and_actions(act, out_module, observations, run)
                output_change, action_change = _change(out, base, base_actions, actions)
                params = {"k": k, "units": units, "order": order_name, "mode": mode, "output": output}
                table.add("ablation_curve", layer, None, "output_change", output_change, n, **params)
                table.add("ablation_curve", layer, None, "action_change", action_change, n, **params)
    if progress is not None and task is not None:
        progress.remove_task(task)
    return table, impacts


def return_impact(
    agent: Any,
    env: gym.Env,
    capture: Capture,
    impacts: dict[str, np.ndarray],
    ks: Sequence[int] = (0, 1, 4),
    protocol: EvalProtocol | None = None,
    mode: str = "zero",
    progress: Progress | None = None,
) -> Table:
    """Mean return with each layer's ``k`` most impactful units ablated, for ``k`` in ``ks`` (k=0: intact), over
    the episodes of ``protocol`` (default: :class:`~repgym.runs.EvalProtocol`'s) played by :func:`repgym.runs.play`."""
    protocol = protocol or EvalProtocol()
    table = Table()
    task = progress.add_task("ablation returns", total=len(impacts) * len(ks)) if progress else None
    intact: np.ndarray | None = None
    for layer, impact in impacts.items():
        order = np.argsort(-impact, kind="stable")
        values = _values(capture, layer, mode)
        for k in ks:
            k = min(int(k), order.size)
            if k == 0 and intact is not None:
                returns = intact
            else:
                with ablated(capture.modules[layer], order[:k], capture.unit_axes[layer], values):
                    returns = play(agent, env, protocol).returns
                if k == 0:
                    intact = returns
            table.add(
                "ablation_return",
                layer,
                None,
                "return",
                returns.mean(),
                returns.size,
                k=k,
                std=float(returns.std()),
                mode=mode,
                seed=protocol.first_seed,
                units=[int(u) for u in order[:k]],
            )
            if progress is not None:
                progress.advance(task)
    if progress is not None and task is not None:
        progress.remove_task(task)
    return table
