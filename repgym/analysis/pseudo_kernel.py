"""Predicting learned representations from the initial network and the curriculum: the loss-gradient-weighted
empirical tangent kernel ("pseudo-kernel") of Pyle, Musslick, Cohen & Patel (2023, "A Quantitative Approach to
Predicting Representational Learning and Performance in Neural Networks").

Under gradient descent with rate ``η`` on a curriculum of training sets ``X_t``, a hidden layer ``h`` changes to
first order as

    Δh(x) = -η Σ_t Σ_{x' in X_t} Θ_hf(x, x') ∂ℓ/∂f(x'),      Θ_hf(x, x') = J_h(x) J_f(x')ᵀ,

the empirical tangent kernel between the hidden layer and the output, at the initial parameters, weighted by the
loss gradient of each training input. The loss gradients evolve as the outputs fit; they are taken from the
network linearised at initialisation (its outputs move as ``f0 + J_f δ`` while ``δ`` follows the same curriculum,
steps and rate), so the prediction uses *only* the initial network and the curriculum. The predicted hidden
layer is ``h0 + Δh``; ``<Δh(x), Δh(x')>`` is the pseudo-kernel between inputs. The sums are never formed as
matrices: ``J_f`` enters through vector-Jacobian products and ``J_h`` through one Jacobian-vector product
(:func:`explicit_delta_h` builds the explicit kernel, for checking).

**The multitask toy** (after Musslick et al.): stimuli have ``dims`` dimensions of ``features`` one-hot features;
task ``(i, j)`` copies the feature of stimulus dimension ``i`` to output dimension ``j``; a one-hot task cue feeds
the hidden and output layers (sigmoid hidden units with a fixed bias of -2, a linear read-out, squared error).
Multitask trials cue two tasks with different input and output dimensions at once. Curricula:
``"single-then-multi"`` trains on single-task trials, then on single and multitask trials; ``"concurrent"`` trains
on both from the start (same steps in total). Tasks that read the same input dimension tend to *share* a hidden
representation (which makes executing them together interfere). Sharing is measured on the task representations
(each task's mean hidden pattern over stimuli, centred across tasks, as in Musslick et al.): the cosine-similarity
matrix between tasks, the *sharing index* (mean similarity of tasks with the same input dimension minus that of
the other pairs), and groups (k-means into ``dims`` clusters). Predicted versus actual: the correlation of the two
similarity matrices, the adjusted Rand index of the two groupings, and the two sharing indices — each for the
whole hidden layer (``hidden_*``: initial + learned) and for its learned change alone (``learned_*``).
``*_output_sharing_*`` are the same sharing indices with tasks grouped by the output dimension they write.

**What the prediction can and cannot do.** It is first order: exact while training stays in the kernel (lazy)
regime, where the learned change is organised by output dimension (the error reaches the hidden layer through
the initial read-out weights), and blind to the feature learning that follows. At standard initialisation the
learned change tracks the prediction for the first few hundred steps, then tasks that read the same input
dimension come to share hidden units and the prediction stops tracking it; at 10x initialisation training stays
lazy, no such sharing forms and the prediction keeps tracking (``benchmarks/pseudo_kernel_toy.py --horizons``).
Note that ``hidden_similarity_correlation`` stays near 1 in every condition because the initial hidden layer
dominates it; ``learned_*`` is the informative comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations, product

import numpy as np
import torch
from torch import nn
from torch.func import functional_call, jacrev, jvp, vjp

from repgym.analysis.tidy import Table

CURRICULA = ("single-then-multi", "concurrent")


# -- the toy task ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trials:
    """A set of trials: inputs ``(N, dims*features + tasks)``, targets ``(N, dims*features)``, and for each
    trial its stimulus index and the tasks it cues (a tuple of task indices)."""

    x: torch.Tensor
    y: torch.Tensor
    stimulus: np.ndarray
    cued: list[tuple[int, ...]]


@dataclass(frozen=True)
class MultitaskToy:
    """The stimuli, tasks and trials of the toy for ``dims`` dimensions of ``features`` features."""

    dims: int
    features: int
    tasks: list[tuple[int, int]]  # (input dimension, output dimension)
    single: Trials
    multi: Trials

    @property
    def n_inputs(self) -> int:
        return self.dims * self.features + len(self.tasks)

    @property
    def n_outputs(self) -> int:
        return self.dims * self.features

    def input_dimension(self) -> np.ndarray:
        """``(tasks,)`` the stimulus dimension each task reads (the sharing structure to expect)."""
        return np.array([i for i, _ in self.tasks])

    def output_dimension(self) -> np.ndarray:
        """``(tasks,)`` the output dimension each task writes (what the early, kernel-regime change groups by)."""
        return np.array([j for _, j in self.tasks])


def make_toy(dims: int = 3, features: int = 3) -> MultitaskToy:
    """Every stimulus crossed with every task (single trials) and every compatible task pair (multitask trials)."""
    if dims < 2 or features < 2:
        raise ValueError(f"the toy needs dims >= 2 and features >= 2, got dims={dims}, features={features}")
    tasks = [(i, j) for i in range(dims) for j in range(dims)]
    stimuli = list(product(range(features), repeat=dims))

    def trial(stim: tuple[int, ...], cued: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        x = np.zeros(dims * features + len(tasks), dtype=np.float32)
        y = np.zeros(dims * features, dtype=np.float32)
        for d, f in enumerate(stim):
            x[d * features + f] = 1.0
        for t in cued:
            i, j = tasks[t]
            x[dims * features + t] = 1.0
            y[j * features + stim[i]] = 1.0
        return x, y

    def trials(cues: list[tuple[int, ...]]) -> Trials:
        xs, ys, si, cs = [], [], [], []
        for s, stim in enumerate(stimuli):
            for cued in cues:
                x, y = trial(stim, cued)
                xs.append(x)
                ys.append(y)
                si.append(s)
                cs.append(cued)
        return Trials(torch.as_tensor(np.stack(xs)), torch.as_tensor(np.stack(ys)), np.array(si), cs)

    pairs = [
        (a, b)
        for a, b in combinations(range(len(tasks)), 2)
        if tasks[a][0] != tasks[b][0] and tasks[a][1] != tasks[b][1]
    ]
    return MultitaskToy(dims, features, tasks, trials([(t,) for t in range(len(tasks))]), trials(pairs))


class ToyNet(nn.Module):
    """``hidden = sigmoid(W [stimulus, task] - 2)``, ``output = V [hidden, task] + c`` (Musslick et al.'s network
    with a linear read-out); ``forward`` returns both. The hidden bias is fixed at -2, so a hidden unit stays off
    unless its inputs switch it on — task cues can gate which stimulus features get through. ``init_scale``
    multiplies PyTorch's default initial weights (10: the "large init" condition)."""

    def __init__(self, n_inputs: int, n_tasks: int, n_outputs: int, hidden: int = 100, init_scale: float = 1.0):
        super().__init__()
        self.n_tasks = n_tasks
        self.hidden = nn.Linear(n_inputs, hidden, bias=False)
        self.output = nn.Linear(hidden + n_tasks, n_outputs)
        self.register_buffer("hidden_bias", torch.full((hidden,), -2.0))
        with torch.no_grad():
            for p in self.parameters():
                p.mul_(init_scale)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = torch.sigmoid(self.hidden(x) + self.hidden_bias)
        return h, self.output(torch.cat([h, x[:, -self.n_tasks :]], dim=1))


def curriculum(toy: MultitaskToy, name: str, steps: int) -> list[tuple[torch.Tensor, torch.Tensor, int]]:
    """``[(x, y, steps)]`` phases of a named curriculum (see the module docstring), ``steps`` in total."""
    both_x = torch.cat([toy.single.x, toy.multi.x])
    both_y = torch.cat([toy.single.y, toy.multi.y])
    if name == "single-then-multi":
        return [(toy.single.x, toy.single.y, steps // 2), (both_x, both_y, steps - steps // 2)]
    if name == "concurrent":
        return [(both_x, both_y, steps)]
    raise ValueError(f"curriculum must be one of {CURRICULA}, got {name!r}")


# -- training and the prediction -------------------------------------------------------------------------------------


def _loss(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Half the squared error, summed over outputs, averaged over trials."""
    return 0.5 * ((out - y) ** 2).sum() / out.shape[0]


def train(net: ToyNet, phases: Sequence[tuple[torch.Tensor, torch.Tensor, int]], lr: float) -> ToyNet:
    """Full-batch gradient descent through the phases (in place)."""
    opt = torch.optim.SGD(net.parameters(), lr=lr)
    for x, y, steps in phases:
        for _ in range(steps):
            opt.zero_grad()
            _loss(net(x)[1], y).backward()
            opt.step()
    return net


def predicted_delta(
    net: nn.Module, phases: Sequence[tuple[torch.Tensor, torch.Tensor, int]], lr: float, probe: torch.Tensor
) -> torch.Tensor:
    """``(n_probe, hidden)`` first-order change of the hidden layer on ``probe`` inputs after gradient descent
    through ``phases`` — the pseudo-kernel prediction (module docstring). ``net(x)`` returns ``(hidden, out)``."""
    params = {k: v.detach() for k, v in net.named_parameters()}
    delta = {k: torch.zeros_like(v) for k, v in params.items()}
    for x, y, steps in phases:

        def outputs(p: dict[str, torch.Tensor], x: torch.Tensor = x) -> torch.Tensor:
            return functional_call(net, p, (x,))[1]

        out0, vjp_fn = vjp(outputs, params)  # the VJP at the initial parameters is reused every step
        for _ in range(steps):
            moved = jvp(outputs, (params,), (delta,))[1]
            residual = (out0 + moved - y) / x.shape[0]  # dℓ/df of the linearised outputs
            (grad,) = vjp_fn(residual)
            delta = {k: delta[k] - lr * grad[k] for k in delta}
    return jvp(lambda p: functional_call(net, p, (probe,))[0], (params,), (delta,))[1].detach()


def max_stable_lr(net: nn.Module, x: torch.Tensor, iterations: int = 30, seed: int = 0) -> float:
    """``2 / λ_max`` of the linearised loss's curvature ``J_fᵀ J_f / N`` on inputs ``x`` (power iteration): above
    this rate, gradient descent on the linearised network diverges."""
    params = {k: v.detach() for k, v in net.named_parameters()}

    def outputs(p: dict[str, torch.Tensor]) -> torch.Tensor:
        return functional_call(net, p, (x,))[1]

    _, vjp_fn = vjp(outputs, params)
    gen = torch.Generator().manual_seed(seed)
    v = {k: torch.randn(t.shape, generator=gen) for k, t in params.items()}
    norm = torch.tensor(0.0)
    for _ in range(iterations):
        (g,) = vjp_fn(jvp(outputs, (params,), (v,))[1] / x.shape[0])
        norm = torch.sqrt(sum((t * t).sum() for t in g.values()))
        if norm == 0:
            return float("inf")
        v = {k: t / norm for k, t in g.items()}
    return float(2.0 / norm)


def explicit_delta_h(net: nn.Module, probe: torch.Tensor, x: torch.Tensor, y: torch.Tensor, lr: float) -> torch.Tensor:
    """One gradient step's ``Δh`` from the explicit kernel: ``-η Σ_x' Θ_hf(probe, x') ∂ℓ/∂f(x')`` with
    ``Θ_hf = J_h J_fᵀ`` built from full Jacobians (small networks only; for tests)."""
    params = {k: v.detach() for k, v in net.named_parameters()}
    jac_h = jacrev(lambda p: functional_call(net, p, (probe,))[0])(params)
    jac_f = jacrev(lambda p: functional_call(net, p, (x,))[1])(params)
    out = functional_call(net, params, (x,))[1]
    grad_f = (out - y) / x.shape[0]
    n_p, hidden = functional_call(net, params, (probe,))[0].shape
    jh = torch.cat([jac_h[k].reshape(n_p * hidden, -1) for k in params], dim=1)  # (n_p*H, P)
    jf = torch.cat([jac_f[k].reshape(out.numel(), -1) for k in params], dim=1)  # (N*O, P)
    kernel = jh @ jf.T  # Θ_hf, (n_p*H, N*O)
    return (-lr * kernel @ grad_f.reshape(-1)).reshape(n_p, hidden)


# -- measuring sharing -----------------------------------------------------------------------------------------------


def task_representations(hidden: np.ndarray, trials: Trials, n_tasks: int) -> np.ndarray:
    """``(tasks, hidden)``: each task's mean hidden pattern over its single-task trials (all stimuli), centred
    across tasks — the part of the hidden layer that the task, not the stimulus, determines."""
    hidden = np.asarray(hidden, dtype=np.float64)
    reps = np.stack([hidden[[i for i, c in enumerate(trials.cued) if c == (t,)]].mean(axis=0) for t in range(n_tasks)])
    return reps - reps.mean(axis=0)


def cosine_similarity(reps: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(reps, axis=1, keepdims=True)
    unit = np.divide(reps, norms, out=np.zeros_like(reps), where=norms > 0)
    return unit @ unit.T


def sharing_index(similarity: np.ndarray, groups: np.ndarray) -> float:
    """Mean similarity of pairs in the same group minus the mean over pairs in different groups."""
    same = groups[:, None] == groups[None, :]
    off = ~np.eye(len(groups), dtype=bool)
    return float(similarity[same & off].mean() - similarity[~same].mean())


def kmeans(x: np.ndarray, k: int, seed: int = 0, restarts: int = 10, iterations: int = 100) -> np.ndarray:
    """Cluster labels ``(n,)`` from Lloyd's k-means with k-means++ seeding, best of ``restarts``."""
    x = np.asarray(x, dtype=np.float64)
    if not 1 <= k <= len(x):
        raise ValueError(f"k must be in 1..{len(x)}, got {k}")
    rng = np.random.default_rng(seed)
    best, best_inertia = np.zeros(len(x), dtype=np.int64), np.inf
    for _ in range(restarts):
        centres = [x[rng.integers(len(x))]]
        for _ in range(1, k):
            d2 = np.min([np.sum((x - c) ** 2, axis=1) for c in centres], axis=0)
            centres.append(x[rng.choice(len(x), p=d2 / d2.sum())] if d2.sum() > 0 else x[rng.integers(len(x))])
        c = np.stack(centres)
        for _ in range(iterations):
            labels = np.argmin(((x[:, None, :] - c[None]) ** 2).sum(-1), axis=1)
            new = np.stack([x[labels == j].mean(axis=0) if np.any(labels == j) else c[j] for j in range(k)])
            if np.allclose(new, c):
                break
            c = new
        inertia = float(((x - c[labels]) ** 2).sum())
        if inertia < best_inertia:
            best, best_inertia = labels, inertia
    return best


def adjusted_rand_index(a: np.ndarray, b: np.ndarray) -> float:
    """Adjusted Rand index of two labelings (1: identical partitions, ~0: chance agreement)."""
    a = np.unique(np.asarray(a), return_inverse=True)[1]
    b = np.unique(np.asarray(b), return_inverse=True)[1]
    table = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(table, (a, b), 1)

    def pairs(v: np.ndarray) -> float:
        return float(np.sum(v * (v - 1) / 2))

    index, rows, cols = pairs(table), pairs(table.sum(1)), pairs(table.sum(0))
    total = len(a) * (len(a) - 1) / 2
    expected = rows * cols / total if total else 0.0
    maximum = (rows + cols) / 2
    return float((index - expected) / (maximum - expected)) if maximum != expected else 1.0


def multitask_accuracy(net: ToyNet, toy: MultitaskToy, trials: Trials) -> float:
    """Fraction of trials on which, for every cued task, the right feature wins in its output dimension."""
    with torch.no_grad():
        out = net(trials.x)[1].numpy().reshape(len(trials.cued), toy.dims, toy.features)
    target = trials.y.numpy().reshape(out.shape)
    correct = []
    for n, cued in enumerate(trials.cued):
        dims = [toy.tasks[t][1] for t in cued]
        correct.append(all(out[n, j].argmax() == target[n, j].argmax() for j in dims))
    return float(np.mean(correct))


# -- the experiment --------------------------------------------------------------------------------------------------


def run_toy(
    curriculum_name: str,
    init_scale: float,
    seed: int,
    dims: int = 3,
    features: int = 3,
    hidden: int = 100,
    steps: int = 3000,
    lr: float = 0.1,
) -> dict[str, float]:
    """Predicted and actual sharing for one curriculum, init scale and seed (see the module docstring)."""
    toy = make_toy(dims, features)
    torch.manual_seed(seed)
    net = ToyNet(toy.n_inputs, len(toy.tasks), toy.n_outputs, hidden, init_scale)
    phases = curriculum(toy, curriculum_name, steps)
    limit = min(max_stable_lr(net, x) for x, _, _ in phases)
    if lr >= limit:
        raise ValueError(
            f"lr={lr} makes the linearised network diverge at init_scale={init_scale}; use lr < {limit:.3g}"
        )
    probe = toy.single.x
    with torch.no_grad():
        h0 = net(probe)[0].numpy()
    predicted = h0 + predicted_delta(net, phases, lr, probe).numpy()
    train(net, phases, lr)
    with torch.no_grad():
        actual = net(probe)[0].numpy()
    n_tasks = len(toy.tasks)
    groups = toy.input_dimension()
    metrics: dict[str, float] = {}
    # "hidden": the whole representation (initial + learned); "learned": only its change from initialisation
    for what, pred_h, act_h in (("hidden", predicted, actual), ("learned", predicted - h0, actual - h0)):
        rep_pred = task_representations(pred_h, toy.single, n_tasks)
        rep_act = task_representations(act_h, toy.single, n_tasks)
        sim_pred, sim_act = cosine_similarity(rep_pred), cosine_similarity(rep_act)
        off = ~np.eye(n_tasks, dtype=bool)
        a, b = sim_pred[off], sim_act[off]
        metrics[f"{what}_similarity_correlation"] = (
            float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else np.nan
        )
        act_groups = kmeans(rep_act, dims, seed)
        metrics[f"{what}_ari_predicted_actual"] = adjusted_rand_index(kmeans(rep_pred, dims, seed), act_groups)
        metrics[f"{what}_ari_actual_input_dimension"] = adjusted_rand_index(act_groups, groups)
        metrics[f"{what}_sharing_predicted"] = sharing_index(sim_pred, groups)
        metrics[f"{what}_sharing_actual"] = sharing_index(sim_act, groups)
        metrics[f"{what}_output_sharing_predicted"] = sharing_index(sim_pred, toy.output_dimension())
        metrics[f"{what}_output_sharing_actual"] = sharing_index(sim_act, toy.output_dimension())
    metrics["single_accuracy"] = multitask_accuracy(net, toy, toy.single)
    metrics["multitask_accuracy"] = multitask_accuracy(net, toy, toy.multi)
    metrics["hidden_change_actual"] = float(np.linalg.norm(actual - h0) / np.linalg.norm(h0))
    metrics["hidden_change_predicted"] = float(np.linalg.norm(predicted - h0) / np.linalg.norm(h0))
    return metrics


def pseudo_kernel_experiment(
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    init_scales: Sequence[float] = (1.0, 10.0),
    curricula: Sequence[str] = CURRICULA,
    progress=None,
    **toy_kwargs,
) -> Table:
    """Every (curriculum, init scale, seed): rows ``analyzer="pseudo_kernel"``, ``layer="hidden"``, one metric of
    :func:`run_toy` each, ``params`` = the condition and toy settings."""
    table = Table()
    conditions = [(c, s, seed) for c in curricula for s in init_scales for seed in seeds]
    task = progress.add_task("pseudo-kernel toy", total=len(conditions)) if progress is not None else None
    for curriculum_name, scale, seed in conditions:
        metrics = run_toy(curriculum_name, scale, seed, **toy_kwargs)
        for metric, value in metrics.items():
            table.add(
                "pseudo_kernel",
                "hidden",
                None,
                metric,
                value,
                1,
                curriculum=curriculum_name,
                init_scale=scale,
                seed=seed,
                **toy_kwargs,
            )
        if progress is not None:
            progress.advance(task)
    return table
