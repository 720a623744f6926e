"""Conflation: pairs of states that a layer places near each other although their decision labels differ, what
differs between them and which units are responsible."""

from __future__ import annotations

from repgym.analysis.conflation import conflation as conflated_pairs
from repgym.analysis.registry import Context, Section, analyzer
from repgym.analysis.report import md_table
from repgym.analysis.tidy import Table


def report(rows: Table, layers: list[str]) -> Section:
    md = ["## Conflation (near in latent space, different decision label)", ""]
    body = []
    for layer in layers:
        count = rows.filter(layer=layer, metric="conflated_pairs").rows
        if not count:
            continue
        frac = rows.filter(layer=layer, metric="conflated_fraction").rows[0]
        factors = [f"{r.params['factor']} ({r.value:.0%})" for r in rows.filter(layer=layer, metric="factor_differs")]
        units = [str(r.unit) for r in rows.filter(layer=layer, metric="responsibility")]
        body.append([layer, int(count[0].value), count[0].n, frac.value, ", ".join(factors[:3]), ", ".join(units)])
    header = ["layer", "conflated pairs", "near pairs", "fraction", "factors differing most", "responsible units"]
    md += [md_table(header, body), ""]
    examples = rows.filter(metric="example_distance", params_rank=1)
    if examples.rows:
        closest = "; ".join(
            f"`{r.layer}` states {r.params['states']} at distance {r.value:.3g} differ in "
            f"{r.params['differing_count']} factors"
            for r in examples
        )
        md += ["Closest conflated pair per layer: " + closest, ""]
    return Section("\n".join(md))


@analyzer("conflation", order=80, needs=("activations", "decision_labels"), report=report)
def conflation(ctx: Context) -> Table:
    s, states = ctx.settings, ctx.states
    return conflated_pairs(ctx.acts, states.labels, states.factors, states.obs, s.conflation_quantile, seed=s.seed)
