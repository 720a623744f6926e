"""Player names come from recordings anyone can write: every leaderboard format shows them as text, never as markup."""

from __future__ import annotations

import csv
import io

import numpy as np

from repgym.benchmark.export import print_table, to_csv, to_html, to_markdown
from repgym.benchmark.table import build_entries

SCRIPT = "<script>alert(1)</script>"
TRICKY = "*bold* [link](javascript:x) | `code` _x_ [red]rich[/red] \x1b[31mansi $\\frac{$"


def _by_env() -> dict:
    rows = []
    for i, name in enumerate((SCRIPT, TRICKY)):
        rows.append({"id": i + 1, "job_key": f"k{i}", "status": "ok", "kind": "human", "env_id": "repgym/Umbrella-v0",
                     "env_kwargs": {}, "agent": f"human:{name}", "hyperparameters": {}, "seed": 0,
                     "train_steps": None, "eval_episodes": 1, "protocol": "human", "returns": [float(i)],
                     "mean": float(i), "std": 0.0, "wall_time_s": 1.0, "repgym_version": "0.1.0", "git_commit": None,
                     "video_path": None, "created_utc": "2026-01-01T00:00:00+00:00", "learning_curve": None,
                     "checkpoint": None, "worker": None, "suite": None, "source": None,
                     "error": None})  # fmt: skip
    return build_entries(rows, reps=10)


def test_markdown_escapes_html_and_markdown_in_names() -> None:
    md = to_markdown(_by_env())
    assert "<script>" not in md and "human:&lt;script&gt;alert\\(1\\)&lt;/script&gt;" in md
    line = next(line for line in md.splitlines() if "bold" in line)
    assert "\\*bold\\* \\[link\\]\\(javascript:x\\) \\| \\`code\\` \\_x\\_" in line
    assert "\x1b" not in md
    cells = [c for c in line.strip("|").split(" | ")]
    assert len(cells) == len(next(line for line in md.splitlines() if line.startswith("| # |")).strip("|").split(" | "))


def test_html_csv_and_the_terminal_table_show_names_as_text() -> None:
    by_env = _by_env()
    page = to_html(by_env)
    assert "<script>" not in page and "human:&lt;script&gt;alert(1)&lt;/script&gt;" in page
    names = [r["agent"] for r in csv.DictReader(io.StringIO(to_csv(by_env)))]
    assert set(names) == {f"human:{SCRIPT}", f"human:{TRICKY}"}  # quoted by csv, read back exactly
    from rich.console import Console

    console = Console(width=300, record=True)
    print_table(by_env, console)
    text = console.export_text()
    assert "[red]rich[/red]" in text and "\x1b" not in text and f"human:{SCRIPT}" in text
    np.testing.assert_equal(len(by_env["repgym/Umbrella-v0"]), 2)
