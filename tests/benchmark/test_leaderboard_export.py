"""Entries from rows (pooling, ranking, references) and the Markdown, CSV, HTML and rich outputs."""

from __future__ import annotations

import csv
import io
import os

import numpy as np
import pytest

from repgym.benchmark.export import export, print_table, to_csv, to_html, to_markdown
from repgym.benchmark.table import build_entries

ENV = "repgym/Umbrella-v0"


def _rows() -> list[dict]:
    """random: 10 per episode; greedy: 30; learner: 20 then 40 (two seeds); a person: 50; another config."""
    rows, next_id = [], 1

    def add(agent, seed, returns, kind="agent", env_kwargs=None, steps=0, video=None, curve=None):
        nonlocal next_id
        rows.append({"id": next_id, "job_key": f"k{next_id}", "status": "ok", "kind": kind, "env_id": ENV,
                     "env_kwargs": env_kwargs or {}, "agent": agent, "hyperparameters": {"lr": 0.001} if steps else {},
                     "seed": seed, "train_steps": None if kind == "human" else steps,
                     "eval_episodes": len(returns), "protocol": "human" if kind == "human" else "deterministic",
                     "returns": returns, "mean": float(np.mean(returns)), "std": float(np.std(returns)),
                     "wall_time_s": 1.5, "repgym_version": "0.1.0", "git_commit": "abc", "video_path": video,
                     "created_utc": f"2026-01-0{next_id % 9 + 1}T00:00:00+00:00", "learning_curve": curve,
                     "checkpoint": None, "worker": None, "suite": None, "source": None, "error": None})  # fmt: skip
        next_id += 1

    for s in range(3):
        add("random", s, [10.0, 10.0])
        add("greedy", s, [30.0, 30.0])
    add("qr-dqn", 0, [20.0, 20.0], steps=100, curve=[[50, 1.0], [100, 2.0]])
    add("qr-dqn", 1, [40.0, 40.0], steps=100, video="/videos/qr.mp4", curve=[[50, 1.5], [100, 3.0]])
    add("human:alice", 7, [50.0, 50.0, 50.0], kind="human")
    add("random", 0, [5.0, 5.0], env_kwargs={"delay": 3})
    rows.append({**rows[0], "id": 99, "status": "failed", "returns": None, "agent": "broken"})
    return rows


def test_entries_pool_seeds_rank_and_normalise():
    by_env = build_entries(_rows(), reps=500, min_players=1)  # one person is the human reference only when allowed
    assert list(by_env) == [ENV, f"{ENV} (delay=3)"]
    entries = by_env[ENV]
    assert [(e.rank, e.agent) for e in entries] == [(1, "human:alice"), (2, "greedy"), (3, "qr-dqn"), (4, "random")]
    human, greedy, learner, rand = entries
    assert learner.seeds == [0, 1] and learner.per_seed == [20.0, 40.0] and learner.mean == 30.0
    assert learner.video == "/videos/qr.mp4" and len(learner.learning_curves) == 2
    assert greedy.iqm == greedy.iqm_low == greedy.iqm_high == 30.0
    assert learner.iqm_low == 20.0 and learner.iqm_high == 40.0
    # random reference 10, human reference 50
    assert rand.random_norm == 0.0 and greedy.random_norm == 2.0
    assert greedy.human_norm == pytest.approx(0.5) and human.human_norm == 1.0 and rand.human_norm == 0.0
    other = by_env[f"{ENV} (delay=3)"][0]
    assert other.random_norm == 0.0 and other.human_norm is None  # references never cross env configs
    assert all(e.agent != "broken" for e in entries)


def test_markdown_lists_every_entry_in_rank_order():
    md = to_markdown(build_entries(_rows(), reps=200))
    lines = [line for line in md.splitlines() if line.startswith("| ")]
    assert lines[0].startswith("| # | agent |")
    body = [line.split(" | ")[1] for line in lines if line.split(" | ")[0] in ("| 1", "| 2", "| 3", "| 4")]
    assert body[:4] == ["human:alice", "greedy", "qr-dqn", "random"]
    assert "| 30.00 ± 10.00 | 30.00 [20.00, 40.00] |" in md
    assert "### repgym/Umbrella-v0 (delay=3)" in md


def test_csv_has_one_parseable_line_per_entry():
    rows = list(csv.DictReader(io.StringIO(to_csv(build_entries(_rows(), reps=200, min_players=1)))))
    assert len(rows) == 5
    learner = next(r for r in rows if r["agent"] == "qr-dqn")
    assert learner["per_seed_means"] == "[20.0, 40.0]" and learner["hyperparameters"] == '{"lr": 0.001}'
    assert float(learner["mean"]) == 30.0 and float(learner["human_normalised"]) == 0.5


def test_html_is_self_contained_with_plots_and_video_links(tmp_path):
    out = tmp_path / "site" / "lb.html"
    page = export(build_entries(_rows(), reps=200), "html", out)
    assert out.read_text() == page
    assert page.count("data:image/png;base64,") == 3  # scores for both configs + one learning-curve figure
    assert f'href="{os.path.relpath("/videos/qr.mp4", out.parent)}">video</a>' in page  # relative to the page
    assert "<tr class='human'>" in page and "http" not in page  # nothing fetched from elsewhere
    assert "leaderboard is empty" in to_html({})


def test_rich_table_prints_each_env(capsys):
    from rich.console import Console

    console = Console(width=160, record=True)
    print_table(build_entries(_rows(), reps=200), console)
    text = console.export_text()
    assert "repgym/Umbrella-v0 (delay=3)" in text and "human:alice" in text
    assert "30.00 [20.00, 40.00]" in text
    console = Console(width=100, record=True)
    print_table({}, console)
    assert "repgym bench --suite quick" in console.export_text()
    with pytest.raises(ValueError, match="format"):
        export({}, "pdf")
