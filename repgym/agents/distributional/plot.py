"""The per-action return distribution at one state: CDF and density, each action's mean marked.

Quantiles and expectiles are statistics, not densities, so they are never drawn raw: every head's output is first
turned into a discrete distribution (:class:`ReturnDistribution`: C51's support and probabilities, QR's quantiles as
atoms of mass ``1/N``, the expectile head's imputed atoms), whose CDF is exact and whose density is the C51
probabilities per unit return, or a Gaussian kernel estimate over the atoms for the other heads.

```python
from repgym.agents.distributional.plot import plot_return_distribution
fig = plot_return_distribution(agent.return_distribution(obs), legal=info.get("action_mask"))
fig.savefig("distribution.png")
```
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from repgym.agents.distributional.distributions import ReturnDistribution

HEAD_TITLES = {"c51": "C51", "qr": "quantile (QR)", "expectile": "expectile (imputed)", "mean": "DQN (mean only)"}


def select_actions(dist: ReturnDistribution, legal: np.ndarray | None = None, max_actions: int = 6) -> list[int]:
    """The ``max_actions`` legal actions with the highest Q-values (all actions when ``legal`` is None)."""
    q = np.where(np.asarray(legal, bool), dist.q_values, -np.inf) if legal is not None else dist.q_values
    order = [int(a) for a in np.argsort(-q, kind="stable") if np.isfinite(q[a])]
    return order[:max_actions]


def density(values: np.ndarray, probs: np.ndarray, grid: np.ndarray, bandwidth: float) -> np.ndarray:
    """Gaussian kernel density of the atoms ``values`` with weights ``probs`` at ``grid``."""
    z = (grid[:, None] - values[None, :]) / bandwidth
    return (probs[None, :] * np.exp(-0.5 * z**2)).sum(axis=1) / (bandwidth * np.sqrt(2 * np.pi))


def plot_return_distribution(
    dist: ReturnDistribution,
    actions: Sequence[int] | None = None,
    legal: np.ndarray | None = None,
    action_labels: Sequence[str] | None = None,
    max_actions: int = 6,
    title: str | None = None,
) -> Figure:
    """Two panels — CDF and density — of each chosen action's return distribution, its mean as a dashed line.

    ``actions``: which to draw (default: :func:`select_actions` — the best ``max_actions`` legal ones);
    ``action_labels``: names for all actions (default ``"action i"``)."""
    chosen = list(actions) if actions is not None else select_actions(dist, legal, max_actions)
    if not chosen:
        raise ValueError("no action to draw: the mask marks no legal action")
    n_actions = dist.values.shape[0]
    bad = [a for a in chosen if not 0 <= a < n_actions]
    if bad:
        raise ValueError(f"actions {bad} out of range: the distribution has {n_actions} actions")
    labels = list(action_labels) if action_labels is not None else [f"action {a}" for a in range(n_actions)]
    values, probs = dist.values[chosen], dist.probs[chosen]
    lo, hi = float(values.min()), float(values.max())
    span = max(hi - lo, 1e-6 * max(1.0, abs(hi)), 1e-3)
    grid = np.linspace(lo - 0.3 * span, hi + 0.3 * span, 600)
    means = dist.means[chosen]

    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_cdf, ax_pdf = fig.subplots(1, 2)
    colours = [f"C{i % 10}" for i in range(len(chosen))]
    cdf = dist.cdf(grid)[chosen]
    for i, a in enumerate(chosen):
        ax_cdf.step(grid, cdf[i], where="post", color=colours[i], label=f"{labels[a]} (mean {means[i]:.3g})")
        if dist.head == "c51":
            spacing = float(np.diff(dist.values[a][:2])[0]) if dist.values.shape[1] > 1 else 1.0
            ax_pdf.plot(dist.values[a], dist.probs[a] / spacing, color=colours[i], marker=".", ms=3)
        else:
            ax_pdf.plot(grid, density(values[i], probs[i], grid, _bandwidth(values[i], probs[i], span)),
                        color=colours[i])  # fmt: skip
        for ax in (ax_cdf, ax_pdf):
            ax.axvline(means[i], color=colours[i], linestyle="--", linewidth=1)
    ax_cdf.set(xlabel="return", ylabel="P(return <= x)", title="CDF", ylim=(-0.02, 1.02))
    pdf_title = "density" if dist.head == "c51" else "density (kernel estimate)"
    ax_pdf.set(xlabel="return", ylabel="density", title=pdf_title)
    ax_cdf.legend(fontsize=8, loc="upper left")
    head = HEAD_TITLES.get(dist.head, dist.head)
    fig.suptitle(title or f"Return distribution per action — {head} head; dashed lines: means")
    return fig


def _bandwidth(values: np.ndarray, probs: np.ndarray, span: float) -> float:
    """Silverman's rule on the weighted atoms, at least 2% of the plotted range."""
    mean = float((values * probs).sum())
    std = float(np.sqrt(max((probs * (values - mean) ** 2).sum(), 0.0)))
    n_eff = 1.0 / max(float((probs**2).sum()), 1e-12)
    return max(1.06 * std * n_eff ** (-0.2), 0.02 * span)
