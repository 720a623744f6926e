"""Disentanglement of each layer against the ground-truth factors: MIG and DCI."""

from __future__ import annotations

from repgym.analysis.disentanglement import disentanglement as layer_disentanglement
from repgym.analysis.registry import Context, Section, analyzer
from repgym.analysis.report import layer_rows, md_table
from repgym.analysis.tidy import Table


def report(rows: Table, layers: list[str]) -> Section | None:
    metrics = ("mig", "dci_disentanglement", "dci_completeness", "dci_informativeness")
    body = layer_rows(rows, "disentanglement", metrics, layers)
    if not body:
        return None
    table = md_table(["layer", "MIG", "DCI D", "DCI C", "DCI I"], body)
    return Section("\n".join(["## Disentanglement against the ground truth", "", table, ""]))


@analyzer(
    "disentanglement",
    order=70,
    needs=("activations", "ground_truth"),
    report=report,
    description="disentanglement (MIG, DCI)",
)
def disentanglement(ctx: Context) -> Table:
    names, gt = ctx.states.factor_matrix()
    return layer_disentanglement(ctx.acts, names, gt, groups=ctx.states.episode)
