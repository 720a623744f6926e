"""``repgym delay-curve``: its jobs (tuned budgets, --steps elsewhere), its points, and the command end to end."""

from __future__ import annotations

import json

import pytest

from repgym.benchmark.delay_curve import PEOPLE, curve_points, delay_jobs
from repgym.benchmark.store import LeaderboardStore
from repgym.cli import main

UMBRELLA = "repgym/Umbrella-v0"


def _by(jobs, agent: str) -> dict[int, list]:
    """``agent``'s jobs by the delay in their env_kwargs (Umbrella's default, 20, is the canonical ``{}``)."""
    out: dict[int, list] = {}
    for job in jobs:
        if job.agent == agent:
            out.setdefault(job.env_kwargs.get("delay", 20), []).append(job)
    return out


def test_delay_jobs_use_tuned_entries_and_steps_elsewhere():
    jobs = delay_jobs(["Umbrella-v0"], [0, 5, 20, 80], ["qr-dqn", "policy:random"], seeds=2, episodes=3, steps=123)
    assert len(jobs) == 4 * 2 * 2  # delays x agents x seeds
    qr, random = _by(jobs, "qr-dqn"), _by(jobs, "random")
    assert sorted(qr) == sorted(random) == [0, 5, 20, 80]
    assert all(sorted(j.seed for j in js) == [0, 1] for js in [*qr.values(), *random.values()])
    assert {(j.train_steps, json.dumps(j.hyperparameters)) for j in qr[5]} == {(20_000, '{"n_steps": 6}')}
    assert {j.train_steps for j in qr[0]} == {5_000} and {j.train_steps for j in qr[20]} == {100_000}
    assert {(j.train_steps, json.dumps(j.hyperparameters)) for j in qr[80]} == {(123, "{}")}
    assert {j.train_steps for js in random.values() for j in js} == {0}
    assert {json.dumps(j.env_kwargs) for j in qr[20]} == {"{}"}  # the reference suite's config, so its rows count


def test_delay_jobs_name_the_learners_without_a_budget():
    with pytest.raises(ValueError, match=r"no tuned entry for qr-dqn on Umbrella-v0 at delay 80, 320: give --steps"):
        delay_jobs(["Umbrella-v0"], [5, 80, 320], ["qr-dqn"], seeds=1, episodes=1)
    assert len(delay_jobs(["Umbrella-v0"], [5], ["qr-dqn"], seeds=1, episodes=1)) == 1  # tuned: no --steps needed
    with pytest.raises(ValueError, match="policy:greedy cannot play"):
        delay_jobs(["Umbrella-v0"], [5], ["policy:greedy"], seeds=1, episodes=1)


def _row(agent: str, delay: int, success: float | None, kind: str = "agent", episodes: int = 4) -> dict:
    return {"kind": kind, "env_id": UMBRELLA, "env_kwargs": {"delay": delay}, "agent": agent, "success_rate": success,
            "returns": [0.0] * episodes, "train_steps": None if kind == "human" else 0, "cpu_time_s": 1.0,
            "protocol": "human" if kind == "human" else "deterministic"}  # fmt: skip


def test_curve_points_skip_rows_without_success_and_pool_people():
    notes: list[str] = []
    rows = [_row("random", 5, 0.5), _row("random", 5, 1.0), _row("random", 0, None),
            _row("human:ann", 5, None, kind="human")]  # fmt: skip
    points = curve_points(rows, notes)
    (point,) = points[UMBRELLA]["policy:random"]
    assert (point.delay, point.success, point.per_seed, point.n) == (5, 0.75, [0.5, 1.0], 2)
    assert any("policy:random's rows carry none" in n for n in notes)
    assert any("people's rows carry no success rate" in n for n in notes) and PEOPLE not in points[UMBRELLA]
    people = curve_points([_row("human:ann", 5, 1.0, "human", 1), _row("human:bo", 5, 0.0, "human", 3)])
    assert people[UMBRELLA][PEOPLE][0].success == 0.25  # pooled over episodes: 1 of 4


def test_rows_of_other_settings_than_the_tuned_entry_are_their_own_curve():
    """Umbrella delay 5 has a tuned qr-dqn entry (``n_steps = 6``): rows trained with it are ``qr-dqn``; rows trained
    with the defaults or other settings are never averaged into that point."""
    tuned, plain, other = (_row("qr-dqn", 5, s) for s in (1.0, 0.5, 0.0))
    tuned["hyperparameters"], plain["hyperparameters"] = {"n_steps": 6}, {}
    other["hyperparameters"] = {"n_steps": 6, "gamma": 0.9}
    points = curve_points([tuned, plain, other])[UMBRELLA]
    assert {label: pts[0].success for label, pts in points.items()} == {
        "qr-dqn": 1.0, "qr-dqn (defaults)": 0.5, "qr-dqn (gamma=0.9)": 0.0}  # fmt: skip
    untuned = _row("qr-dqn", 80, 0.25)  # no entry at delay 80: the defaults are what it trains with there
    untuned["hyperparameters"] = {}
    assert list(curve_points([untuned])[UMBRELLA]) == ["qr-dqn"]


def _cli(db: str, out: str, *extra: str) -> list[str]:
    return ["delay-curve", "--games", "Umbrella-v0", "--agents", "policy:optimal", "policy:random", "--delays", "0",
            "2", "--seeds", "2", "--episodes", "6", "--workers", "1", "--no-progress", "--db", db, "--out", out,
            *extra]  # fmt: skip


def test_delay_curve_command_end_to_end(tmp_path, capsys):
    db, out = str(tmp_path / "curves.sqlite"), tmp_path / "out"
    assert main(_cli(db, str(out))) == 0
    assert "ran 8 jobs" in capsys.readouterr().out
    with LeaderboardStore(db, read_only=True) as store:
        rows = store.rows()
    by = {(r["agent"], r["env_kwargs"]["delay"], r["seed"]): r["success_rate"] for r in rows}
    assert {v for (agent, _, _), v in by.items() if agent == "optimal"} == {1.0}
    random = {k[1:]: v for k, v in by.items() if k[0] == "random"}
    assert random == pytest.approx({(0, 0): 4 / 6, (0, 1): 2 / 6, (2, 0): 0.5, (2, 1): 0.5})  # fixed seeds

    curves = json.loads((out / "delay_curve.json").read_text())["curves"][UMBRELLA]
    for label, agent in (("policy:optimal", "optimal"), ("policy:random", "random")):
        assert [p["delay"] for p in curves[label]] == [0, 2]
        for p in curves[label]:
            seeds = [by[(agent, p["delay"], s)] for s in (0, 1)]
            assert p["per_seed"] == seeds and p["success"] == pytest.approx(sum(seeds) / 2) and p["n"] == 2
    assert (out / "Umbrella-v0.png").stat().st_size > 1000

    assert main(_cli(db, str(out))) == 0  # resumable: nothing left to run
    assert "ran 0 jobs" in capsys.readouterr().out
    assert main(["delay-curve", "--plot-only", "--db", db, "--out", str(tmp_path / "again")]) == 0
    again = json.loads((tmp_path / "again" / "delay_curve.json").read_text())["curves"][UMBRELLA]
    assert again == curves and (tmp_path / "again" / "Umbrella-v0.png").stat().st_size > 1000


def test_delay_curve_without_agents_or_budget_is_one_line(tmp_path, capsys):
    assert main(["delay-curve", "--db", str(tmp_path / "db.sqlite")]) == 2
    assert "give --agents" in capsys.readouterr().err
    assert main(["delay-curve", "--games", "Umbrella-v0", "--agents", "qr-dqn", "--delays", "80", "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "give --steps N" in err


def test_each_agent_keeps_its_colour_in_every_game():
    """An agent missing from one game's figure does not shift the others' colours there."""
    from repgym.benchmark.delay_curve import CurvePoint, _figure, curve_colours

    point = CurvePoint(20, 1.0, [1.0], 1, [0], None)
    points = {
        "repgym/Umbrella-v0": {"policy:random": [point], "rudder": [point], "sb3-recurrent-ppo": [point]},
        "repgym/KeyToDoor-v0": {"rudder": [point], "sb3-recurrent-ppo": [point]},
    }
    colours = curve_colours(points)
    assert colours == {"policy:random": "C0", "rudder": "C1", "sb3-recurrent-ppo": "C2"}
    drawn = {}
    for game, curves in points.items():
        ax = _figure(game, curves, colours).axes[0]
        drawn[game] = {line.get_label().split(" (")[0]: line.get_color() for line in ax.get_lines()[: len(curves)]}
    assert drawn["repgym/KeyToDoor-v0"] == {"rudder": "C1", "sb3-recurrent-ppo": "C2"}
    assert drawn["repgym/Umbrella-v0"]["rudder"] == drawn["repgym/KeyToDoor-v0"]["rudder"]


def test_the_legend_says_when_some_delays_have_fewer_seeds():
    from repgym.benchmark.delay_curve import CurvePoint, _figure

    full, partial = CurvePoint(80, 0.5, [0.0, 1.0, 0.5], 3, [0], None), CurvePoint(320, 1.0, [1.0], 1, [0], None)
    curves = {"qr-dqn": [full, partial], "rudder": [full, full._replace(delay=320)]}
    labels = [line.get_label() for line in _figure("repgym/Umbrella-v0", curves, {"qr-dqn": "C0", "rudder": "C1"})
              .axes[0].get_lines()[:2]]  # fmt: skip
    assert labels == ["qr-dqn (n=1-3)", "rudder (n=3)"]
