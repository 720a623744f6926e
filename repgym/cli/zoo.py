"""``repgym zoo [NAME]``: the trained checkpoints shipped with repgym (:mod:`repgym.agents.zoo`)."""

from __future__ import annotations

import argparse

from repgym.cli.common import Handler, add_command

EPILOG_ZOO = """\
every shipped checkpoint is read as zoo:NAME wherever a checkpoint folder is accepted. Scores are greedy returns
over the default protocol (30 episodes, episode i from reset seed 1,000,000 + i), with random legal actions and the
benchmark's expert on the same games; expert-normalised = (mean - random) / (expert - random). Set REPGYM_ZOO_DIR to
read another zoo folder.

examples:
  repgym zoo                          the table of shipped agents
  repgym zoo NAME                     one entry, with the command that reproduces its checkpoint
  repgym eval zoo:NAME --episodes 30  play it again (the same games as the table)
  repgym analyze zoo:NAME --out analysis/NAME
  repgym record zoo:NAME --out videos
"""


def register(sub) -> dict[str, Handler]:
    p = add_command(sub, "zoo", "list the trained agents shipped with repgym (zoo:NAME), or show one",
                    "The trained checkpoints shipped with repgym: what they play, how well, and how each was "
                    "trained.", EPILOG_ZOO)  # fmt: skip
    p.add_argument("name", nargs="?", default=None, help="an entry to show in full (zoo:NAME or NAME)")
    return {"zoo": _cmd_zoo}


def _cmd_zoo(args: argparse.Namespace) -> int:
    import sys

    from rich.console import Console

    from repgym.agents.zoo import manifest_path, read_zoo, zoo_entry

    console = Console(width=None if sys.stdout.isatty() else 160)  # piped: the table is not squeezed to 80
    if args.name is not None:
        _show(console, zoo_entry(args.name))
        return 0
    entries = read_zoo()
    if not entries:
        console.print(f"no trained agents in the zoo yet ({manifest_path()} has no entries)", highlight=False)
        return 0
    console.print(_table(entries))
    return 0


def _table(entries):
    from rich.markup import escape
    from rich.table import Table

    table = Table(title="repgym zoo: trained agents, loaded as zoo:NAME", title_justify="left")
    for column in ("name", "env", "agent", "score ± std", "random", "expert", "expert-norm.", "budget", "CPU time"):
        # the env (with its arguments) tells entries apart: it folds rather than being cut
        table.add_column(
            column,
            justify="left" if column in ("name", "env", "agent") else "right",
            overflow="fold" if column == "env" else "ellipsis",
            min_width=24 if column == "env" else None,
        )
    for e in entries:
        norm = e.expert_normalised
        table.add_row(e.name, escape(str(e.env).removeprefix("repgym/")), e.agent, e.score.text(), e.random.text(),
                      e.expert.text() if e.expert else "—", "—" if norm is None else f"{norm:.2f}",
                      f"{e.train_steps:,} steps", _duration(e.cpu_seconds))  # fmt: skip
    return table


def _show(console, entry) -> None:
    norm = entry.expert_normalised
    lines = [
        f"{entry.ref}: {entry.agent} on {entry.env}",
        f"  checkpoint     {entry.folder}",
        f"  trained        {entry.train_steps:,} env steps, {_duration(entry.cpu_seconds)} CPU time ({entry.date})",
        f"  evaluation     {entry.episodes} greedy episodes, episode i from reset seed {entry.first_seed:,} + i",
        f"  score          {entry.score.text()}",
        f"  random         {entry.random.text()}",
        f"  expert         {entry.expert.text() if entry.expert else '— (this env has no expert baseline)'}",
        f"  expert-norm.   {'—' if norm is None else f'{norm:.2f}'}  ((mean - random) / (expert - random))",
        "  reproduce with",
        f"    {entry.command}",
        "  use it",
        f"    repgym eval {entry.ref} --episodes {entry.episodes}",
    ]
    for i, line in enumerate(lines):  # markup off: a command's --set net_arch=[64,64] is not a style
        console.print(line, style="bold" if i == 0 else None, markup=False, highlight=False, soft_wrap=True)


def _duration(seconds: float) -> str:
    """``42 s``, ``12.5 min``, ``3.2 h``."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
