"""Dimensionality of each layer's representation: participation ratio and the TwoNN intrinsic dimension."""

from __future__ import annotations

from repgym.analysis.dimensionality import dimensionality as layer_dimensionality
from repgym.analysis.registry import Context, Section, analyzer
from repgym.analysis.report import layer_rows, md_table
from repgym.analysis.tidy import Table


def report(rows: Table, layers: list[str]) -> Section:
    body = layer_rows(rows, "dimensionality", ("participation_ratio", "twonn"), layers)
    table = md_table(["layer", "participation ratio", "TwoNN dimension"], body)
    return Section("\n".join(["## Dimensionality", "", table, ""]))


@analyzer("dimensionality", order=60, report=report)
def dimensionality(ctx: Context) -> Table:
    return layer_dimensionality(ctx.acts, ctx.states.obs)
