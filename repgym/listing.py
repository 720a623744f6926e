"""What ``repgym list`` prints: every registered environment and every agent or baseline policy."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from repgym.envs.registry import all_envs


def agent_rows() -> list[tuple[str, str]]:
    """(name, description) of every agent and baseline policy that repgym offers, by the names every command
    takes (``policy:<name>`` for baselines)."""
    from repgym.benchmark.baseline_policies import listed_baselines

    rows = listed_baselines()
    try:
        from repgym.agents import AGENTS
    except ImportError:  # agents arrive with later releases
        AGENTS = {}
    rows += [(name, entry.description) for name, entry in AGENTS.items()]
    return rows


def print_listing(fmt: str = "table", console: Console | None = None) -> None:
    """Print environments and agents as rich tables (``fmt="table"``) or Markdown (``fmt="md"``)."""
    console = console or Console()
    envs = [(e.id, e.description) for e in all_envs()]
    agents = agent_rows()
    if fmt == "md":
        lines = ["| environment | description |", "|---|---|", *[f"| `{i}` | {d} |" for i, d in envs], ""]
        lines += ["| agent / policy | description |", "|---|---|", *[f"| `{n}` | {d} |" for n, d in agents]]
        console.print("\n".join(lines), markup=False, highlight=False)
        return
    for title, header, rows in (("Environments", "id", envs), ("Agents and baseline policies", "name", agents)):
        table = Table(title=title, title_justify="left")
        table.add_column(header, style="bold cyan", no_wrap=True)
        table.add_column("description")
        for row in rows:
            table.add_row(*row)
        console.print(table)
