"""Render an analysis table as a Markdown report with matplotlib figures, plus the table as CSV and JSON.

Figures (PNG, drawn with ``matplotlib.figure.Figure``: no pyplot, no global backend state): layer x layer CKA
heatmaps, per-layer histograms of unit generality, ablation impact curves, probe R² per layer x factor, and the
cross-agent CKA heatmap when a second agent was compared. Everything is read back from the tidy table, so a
report can be re-rendered from a saved ``table.json``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from repgym.analysis.tidy import Table


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float | np.floating):
        return "–" if not math.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _short(name: str, width: int = 28) -> str:
    return name if len(name) <= width else "…" + name[-(width - 1) :]


def _heatmap(ax, grid: np.ndarray, rows: list[str], cols: list[str], title: str, vmin: float, vmax: float) -> None:
    image = ax.imshow(grid, vmin=vmin, vmax=vmax, cmap="viridis", aspect="auto")
    ax.set_title(title, fontsize=9)
    ax.set_xticks(range(len(cols)), [_short(c) for c in cols], rotation=90, fontsize=6)
    ax.set_yticks(range(len(rows)), [_short(r) for r in rows], fontsize=6)
    if grid.size <= 144:
        for (i, j), v in np.ndenumerate(grid):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=5, color="w" if v < 0.6 else "k")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)


def _save(fig: Figure, path: Path) -> str:
    fig.savefig(path, dpi=120, bbox_inches="tight")
    return path.name


def figure_cka(table: Table, out: Path, analyzer: str = "cka", name: str = "cka.png") -> str | None:
    """Layer x layer heatmaps of ``cka_linear`` and ``cka_rbf``."""
    rows = table.filter(analyzer=analyzer)
    metrics = [m for m in ("cka_linear", "cka_rbf") if rows.filter(metric=m).rows]
    if not metrics:
        return None
    fig = Figure(figsize=(6.5 * len(metrics), 5.5), layout="constrained")
    for k, metric in enumerate(metrics):
        labels_r, labels_c, grid = rows.filter(metric=metric).pivot("layer", "params.other")
        ax = fig.add_subplot(1, len(metrics), k + 1)
        _heatmap(ax, grid, labels_r, labels_c, f"debiased {metric.replace('_', ' ')}", 0.0, 1.0)
    return _save(fig, out / name)


def figure_generality(table: Table, out: Path) -> str | None:
    """Per-layer histograms of the units' active fraction."""
    rows = table.filter(analyzer="generality", metric="active_fraction")
    layers = rows.unique("layer")
    if not layers:
        return None
    cols = min(4, len(layers))
    nrows = math.ceil(len(layers) / cols)
    fig = Figure(figsize=(3.2 * cols, 2.4 * nrows))
    for k, layer in enumerate(layers):
        ax = fig.add_subplot(nrows, cols, k + 1)
        ax.hist(rows.filter(layer=layer).values(), bins=np.linspace(0, 1, 21), color="tab:blue")
        ax.set_title(_short(layer, 34), fontsize=7)
        ax.set_xlabel("fraction of states active", fontsize=7)
        ax.tick_params(labelsize=6)
    fig.tight_layout()
    return _save(fig, out / "generality.png")


def figure_ablation(table: Table, out: Path) -> str | None:
    """Impact curves: action change and output change against the number of units ablated (most impactful
    first: solid; random order: dashed)."""
    rows = table.filter(analyzer="ablation_curve")
    layers = rows.unique("layer")
    if not layers:
        return None
    fig = Figure(figsize=(11, 4))
    colours = [f"C{i % 10}" for i in range(len(layers))]
    for k, metric in enumerate(("action_change", "output_change")):
        ax = fig.add_subplot(1, 2, k + 1)
        for layer, colour in zip(layers, colours, strict=True):
            for order, style in (("impact", "-"), ("random", "--")):
                sel = rows.filter(layer=layer, metric=metric, params_order=order)
                if not sel.rows:
                    continue
                units = sel.rows[0].params["units"]
                x = [r.params["k"] / units for r in sel]
                ax.plot(x, sel.values(), style, color=colour, label=_short(layer, 30) if order == "impact" else None)
        ax.set_xlabel("fraction of the layer's units ablated", fontsize=8)
        ax.set_ylabel(metric.replace("_", " "), fontsize=8)
        ax.tick_params(labelsize=7)
    fig.axes[0].legend(fontsize=6, loc="lower right")
    fig.suptitle("ablation impact curves (solid: most impactful first; dashed: random order)", fontsize=9)
    fig.tight_layout()
    return _save(fig, out / "ablation.png")


def figure_probes(table: Table, out: Path) -> str | None:
    """Heatmap of probe R² (cross-validated) per layer x factor."""
    rows = table.filter(analyzer="probe", metric="r2")
    if not rows.rows:
        return None
    layers, factors, grid = rows.pivot("layer", "params.factor")
    fig = Figure(figsize=(max(6, 0.18 * len(factors) + 3), max(3, 0.35 * len(layers) + 1.5)))
    ax = fig.add_subplot(1, 1, 1)
    _heatmap(ax, np.clip(grid, 0, 1), layers, factors, "probe R² (out-of-fold, clipped at 0)", 0.0, 1.0)
    return _save(fig, out / "probes.png")


def _layer_rows(table: Table, analyzer: str, metrics: Sequence[str], layers: Sequence[str]) -> list[list[Any]]:
    rows = []
    for layer in layers:
        values = []
        for metric in metrics:
            sel = table.filter(analyzer=analyzer, layer=layer, metric=metric, unit=None)
            values.append(sel.rows[-1].value if sel.rows else None)
        if any(v is not None for v in values):
            rows.append([layer, *values])
    return rows


def write_report(table: Table, out_dir: str | os.PathLike, meta: dict[str, Any] | None = None) -> Path:
    """Write ``report.md``, the figures, ``table.csv``, ``table.json`` and ``meta.json`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    meta = dict(meta or {})
    table.to_csv(out / "table.csv")
    table.to_json(out / "table.json")
    (out / "meta.json").write_text(json.dumps(meta, indent=2, default=str))
    layers = meta.get("layer_order") or table.filter(analyzer="generality").unique("layer")
    md: list[str] = [f"# Representation analysis: {meta.get('checkpoint_agent') or meta.get('agent', 'agent')}", ""]
    setup = [
        ["checkpoint", meta.get("checkpoint")],
        ["env", f"{meta.get('env_id')} {meta.get('env_kwargs') or ''}"],
        ["training steps", meta.get("checkpoint_steps")],
        ["states (distinct)", f"{meta.get('states')} ({meta.get('distinct_states')})"],
        [
            "episodes while collecting (at most N steps each) / mean return",
            f"{meta.get('episodes_collected')} ({meta.get('collection_steps_per_episode')}) / "
            f"{_fmt(meta.get('collection_return_mean'), 1)}",
        ],
        [
            "ground-truth factors (categorical, dropped constant)",
            f"{meta.get('factors')} ({meta.get('categorical_factors')}, {meta.get('dropped_factors')})",
        ],
        ["compared with", meta.get("compare")],
        ["latents captured through", meta.get("capture_via")],
        ["output module (ablation, attribution)", meta.get("output_module")],
        ["attribution", meta.get("attribution")],
        ["repgym / wall time", f"{meta.get('repgym_version')} / {meta.get('seconds')} s"],
    ]
    md += ["## Setup", "", _md_table(["", ""], setup), ""]
    md += ["Layers (units-first shapes): " + ", ".join(f"`{k}` {v}" for k, v in (meta.get("layers") or {}).items()), ""]
    if meta.get("skipped_layers"):
        md += ["Not analysed: " + "; ".join(f"`{k}` ({v})" for k, v in meta["skipped_layers"].items()), ""]
    if meta.get("settings"):
        md += ["Settings: `" + json.dumps(meta["settings"]) + "`", ""]

    md += ["## Similarity", ""]
    if name := figure_cka(table, out):
        md += [f"![CKA]({name})", ""]
    cka_rows = []
    for row in table.filter(analyzer="cka", metric="cka_linear"):
        position = _index(layers, row.layer)
        if position < 0 or position + 1 != _index(layers, row.params["other"]):
            continue
        rbf = table.filter(analyzer="cka", metric="cka_rbf", layer=row.layer, params_other=row.params["other"])
        cka_rows.append(
            [
                f"{row.layer} → {row.params['other']}",
                row.value,
                rbf.rows[0].value if rbf.rows else None,
                row.n,
                f"{row.params['p']} / {row.params['p_other']}",
            ]
        )
    if cka_rows:
        md += ["Consecutive layers (debiased HSIC):", ""]
        md += [_md_table(["layers", "linear CKA", "RBF CKA", "n", "p / p'"], cka_rows), ""]
    cca_rows = [
        [
            f"{r.layer} → {r.params.get('other')}",
            r.metric,
            r.value,
            r.n,
            r.params.get("refused") or ("n < 10p: inflated" if r.params.get("small_n") else "ok"),
        ]
        for r in table.filter(analyzer="cca")
    ]
    if cca_rows:
        md += [_md_table(["layers", "measure", "value", "n", "note"], cca_rows), ""]
    rsa_rows = _layer_rows(table, "rsa", ("rsa_ground_truth", "rsa_observation"), layers)
    if rsa_rows:
        md += ["RSA (Spearman between distance matrices):", ""]
        md += [_md_table(["layer", "vs ground truth", "vs observation"], rsa_rows), ""]

    md += ["## Unit generality", ""]
    if name := figure_generality(table, out):
        md += [f"![generality]({name})", ""]
    gen = _layer_rows(
        table, "generality", ("mean_active_fraction", "general_fraction", "dead_fraction", "dormant_fraction"), layers
    )
    md += [_md_table(["layer", "mean active", "general (≥90%)", "dead", "dormant (τ=0.025)"], gen), ""]

    md += ["## Causal impact (ablation)", ""]
    if name := figure_ablation(table, out):
        md += [f"![ablation]({name})", ""]
    abl_rows = []
    for layer in layers:
        sel = table.filter(analyzer="ablation", layer=layer, metric="output_change")
        if not sel.rows:
            continue
        values = sel.values()
        top = sel.rows[int(np.argmax(values))]
        acts = table.filter(analyzer="ablation", layer=layer, metric="action_change").values()
        abl_rows.append([layer, values.mean(), top.unit, values.max(), acts.max(), float(np.mean(values < 1e-9))])
    if abl_rows:
        md += [
            _md_table(
                [
                    "layer",
                    "mean output change",
                    "top unit",
                    "its output change",
                    "max action change",
                    "units with no effect",
                ],
                abl_rows,
            ),
            "",
        ]
    ret = table.filter(analyzer="ablation_return")
    if ret.rows:
        ks = sorted({r.params["k"] for r in ret})
        header = ["layer", *[f"return, top-{k} ablated" if k else "return, intact" for k in ks]]
        body = []
        for layer in ret.unique("layer"):
            by_k = {r.params["k"]: r for r in ret.filter(layer=layer)}
            body.append(
                [layer, *[f"{by_k[k].value:.1f} ± {by_k[k].params['std']:.1f}" if k in by_k else None for k in ks]]
            )
        md += [f"Returns over {ret.rows[0].n} episodes:", "", _md_table(header, body), ""]

    att = table.filter(analyzer="attribution")
    if att.rows:
        md += ["## Attribution (Captum conductance of the chosen action)", ""]
        body = []
        for layer in att.unique("layer"):
            units = att.filter(layer=layer, metric="abs_conductance")
            if not units.rows:
                continue
            top = units.rows[int(np.argmax(units.values()))]
            err = att.filter(layer=layer, metric="completeness_error").values()
            target = top.params.get("target")
            features = [
                r.params["feature"]
                for r in att.filter(layer=layer, unit=top.unit, metric="input_conductance", params_target=target)
            ]
            label = top.unit if target in ("chosen action", "value", None) else f"{top.unit} ({target})"
            body.append([layer, label, top.value, err.max() if err.size else None, ", ".join(features[:3])])
        md += [_md_table(["layer", "top unit", "mean abs conductance", "completeness error", "its top inputs"], body)]
        md += [""]

    md += ["## Probes (cross-validated ridge, folds by episode)", ""]
    if name := figure_probes(table, out):
        md += [f"![probes]({name})", ""]
    probe_rows = []
    for layer in table.filter(analyzer="probe").unique("layer"):
        sel = table.filter(analyzer="probe", layer=layer)
        r2 = sel.filter(metric="r2", params_kind="continuous").values()
        acc = sel.filter(metric="accuracy").values()
        chance = sel.filter(metric="chance").values()
        probe_rows.append(
            [
                layer,
                np.mean(r2) if r2.size else None,
                np.mean(acc) if acc.size else None,
                np.mean(chance) if chance.size else None,
                sel.rows[0].n,
            ]
        )
    md += [
        _md_table(["layer", "mean R² (continuous)", "mean accuracy (categorical)", "mean chance", "n"], probe_rows),
        "",
    ]
    best = []
    for factor in table.filter(analyzer="probe", metric="r2").unique("params.factor")[:60]:
        sel = table.filter(analyzer="probe", metric="r2", params_factor=factor)
        sel = sel.filter(lambda r: r.layer != "observation")
        if sel.rows:
            top = sel.rows[int(np.nanargmax(np.nan_to_num(sel.values(), nan=-np.inf)))]
            best.append([factor, top.layer, top.value])
    if best:
        md += [
            "<details><summary>Best layer per factor (R²)</summary>",
            "",
            _md_table(["factor", "layer", "R²"], best),
            "",
            "</details>",
            "",
        ]

    md += ["## Dimensionality", ""]
    dim = _layer_rows(table, "dimensionality", ("participation_ratio", "twonn"), layers)
    md += [_md_table(["layer", "participation ratio", "TwoNN dimension"], dim), ""]

    dis = _layer_rows(
        table, "disentanglement", ("mig", "dci_disentanglement", "dci_completeness", "dci_informativeness"), layers
    )
    if dis:
        md += [
            "## Disentanglement against the ground truth",
            "",
            _md_table(["layer", "MIG", "DCI D", "DCI C", "DCI I"], dis),
            "",
        ]

    con = table.filter(analyzer="conflation")
    if con.rows:
        md += ["## Conflation (near in latent space, different decision label)", ""]
        body = []
        for layer in layers:
            count = con.filter(layer=layer, metric="conflated_pairs").rows
            if not count:
                continue
            frac = con.filter(layer=layer, metric="conflated_fraction").rows[0]
            factors = [
                f"{r.params['factor']} ({r.value:.0%})" for r in con.filter(layer=layer, metric="factor_differs")
            ]
            units = [str(r.unit) for r in con.filter(layer=layer, metric="responsibility")]
            body.append([layer, int(count[0].value), count[0].n, frac.value, ", ".join(factors[:3]), ", ".join(units)])
        md += [
            _md_table(
                ["layer", "conflated pairs", "near pairs", "fraction", "factors differing most", "responsible units"],
                body,
            ),
            "",
        ]
        examples = con.filter(metric="example_distance", params_rank=1)
        if examples.rows:
            md += [
                "Closest conflated pair per layer: "
                + "; ".join(
                    f"`{r.layer}` states {r.params['states']} at distance {r.value:.3g} differ in "
                    f"{r.params['differing_count']} factors"
                    for r in examples
                ),
                "",
            ]

    if table.filter(analyzer="cka_compare").rows:
        md += ["## Comparison with the second agent", ""]
        if name := figure_cka(table, out, analyzer="cka_compare", name="cka_compare.png"):
            md += [f"![CKA across agents]({name})", ""]
        adapt = _layer_rows(
            table, "adaptation", ("cka_linear", "cka_rbf", "mean_stability", "generality_stability_spearman"), layers
        )
        if adapt:
            md += [
                _md_table(
                    ["layer", "linear CKA", "RBF CKA", "mean unit stability", "Spearman(generality, stability)"], adapt
                ),
                "",
            ]
    md += [
        "Every number above is a row of `table.csv` / `table.json` (analyzer, layer, unit, metric, value, n, params).",
        "",
    ]
    path = out / "report.md"
    path.write_text("\n".join(md))
    return path


def _index(items: Sequence[str], item: str) -> int:
    return items.index(item) if item in items else -1
