"""The human reference: the median over players of each player's mean return, present only from ``min_players``
players on, and the number of players it rests on in every leaderboard format."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from repgym.benchmark.export import print_table, to_csv, to_html, to_markdown
from repgym.benchmark.store import LeaderboardStore
from repgym.benchmark.table import build_entries, references
from repgym.cli import main

ENV = "repgym/Umbrella-v0"


def _row(row_id: int, agent: str, returns: list[float], kind: str = "agent") -> dict:
    return {"id": row_id, "job_key": f"k{row_id}", "status": "ok", "kind": kind, "env_id": ENV, "env_kwargs": {},
            "agent": agent, "hyperparameters": {}, "seed": row_id, "train_steps": None if kind == "human" else 0,
            "eval_episodes": len(returns), "protocol": "human" if kind == "human" else "deterministic",
            "returns": returns, "mean": float(np.mean(returns)), "std": float(np.std(returns)), "wall_time_s": 1.0,
            "repgym_version": "0.1.0", "git_commit": None, "video_path": None,
            "created_utc": "2026-01-01T00:00:00+00:00", "learning_curve": None, "checkpoint": None, "worker": None,
            "suite": None, "source": None, "error": None}  # fmt: skip


def _rows(players: int) -> list[dict]:
    """random scores 0 and greedy 5; the people: one who is worse than random over many sessions, then players
    whose mean returns are 10, 20, 30, ..."""
    rows = [_row(1, "random", [0.0, 0.0]), _row(2, "greedy", [5.0, 5.0])]
    rows += [_row(10 + i, "human:zed", [-50.0, -50.0], "human") for i in range(6)]  # many sessions, one player
    rows += [_row(30 + i, f"human:p{i}", [10.0 * (i + 1)], "human") for i in range(players - 1)]
    return rows


def test_the_reference_appears_at_the_minimum_number_of_players_and_is_their_median() -> None:
    below = build_entries(_rows(4), reps=50)[ENV]
    assert all(e.human_norm is None and e.human_reference is None and e.human_players == 4 for e in below)
    at = build_entries(_rows(5), reps=50)[ENV]
    greedy = next(e for e in at if e.agent == "greedy")
    # player means: -50 (six sessions, still one player), 10, 20, 30, 40 -> median 20
    assert greedy.human_reference == 20.0 and greedy.human_players == 5
    assert greedy.human_norm == pytest.approx(5.0 / 20.0)  # one below-random player does not flip the sign
    assert build_entries(_rows(4), reps=50, min_players=4)[ENV][0].human_reference == 15.0
    refs = references(_rows(3), min_players=3)[(ENV, "{}")]
    assert refs.human == 10.0 and refs.human_players == 3 and refs.random == 0.0 and refs.expert is None
    with pytest.raises(ValueError, match="min_players must be at least 1"):
        build_entries(_rows(3), min_players=0)


def test_every_format_shows_the_players_the_reference_rests_on() -> None:
    by_env = build_entries(_rows(5), reps=50)
    md = to_markdown(by_env)
    header = next(line for line in md.splitlines() if line.startswith("| # |"))
    assert "| human-norm | human players |" in header
    greedy = next(line for line in md.splitlines() if "| greedy |" in line).split(" | ")
    assert greedy[header.split(" | ").index("human players")] == "5" and "median over players" in md
    table = {r["agent"]: r for r in csv.DictReader(io.StringIO(to_csv(by_env)))}
    assert table["greedy"]["human_players"] == "5" and float(table["greedy"]["human_reference"]) == 20.0
    assert "<th>human players</th>" in to_html(by_env) and "<td>5</td>" in to_html(by_env)
    from rich.console import Console

    console = Console(width=200, record=True)
    print_table(by_env, console)
    text = console.export_text()
    assert "players" in text and "median over players" in text
    below = {r["agent"]: r for r in csv.DictReader(io.StringIO(to_csv(build_entries(_rows(2), reps=50))))}
    assert below["greedy"]["human_players"] == "2" and below["greedy"]["human_reference"] == ""


def test_leaderboard_min_players_option(tmp_path, capsys) -> None:
    db = tmp_path / "lb.sqlite"
    with LeaderboardStore(db) as store:
        for row in _rows(3):
            store.add_result({k: v for k, v in row.items() if k != "id"})
    assert main(["leaderboard", "--db", str(db), "--format", "csv"]) == 0
    greedy = next(r for r in csv.DictReader(io.StringIO(capsys.readouterr().out)) if r["agent"] == "greedy")
    assert greedy["human_normalised"] == "" and greedy["human_players"] == "3"
    assert main(["leaderboard", "--db", str(db), "--format", "csv", "--min-players", "3"]) == 0
    greedy = next(r for r in csv.DictReader(io.StringIO(capsys.readouterr().out)) if r["agent"] == "greedy")
    assert float(greedy["human_normalised"]) == pytest.approx(0.5)  # median of -50, 10, 20 is 10
    assert main(["leaderboard", "--db", str(db), "--min-players", "0"]) == 2
    assert "min_players must be at least 1" in capsys.readouterr().err
