"""Similarity between layers: debiased linear/RBF CKA for every pair, SVCCA/PWCCA between consecutive layers, and
RSA of each layer against the ground truth and the raw observation."""

from __future__ import annotations

import warnings

import numpy as np
from matplotlib.figure import Figure

from repgym.analysis.registry import Context, Section, analyzer
from repgym.analysis.report import heatmap, layer_rows, md_table
from repgym.analysis.similarity import cka_matrix, pwcca, rsa, svcca
from repgym.analysis.states import StateSet
from repgym.analysis.tidy import Table


def cka_figure(rows: Table) -> Figure | None:
    """Layer x layer heatmaps of the ``cka_linear`` and ``cka_rbf`` rows (also the cross-agent comparison's)."""
    metrics = [m for m in ("cka_linear", "cka_rbf") if rows.filter(metric=m).rows]
    if not metrics:
        return None
    fig = Figure(figsize=(6.5 * len(metrics), 5.5), layout="constrained")
    for k, metric in enumerate(metrics):
        labels_r, labels_c, grid = rows.filter(metric=metric).pivot("layer", "params.other")
        ax = fig.add_subplot(1, len(metrics), k + 1)
        heatmap(ax, grid, labels_r, labels_c, f"debiased {metric.replace('_', ' ')}", 0.0, 1.0)
    return fig


def report(rows: Table, layers: list[str]) -> Section:
    md = ["## Similarity", ""]
    figures = {}
    if (figure := cka_figure(rows.filter(analyzer="cka"))) is not None:
        figures["cka.png"] = figure
        md += ["![CKA](cka.png)", ""]
    cka_rows = []
    for row in rows.filter(analyzer="cka", metric="cka_linear"):
        position = _index(layers, row.layer)
        if position < 0 or position + 1 != _index(layers, row.params["other"]):
            continue
        rbf = rows.filter(analyzer="cka", metric="cka_rbf", layer=row.layer, params_other=row.params["other"])
        p = f"{row.params['p']} / {row.params['p_other']}"
        cka_rows.append([f"{row.layer} → {row.params['other']}", row.value, rbf.rows[0].value if rbf.rows else None,
                         row.n, p])  # fmt: skip
    if cka_rows:
        md += ["Consecutive layers (debiased HSIC):", ""]
        md += [md_table(["layers", "linear CKA", "RBF CKA", "n", "p / p'"], cka_rows), ""]
    cca_rows = [
        [
            f"{r.layer} → {r.params.get('other')}",
            r.metric,
            r.value,
            r.n,
            r.params.get("refused") or ("n < 10p: inflated" if r.params.get("small_n") else "ok"),
        ]
        for r in rows.filter(analyzer="cca")
    ]
    if cca_rows:
        md += [md_table(["layers", "measure", "value", "n", "note"], cca_rows), ""]
    rsa_rows = layer_rows(rows, "rsa", ("rsa_ground_truth", "rsa_observation"), layers)
    if rsa_rows:
        md += ["RSA (Spearman between distance matrices):", ""]
        md += [md_table(["layer", "vs ground truth", "vs observation"], rsa_rows), ""]
    return Section("\n".join(md), figures)


@analyzer(
    "similarity",
    order=10,
    produces=("cka", "cca", "rsa"),
    report=report,
    description="similarity (CKA, SVCCA/PWCCA, RSA)",
)
def similarity(ctx: Context) -> Table:
    table = cka_matrix(ctx.acts, seed=ctx.settings.seed)
    table.extend(cca_rows(ctx.acts, ctx.main_layers))
    table.extend(rsa_rows(ctx.acts, ctx.states, ctx.settings.seed))
    return table


def cca_rows(acts: dict[str, np.ndarray], order: list[str]) -> Table:
    """SVCCA and PWCCA between consecutive layers (refused rows carry the reason)."""
    table = Table()
    for a, b in zip(order, order[1:], strict=False):
        x, y = acts[a].reshape(len(acts[a]), -1), acts[b].reshape(len(acts[b]), -1)
        for name, fn, field_name in (("svcca", svcca, "mean"), ("pwcca", pwcca, "pwcca")):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                try:
                    result = fn(x, y)
                except ValueError as err:
                    table.add("cca", a, None, name, float("nan"), x.shape[0], other=b, refused=str(err))
                    continue
            table.add("cca", a, None, name, getattr(result, field_name), result.n, other=b, p=result.p_x,
                      p_other=result.p_y, small_n=result.small_n)  # fmt: skip
    return table


def rsa_rows(acts: dict[str, np.ndarray], states: StateSet, seed: int) -> Table:
    """RSA of each layer against the ground truth (standardised factors) and against the raw observation."""
    table = Table()
    names, gt = states.factor_matrix()
    gt = (gt - gt.mean(axis=0)) / np.where(gt.std(axis=0) > 0, gt.std(axis=0), 1.0)
    obs = states.obs.reshape(len(states), -1).astype(np.float64)
    for layer, act in acts.items():
        flat = act.reshape(len(act), -1)
        n = min(len(flat), 1000)
        if gt.shape[1]:
            table.add("rsa", layer, None, "rsa_ground_truth", rsa(flat, gt, seed=seed), n, factors=len(names))
        table.add("rsa", layer, None, "rsa_observation", rsa(flat, obs, seed=seed), n)
    return table


def _index(items: list[str], item: str) -> int:
    return items.index(item) if item in items else -1
