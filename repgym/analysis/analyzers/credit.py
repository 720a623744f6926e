"""Credit landing: where a credit-assignment agent's redistributed reward falls (decisive steps vs the rest)."""

from __future__ import annotations

from repgym.analysis.credit import credit_landing, default_decisive
from repgym.analysis.registry import Context, Section, analyzer
from repgym.analysis.report import md_table
from repgym.analysis.tidy import Table

CREDIT_LAYER = "credit"  # the latent module whose output is the per-step credit (RUDDER's redistributed reward)


def report(rows: Table, layers: list[str]) -> Section | None:
    if not rows.rows:
        return None
    got = {r.metric: r for r in rows.rows}
    share = got["decisive_share"]
    md = [f"## Credit landing ({share.params.get('rule')})", ""]
    if "error" in share.params:
        return Section("\n".join([*md, f"Not measured: {share.params['error']}.", ""]))
    means = [got["decisive_mean"].value, got["other_mean"].value, got["decisive_ratio"].value]
    body = [[share.layer, f"{share.value:.3f}", f"{share.params['chance']:.3f}", *means,
             share.params["decisive_steps"], share.n]]  # fmt: skip
    header = ["layer", "share of the absolute credit on decisive steps", "chance (their share of states)",
              "mean abs. credit, decisive", "mean abs. credit, other", "ratio", "decisive steps", "states"]  # fmt: skip
    md += [md_table(header, body), "",
           "The credit of a step is the change of the agent's return prediction there; a share far above chance "
           "means the reward was moved back to the step that decided it.", ""]  # fmt: skip
    return Section("\n".join(md))


@analyzer(
    "credit",
    order=86,
    needs=("activations", "ground_truth"),
    report=report,
    description="where the redistributed reward lands",
)
def credit(ctx: Context) -> Table:
    if CREDIT_LAYER not in ctx.acts:
        ctx.notes["credit"] = f"skipped: the agent has no {CREDIT_LAYER!r} latent module (only credit-assignment "
        ctx.notes["credit"] += "agents such as rudder do)"
        return Table()
    found = default_decisive(ctx.states)
    if found is None:
        ctx.notes["credit"] = "skipped: no rule for this env's decisive steps (Umbrella and KeyToDoor have one)"
        ctx.console.print("[yellow]credit skipped:[/yellow] no decisive-step rule for this env")
        return Table()
    rule, decisive = found
    return credit_landing(ctx.acts[CREDIT_LAYER], decisive, CREDIT_LAYER, rule)
