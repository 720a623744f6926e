"""Sensitivity score (after MAML, Finn, Abbeel & Levine 2017): how quickly a representation adapts to a new task.

MAML looks for weights from which a few gradient steps on a new task lower its loss a lot. Here the question is
asked of trained weights as they are: give the network a new task, take ``steps`` plain gradient steps from the
current weights, and measure how much the task's loss fell on held-out states.

**The new task.** The body is the verified forward path (:mod:`repgym.analysis.forward_path`) from the
observation to the input of the agent's output module: its own head is dropped, as in MAML/ANIL, and replaced by
a fresh linear head for the new task. A task is a scalar target per state: a ground-truth factor the agent was
never trained to report (a seeded sample of the env's factors), or a random linear readout of the observation
(always available). Targets are standardised on the support states, so the loss is in units of the target's
variance. The fresh head is fitted by ridge regression to the body's current features on the support states
and then held fixed: it is already the best linear readout of the unchanged representation (its gradient is
nearly zero there), so every later loss drop comes from the representation changing. Then ``steps`` full-batch
gradient steps on the support states update either every weighted layer of the body (``mode="all"``) or one layer
alone (``mode="layer"``); the loss is measured on the query states (other episodes) before and after.

**Steps.** Each step goes down the gradient of the support loss by at most ``step * |theta_0|`` (``theta_0``: the
free weights as they were), halved until the support loss falls (Armijo backtracking). A plain learning rate is not
comparable across layers: the same rate diverges on a layer with large weights or a large head and barely moves
another; bounding each step relative to the layer's own weights asks how much the loss falls for a small relative
change of the layer, the question MAML asks of its initialisation.

**Score.** ``sensitivity = (loss_before - loss_after) / loss_before`` on the query states. A frozen layer
(``requires_grad=False``, or listed in ``frozen``) or a layer whose signal no later layer reads has gradient 0,
takes no step and has sensitivity exactly 0. The agent's own weights are never touched: the steps run on a copy.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from repgym.analysis.capture import has_parameters
from repgym.analysis.forward_path import ForwardPath
from repgym.analysis.tidy import Table


def body_of(path: ForwardPath) -> ForwardPath:
    """The path without its last module (the agent's own head), or the path itself when it has one module."""
    if len(path.names) < 2:
        return path
    return ForwardPath(path.names[:-1], path.modules[:-1], path.shapes[:-1], path.max_error)


def task_targets(
    factors: dict[str, np.ndarray],
    obs: np.ndarray,
    n_factor_tasks: int = 3,
    n_random_tasks: int = 1,
    seed: int = 0,
    exclude: Sequence[str] = (),
) -> dict[str, np.ndarray]:
    """``{task: (n,) float64}``: a seeded sample of up to ``n_factor_tasks`` non-constant ground-truth factors
    (``factor:<name>``) and ``n_random_tasks`` random linear readouts of the flattened observation
    (``random_readout:<i>``)."""
    if n_factor_tasks < 0 or n_random_tasks < 0:
        raise ValueError(f"task counts must be >= 0, got {n_factor_tasks} and {n_random_tasks}")
    rng = np.random.default_rng(seed)
    usable = sorted(k for k, v in factors.items() if k not in exclude and np.ptp(np.asarray(v, float)) > 0)
    chosen = rng.choice(usable, min(n_factor_tasks, len(usable)), replace=False) if usable else []
    tasks = {f"factor:{k}": np.asarray(factors[k], dtype=np.float64) for k in sorted(chosen)}
    flat = np.asarray(obs, dtype=np.float64).reshape(len(obs), -1)
    for i in range(n_random_tasks):
        tasks[f"random_readout:{i}"] = flat @ rng.normal(size=flat.shape[1])
    return {k: v for k, v in tasks.items() if np.ptp(v) > 0}


def support_split(episode: np.ndarray, seed: int = 0) -> np.ndarray:
    """``(n,) bool``: True for support states (adapted on), False for query states (measured on); half the
    episodes each (a seeded draw), or alternate states when there is only one episode."""
    episode = np.asarray(episode)
    ids = np.unique(episode)
    if ids.size < 2:
        return np.arange(episode.size) % 2 == 0
    support_ids = np.random.default_rng(seed).permutation(ids)[: ids.size // 2]
    return np.isin(episode, support_ids)


def _ridge_head(features: torch.Tensor, y: torch.Tensor, ridge: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights ``(p,)`` and bias of the ridge readout ``features -> y`` (float64; dual form when p > n)."""
    f = features.to(torch.float64)
    mean_f, mean_y = f.mean(0), y.mean()
    fc, yc = f - mean_f, y - mean_y
    n, p = fc.shape
    lam = ridge * float((fc * fc).sum()) / max(p, 1) + 1e-12
    if p <= n:
        w = torch.linalg.solve(fc.T @ fc + lam * torch.eye(p, dtype=f.dtype), fc.T @ yc)
    else:
        w = fc.T @ torch.linalg.solve(fc @ fc.T + lam * torch.eye(n, dtype=f.dtype), yc)
    return w, mean_y - mean_f @ w


def adapt_loss(
    body: ForwardPath,
    inputs: torch.Tensor,
    target: np.ndarray,
    support: np.ndarray,
    free: Sequence[str],
    steps: int = 5,
    step: float = 0.01,
    ridge: float = 0.1,
) -> tuple[float, float, float, float]:
    """``(query_before, query_after, support_before, support_after)``: one task's loss on the query and on the
    support states before and after only the layers in ``free`` adapt (see the module docstring); ``target`` is
    ``(n,)`` and ``support`` ``(n,) bool``."""
    if steps < 0 or step < 0:
        raise ValueError(f"steps and step must be >= 0, got {steps} and {step}")
    support = np.asarray(support, dtype=bool)
    if support.shape != (inputs.shape[0],) or support.all() or not support.any():
        raise ValueError(f"support must be ({inputs.shape[0]},) bool with both support and query states")
    unknown = sorted(set(free) - set(body.names))
    if unknown:
        raise ValueError(f"free layers {unknown} are not on the body {body.names}")
    y = np.asarray(target, dtype=np.float64)
    y = (y - y[support].mean()) / (y[support].std() or 1.0)
    y_t = torch.as_tensor(y)
    s_idx, q_idx = torch.as_tensor(np.flatnonzero(support)), torch.as_tensor(np.flatnonzero(~support))
    net = copy.deepcopy(body.as_module())  # the agent's layers stay as they are
    for name, layer in zip(body.names, net.layers, strict=True):
        for param in layer.parameters():
            param.requires_grad_(name in free and param.requires_grad)
    params = [p for p in net.parameters() if p.requires_grad]
    x = inputs.to(torch.float32)

    def features() -> torch.Tensor:
        return net(x).reshape(x.shape[0], -1).to(torch.float64)

    with torch.no_grad():
        f0 = features()
    w, b = _ridge_head(f0[s_idx], y_t[s_idx], ridge)

    def loss(f: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        return ((f[idx] @ w + b - y_t[idx]) ** 2).mean()

    before, support_before = float(loss(f0, q_idx)), float(loss(f0, s_idx))
    with torch.no_grad():
        length = step * float(torch.sqrt(sum((p.double() ** 2).sum() for p in params))) if params else 0.0

    def support_loss() -> float:
        return float(loss(features(), s_idx))

    for _ in range(steps if length > 0 else 0):
        current = loss(features(), s_idx)
        grads = torch.autograd.grad(current, params, allow_unused=True)
        grads = [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads, strict=True)]
        norm = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads)))
        if norm == 0.0:
            break  # nothing downstream reads these weights: the loss cannot move
        if not _descend(params, grads, length / norm, norm, float(current.detach()), support_loss):
            break
    with torch.no_grad():
        f1 = features()
    return before, float(loss(f1, q_idx)), support_before, float(loss(f1, s_idx))


def _descend(params: list[torch.Tensor], grads: list[torch.Tensor], rate: float, norm: float, current: float,
             evaluate: Callable[[], float], halvings: int = 12) -> bool:  # fmt: skip
    """One backtracking step ``params -= rate * grads`` (rate halved until the loss falls by Armijo's 1e-4 margin);
    False, with ``params`` unchanged, when no rate within ``halvings`` halvings lowers it."""
    start = [p.detach().clone() for p in params]
    with torch.no_grad():
        for _ in range(halvings):
            for p, p0, g in zip(params, start, grads, strict=True):
                p.copy_(p0 - rate * g)
            if evaluate() <= current - 1e-4 * rate * norm**2:
                return True
            rate /= 2
        for p, p0 in zip(params, start, strict=True):
            p.copy_(p0)
    return False


def sensitivity(
    path: ForwardPath,
    inputs: torch.Tensor,
    tasks: dict[str, np.ndarray],
    support: np.ndarray,
    steps: int = 5,
    step: float = 0.01,
    ridge: float = 0.1,
    frozen: Sequence[str] = (),
    drop_head: bool = True,
) -> Table:
    """Rows ``sensitivity`` per task: for every weighted layer of the body alone (``mode="layer"``, ``layer`` = it)
    and for all of them together (``mode="all"``, ``layer=""``): ``loss_before``, ``loss_after``, ``drop`` and
    ``sensitivity`` (relative drop) on the query states, and ``support_sensitivity`` (the relative drop on the
    states adapted on, which the backtracking steps never make negative); per layer (``unit`` None,
    ``task="mean"``) the mean sensitivity over tasks. ``frozen`` layers never adapt; ``drop_head=False`` keeps
    the path's last module in the body."""
    body = body_of(path) if drop_head else path
    weighted = [k for k, m in zip(body.names, body.modules, strict=True) if has_parameters(m)]
    if not weighted:
        raise ValueError(f"the body {body.names} has no weighted layer to adapt")
    if not tasks:
        raise ValueError("no task: pass at least one non-constant target")
    table = Table()
    n, n_query = int(inputs.shape[0]), int((~np.asarray(support, dtype=bool)).sum())
    settings = {"steps": steps, "step": step, "ridge": ridge, "body": body.names, "features": body.names[-1]}
    runs = [("layer", k, [k]) for k in weighted] + [("all", "", weighted)]
    means: dict[tuple[str, str], list[float]] = {}
    for task, target in tasks.items():
        for mode, layer, free in runs:
            free_now = [k for k in free if k not in frozen]
            before, after, s_before, s_after = adapt_loss(body, inputs, target, support, free_now, steps, step, ridge)
            score = (before - after) / before if before > 0 else float("nan")
            s_score = (s_before - s_after) / s_before if s_before > 0 else float("nan")
            params = {"task": task, "mode": mode, "frozen": layer in frozen, **settings}
            table.add("sensitivity", layer, None, "loss_before", before, n_query, **params)
            table.add("sensitivity", layer, None, "loss_after", after, n_query, **params)
            table.add("sensitivity", layer, None, "drop", before - after, n_query, **params)
            table.add("sensitivity", layer, None, "sensitivity", score, n_query, **params)
            table.add("sensitivity", layer, None, "support_sensitivity", s_score, n - n_query, **params)
            means.setdefault((mode, layer), []).append(score)
    for (mode, layer), scores in means.items():
        table.add("sensitivity", layer, None, "mean_sensitivity", float(np.nanmean(scores)), n_query,
                  task="mean", tasks=len(scores), mode=mode, **settings)  # fmt: skip
    return table


def frozen_layers(modules: dict[str, nn.Module]) -> list[str]:
    """Names of the weighted modules none of whose parameters require gradients."""
    return [k for k, m in modules.items() if has_parameters(m) and not any(p.requires_grad for p in m.parameters())]
