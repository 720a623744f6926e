"""Write an analysis as ``report.md`` with figures, plus the table as CSV and JSON.

The report is a setup section (from the analysis metadata) followed by one section per registered analyzer that
wrote rows, in registry order (:mod:`repgym.analysis.registry`); each analyzer renders its own rows. Everything is
read back from the tidy table, so a report can be re-rendered from a saved ``table.json``. The helpers here
(Markdown tables, number formatting, heatmaps) are what the analyzers' sections are built from. Figures are drawn
with ``matplotlib.figure.Figure``: no pyplot, no global backend state.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from repgym.analysis.registry import registered
from repgym.analysis.tidy import Table


def fmt(value: Any, digits: int = 3) -> str:
    """A table cell: floats to ``digits`` decimals, None and non-finite values as ``–``."""
    if value is None:
        return "–"
    if isinstance(value, float | np.floating):
        return "–" if not math.isfinite(value) else f"{value:.{digits}f}"
    return str(value)


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table, cells through :func:`fmt`."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def short(name: str, width: int = 28) -> str:
    """``name`` cut from the left to ``width`` characters (layer names in figure labels)."""
    return name if len(name) <= width else "…" + name[-(width - 1) :]


def heatmap(ax, grid: np.ndarray, rows: list[str], cols: list[str], title: str, vmin: float, vmax: float) -> None:
    """Draw ``grid`` on ``ax`` with labelled rows/columns, values written in when it is small, and a colour bar."""
    image = ax.imshow(grid, vmin=vmin, vmax=vmax, cmap="viridis", aspect="auto")
    ax.set_title(title, fontsize=9)
    ax.set_xticks(range(len(cols)), [short(c) for c in cols], rotation=90, fontsize=6)
    ax.set_yticks(range(len(rows)), [short(r) for r in rows], fontsize=6)
    if grid.size <= 144:
        for (i, j), v in np.ndenumerate(grid):
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=5, color="w" if v < 0.6 else "k")
    ax.figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)


def layer_rows(table: Table, analyzer: str, metrics: Sequence[str], layers: Sequence[str]) -> list[list[Any]]:
    """``[layer, value per metric]`` of the whole-layer rows (``unit`` None) of ``analyzer``, one per layer that
    has any of them (the last row wins)."""
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
    md = _setup(meta)
    for entry in registered():
        rows = entry.rows(table)
        section = entry.report(rows, layers) if entry.report is not None and rows.rows else None
        if section is None:
            continue
        for name, figure in section.figures.items():
            figure.savefig(out / name, dpi=120, bbox_inches="tight")
        md += [section.markdown]
    md += [
        "Every number above is a row of `table.csv` / `table.json` (analyzer, layer, unit, metric, value, n, params).",
        "",
    ]
    path = out / "report.md"
    path.write_text("\n".join(md))
    return path


def _setup(meta: dict[str, Any]) -> list[str]:
    """The title and the setup section: what was analysed, on what, with which settings."""
    md: list[str] = [f"# Representation analysis: {meta.get('checkpoint_agent') or meta.get('agent', 'agent')}", ""]
    setup = [
        [
            "checkpoint",
            f"{meta.get('checkpoint')}"
            + (" (untrained: its network with fresh weights)" if meta.get("untrained") else ""),
        ],
        ["env", f"{meta.get('env_id')} {meta.get('env_kwargs') or ''}"],
        ["training steps", meta.get("checkpoint_steps")],
        ["states (distinct)", f"{meta.get('states')} ({meta.get('distinct_states')})"],
        [
            "episodes while collecting (at most N steps each) / mean return",
            f"{meta.get('episodes_collected')} ({meta.get('collection_steps_per_episode')}) / "
            f"{fmt(meta.get('collection_return_mean'), 1)}",
        ],
        [
            "ground-truth factors (categorical, dropped constant)",
            f"{meta.get('factors')} ({meta.get('categorical_factors')}, {meta.get('dropped_factors')})",
        ],
        ["compared with", meta.get("compare")],
        ["latents captured through", meta.get("capture_via")],
        [
            "acting while analysed",
            ", ".join(f"{k}={v}" for k, v in (meta.get("acting_overrides") or {}).items()) or "as saved",
        ],
        ["output module (ablation, attribution)", meta.get("output_module")],
        ["attribution", meta.get("attribution")],
        ["repgym / wall time", f"{meta.get('repgym_version')} / {meta.get('seconds')} s"],
    ]
    md += ["## Setup", "", md_table(["", ""], setup), ""]
    md += ["Layers (units-first shapes): " + ", ".join(f"`{k}` {v}" for k, v in (meta.get("layers") or {}).items()), ""]
    if meta.get("skipped_layers"):
        md += ["Not analysed: " + "; ".join(f"`{k}` ({v})" for k, v in meta["skipped_layers"].items()), ""]
    if meta.get("settings"):
        md += ["Settings: `" + json.dumps(meta["settings"]) + "`", ""]
    return md
