"""Comparison with a second agent (e.g. the same agent fine-tuned) on the same states: CKA between every pair of
their layers, and per shared layer how stable each unit stayed (feature reuse) and whether general units are the
stable ones."""

from __future__ import annotations

from repgym.analysis.adaptation import adaptation
from repgym.analysis.analyzers.similarity import cka_figure
from repgym.analysis.capture import agent_runner, capture_activations
from repgym.analysis.generality import unit_activity
from repgym.analysis.registry import Context, Section, analyzer
from repgym.analysis.report import layer_rows, md_table
from repgym.analysis.similarity import cka_matrix
from repgym.analysis.tidy import Table


def report(rows: Table, layers: list[str]) -> Section | None:
    cross = rows.filter(analyzer="cka_compare")
    if not cross.rows:
        return None
    md = ["## Comparison with the second agent", ""]
    figures = {}
    if (drawn := cka_figure(cross)) is not None:
        figures["cka_compare.png"] = drawn
        md += ["![CKA across agents](cka_compare.png)", ""]
    metrics = ("cka_linear", "cka_rbf", "mean_stability", "generality_stability_spearman")
    body = layer_rows(rows, "adaptation", metrics, layers)
    if body:
        header = ["layer", "linear CKA", "RBF CKA", "mean unit stability", "Spearman(generality, stability)"]
        md += [md_table(header, body), ""]
    return Section("\n".join(md), figures)


@analyzer(
    "comparison",
    order=90,
    needs=("activations", "second_agent"),
    produces=("cka_compare", "adaptation"),
    report=report,
    description="comparison with the second agent",
)
def comparison(ctx: Context) -> Table:
    other = capture_activations(ctx.compare.latent_modules(), agent_runner(ctx.compare), ctx.states.obs)
    table = cka_matrix(ctx.acts, dict(other.activations), seed=ctx.settings.seed)
    for row in table:
        row.analyzer = "cka_compare"
    fractions = {layer: unit_activity(act)[0] for layer, act in ctx.acts.items()}
    try:
        table.extend(adaptation(ctx.acts, dict(other.activations), fractions))
    except ValueError as err:
        ctx.console.print(f"[yellow]adaptation skipped:[/yellow] {err}")
    return table
