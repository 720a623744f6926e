"""The leaderboard as a rich table, Markdown, CSV, or one self-contained HTML page (figures embedded as PNG).

Every format lists the same entries (:mod:`.table`), grouped by env config and ranked within it, each with the number
of players its env config's human reference rests on. The HTML page adds, per env, the distribution of per-seed
scores of every entry and the learning curves of the entries whose agents wrote training logs, and links each
entry's video.

Player names come from recordings, which anyone can write, so every format treats text as data: HTML and Markdown
escape ``& < > "`` (and Markdown its ``|`` and, in a person's name, its emphasis and link characters), the rich table
escapes its markup, and CSV quotes cells.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from repgym.benchmark.table import Entry

FORMATS = ("table", "md", "csv", "html")


def _num(x: float | None, digits: int = 2) -> str:
    """``x`` to ``digits`` places; a value that rounds to zero prints as 0, never -0."""
    return "—" if x is None else f"{(x if round(x, digits) != 0 else 0.0):.{digits}f}"


def _hp(hp: dict[str, Any], width: int = 40) -> str:
    text = ", ".join(f"{k}={json.dumps(v, separators=(',', ':'))}" for k, v in sorted(hp.items()))
    return text if len(text) <= width else text[: width - 1] + "…"


def _steps(e: Entry) -> str:
    if e.train_steps is None:
        return "—"
    return f"{e.train_steps:,}" if e.train_steps else "0"


def _row_cells(e: Entry) -> list[str]:
    """The displayed cells of an entry, in :data:`HEADERS` order."""
    return [str(e.rank), e.agent, _hp(e.hyperparameters) or "—", _steps(e), e.protocol, str(len(e.seeds)),
            str(len(e.returns)), f"{e.mean:.2f} ± {e.std:.2f}", f"{e.iqm:.2f} [{e.iqm_low:.2f}, {e.iqm_high:.2f}]",
            "—" if e.success_rate is None else f"{e.success_rate:.0%}",
            _num(e.random_norm), _num(e.human_norm), str(e.human_players), _num(e.expert_norm), _cpu(e),
            e.video or ""]  # fmt: skip


def _cpu(e: Entry) -> str:
    """CPU time of an entry's jobs (training and evaluation, all seeds), as a reader compares budgets."""
    if e.cpu_time_s is None:
        return "—"
    return f"{e.cpu_time_s:.0f} s" if e.cpu_time_s < 120 else f"{e.cpu_time_s / 60:.1f} min"


HEADERS = ["#", "agent", "hyperparameters", "train steps", "protocol", "seeds", "episodes", "mean ± std",
           "IQM [95% CI]", "success", "random-norm", "human-norm", "human players", "expert-norm", "CPU",
           "video"]  # fmt: skip
HUMAN_NOTE = ("human-norm = (mean − random) / (human − random), where human is the median over players of each "
              "player's mean return, shown once enough players (repgym leaderboard --min-players, default 5) have "
              "played the env config; human players: how many it rests on")  # fmt: skip
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!~])")


def _plain(text: str) -> str:
    """``text`` with control characters (terminal escapes, line breaks) shown as ``?``."""
    return _CONTROL.sub("?", text)


def _label(text: str) -> str:
    """``text`` for a matplotlib label: no control characters, ``$`` not read as the start of a formula."""
    return _plain(text).replace("$", r"\$")


def _md(text: str, name: bool = False) -> str:
    """A Markdown table cell showing ``text`` literally: HTML escaped, ``|`` escaped; ``name=True`` (text a person
    chose) also escapes Markdown's emphasis, code and link characters."""
    text = _plain(text)
    if name:
        text = _MD_SPECIAL.sub(r"\\\1", text)
    return html.escape(text, quote=True).replace("|", "\\|")


def print_table(by_env: dict[str, list[Entry]], console: Any = None) -> None:
    """One rich table per env config (hyperparameters and videos: see the md, csv and html formats)."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = console or Console(width=None if sys.stdout.isatty() else 140)  # piped: no squeezing to 80
    if not by_env:
        console.print("the leaderboard is empty: run [bold]repgym bench --suite quick[/bold] to fill it")
    for label, entries in by_env.items():
        table = Table(title=escape(_plain(label)), title_justify="left", title_style="bold", box=None,
                      header_style="bold")  # fmt: skip
        for name, justify in (("#", "right"), ("agent", "left"), ("steps", "right"), ("protocol", "left"),
                              ("seeds", "right"), ("mean ± std", "right"), ("IQM [95% CI]", "right"),
                              ("success", "right"), ("rand-norm", "right"), ("human-norm", "right"),
                              ("players", "right"),
                              ("expert-norm", "right"), ("CPU", "right")):  # fmt: skip
            table.add_column(name, justify=justify, no_wrap=name in ("agent", "mean ± std", "IQM [95% CI]"))
        for e in entries:
            cells = [escape(_plain(c)) for c in _row_cells(e)]
            table.add_row(cells[0], cells[1], cells[3], cells[4], cells[5], cells[7], cells[8], cells[9],
                          cells[10], cells[11], cells[12], cells[13], cells[14],
                          style="magenta" if e.kind == "human" else None)  # fmt: skip
        console.print(table)
        console.print()
    if by_env:
        console.print(HUMAN_NOTE, markup=False, style="dim")


def to_markdown(by_env: dict[str, list[Entry]]) -> str:
    """A ``###`` section and a table per env config, every cell escaped (see the module docstring)."""
    out = []
    for label, entries in by_env.items():
        out += [f"### {_md(label)}", "", "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
        for e in entries:
            cells = [_md(c, name=i == 1 and e.kind == "human") for i, c in enumerate(_row_cells(e))]
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
    if by_env:
        out += [f"_{HUMAN_NOTE}._", ""]
    return "\n".join(out)


CSV_COLUMNS = ["env_id", "env_kwargs", "rank", "agent", "kind", "hyperparameters", "train_steps", "eval_episodes",
               "protocol", "seeds", "per_seed_means", "mean", "std", "iqm", "iqm_ci_low", "iqm_ci_high", "success_rate",
               "random_normalised", "human_normalised", "human_reference", "human_players", "expert_normalised",
               "wall_time_s", "cpu_time_s", "repgym_versions", "git_commits", "date", "video"]  # fmt: skip


def to_csv(by_env: dict[str, list[Entry]]) -> str:
    """One line per entry; JSON for dicts and lists, full precision."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entries in by_env.values():
        for e in entries:
            writer.writerow([e.env_id, json.dumps(e.env_kwargs, sort_keys=True), e.rank, e.agent, e.kind,
                             json.dumps(e.hyperparameters, sort_keys=True), e.train_steps, e.eval_episodes,
                             e.protocol, json.dumps(e.seeds), json.dumps(e.per_seed), e.mean, e.std, e.iqm,
                             e.iqm_low, e.iqm_high, e.success_rate, e.random_norm, e.human_norm, e.human_reference,
                             e.human_players, e.expert_norm,
                             round(e.wall_time_s, 3), None if e.cpu_time_s is None else round(e.cpu_time_s, 3),
                             " ".join(e.versions), " ".join(e.commits), e.date,
                             e.video or ""])  # fmt: skip
    return buf.getvalue()


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def score_figure(label: str, entries: list[Entry]) -> str:
    """Base64 PNG: per-seed mean returns of each entry (dots) with its IQM and 95% interval (bar)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 0.45 * len(entries) + 1.2))
    for y, e in enumerate(reversed(entries)):
        jitter = np.linspace(-0.12, 0.12, len(e.per_seed)) if len(e.per_seed) > 1 else [0.0]
        ax.scatter(e.per_seed, y + np.asarray(jitter), s=14, color="tab:blue" if e.kind == "agent" else "tab:red")
        ax.plot([e.iqm_low, e.iqm_high], [y, y], color="black", lw=2)
        ax.plot([e.iqm], [y], marker="|", color="black", ms=12)
    ax.set_yticks(range(len(entries)), [f"{_label(e.agent)} ({_steps(e)})" for e in reversed(entries)], fontsize=8)
    ax.set(xlabel="mean evaluation return per seed (dots); IQM and 95% CI (bar)", title=label)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def curve_figure(label: str, entries: list[Entry]) -> str | None:
    """Base64 PNG of the training curves (mean training-episode return against env steps), or None."""
    with_curves = [e for e in entries if e.learning_curves]
    if not with_curves:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.2))
    for i, e in enumerate(with_curves):
        colour = f"C{i % 10}"
        for j, curve in enumerate(e.learning_curves):
            steps, values = zip(*curve, strict=True)
            ax.plot(steps, values, color=colour, alpha=0.8, lw=1, label=_label(e.agent) if j == 0 else None)
    ax.set(xlabel="env steps", ylabel="training episode return", title=f"{label}: learning curves (one line per seed)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _png(fig)


def to_html(by_env: dict[str, list[Entry]], title: str = "repgym leaderboard", base: str | os.PathLike | None = None
            ) -> str:  # fmt: skip
    """One HTML page with no external files: tables, embedded PNG figures, links to videos (relative to ``base``,
    the folder the page is written to, when given)."""

    def link(path: str | None) -> str:
        if not path:
            return ""
        href = os.path.relpath(path, base) if base is not None else Path(path).resolve().as_uri()
        return f'<a href="{html.escape(href)}">video</a>'

    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:3px 7px;font-size:13px}tr.human{background:#fdecef}"
             "img{display:block;margin:0.5em 0}</style></head><body>", f"<h1>{html.escape(title)}</h1>",
             "<p>Entries of one env config are ranked by mean evaluation return. IQM: interquartile mean over seeds, "
             "with a 95% percentile bootstrap interval. random-norm: (mean − random) / |random|; expert-norm: "
             "(mean − random) / (expert − random), the expert being the env's <code>expert</code> baseline; "
             f"{html.escape(HUMAN_NOTE)}.</p>"]  # fmt: skip
    if not by_env:
        parts.append("<p>The leaderboard is empty: run <code>repgym bench --suite quick</code>.</p>")
    for label, entries in by_env.items():
        parts.append(f"<h2>{html.escape(label)}</h2><table><tr>")
        parts += [f"<th>{html.escape(h)}</th>" for h in HEADERS] + ["</tr>"]
        for e in entries:
            cells = _row_cells(e)
            cells[2] = _hp(e.hyperparameters, width=10_000) or "—"
            parts.append(f"<tr class='{e.kind}'>" + "".join(f"<td>{html.escape(_plain(c))}</td>" for c in cells[:-1])
                         + f"<td>{link(e.video)}</td></tr>")  # fmt: skip
        parts.append("</table>")
        scores = score_figure(label, entries)
        parts.append(f"<img alt='scores {html.escape(label)}' src='data:image/png;base64,{scores}'>")
        curves = curve_figure(label, entries)
        if curves:
            parts.append(f"<img alt='learning curves {html.escape(label)}' src='data:image/png;base64,{curves}'>")
    parts.append("</body></html>")
    return "\n".join(parts)


def export(by_env: dict[str, list[Entry]], fmt: str, out: str | os.PathLike | None = None) -> str:
    """The leaderboard in ``fmt`` (``md``, ``csv`` or ``html``) as text, also written to ``out`` when given."""
    if fmt not in FORMATS[1:]:
        raise ValueError(f"format must be one of {FORMATS[1:]} for export, got {fmt!r}")
    base = Path(out).resolve().parent if out is not None else None
    text = {"md": to_markdown, "csv": to_csv}.get(fmt, lambda b: to_html(b, base=base))(by_env)
    if out is not None:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text)
    return text


__all__ = ["CSV_COLUMNS", "FORMATS", "HEADERS", "export", "print_table", "to_csv", "to_html", "to_markdown"]
