"""``repgym bench | leaderboard | record`` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from leaderboard_helpers import forge_reward, record_session

from repgym.benchmark import make_jobs
from repgym.cli import main
from repgym.listing import agent_rows


@pytest.fixture()
def db(tmp_path):
    return str(tmp_path / "lb.sqlite")


def _bench(db: str, *extra: str) -> list[str]:
    return ["bench", "--envs", "Umbrella-v0", "--agents", "random", "optimal", "--seeds", "2", "--episodes", "3",
            "--workers", "1", "--no-progress", "--db", db, *extra]  # fmt: skip


def test_bench_fills_the_database_then_resumes(db, capsys):
    assert main(_bench(db, "--dry-run")) == 0  # a dry run lists the jobs and creates nothing
    assert "4 of 4 jobs to run" in capsys.readouterr().out and not Path(db).exists()
    assert main(_bench(db)) == 0
    out = capsys.readouterr().out
    assert "ran 4 jobs" in out and "4 finished, 0 failed" in out
    assert "repgym/Umbrella-v0" in out and "optimal" in out and "random" in out
    assert main(_bench(db, "--dry-run")) == 0
    assert "0 of 4 jobs to run" in capsys.readouterr().out
    assert main(_bench(db)) == 0
    assert "4 already finished were skipped" in capsys.readouterr().out


def test_leaderboard_formats(db, tmp_path, capsys):
    assert main(_bench(db)) == 0
    capsys.readouterr()
    assert main(["leaderboard", "--db", db, "--format", "md"]) == 0
    md = capsys.readouterr().out
    assert "### repgym/Umbrella-v0" in md and "| 1 | optimal |" in md
    assert main(["leaderboard", "--db", db, "--format", "csv", "--env", "Umbrella-v0"]) == 0
    assert capsys.readouterr().out.count("repgym/Umbrella-v0,") == 2
    html = tmp_path / "lb.html"
    assert main(["leaderboard", "--db", db, "--format", "html", "--out", str(html)]) == 0
    assert "data:image/png;base64," in html.read_text()
    assert main(["leaderboard", "--db", db]) == 0
    assert "IQM [95% CI]" in capsys.readouterr().out


def test_a_copied_database_resumes_where_the_original_stopped(db, tmp_path, capsys):
    assert main(_bench(db)) == 0
    copy = tmp_path / "results" / "suite.sqlite"
    capsys.readouterr()
    assert main(["leaderboard", "--db", db, "--copy-to", str(copy)]) == 0
    assert f"(4 result rows) to {copy}" in capsys.readouterr().out
    assert main(_bench(str(copy), "--dry-run")) == 0  # every job of the copy is finished: nothing left to run
    assert "0 of 4 jobs to run" in capsys.readouterr().out
    assert main(["leaderboard", "--db", db, "--copy-to", str(copy), "--env", "Umbrella-v0"]) == 2
    assert "--copy-to copies the whole database" in capsys.readouterr().err


def test_a_foreign_database_is_one_clear_error(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("not a database, but precious\n" * 10)
    assert main(["leaderboard", "--db", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not an SQLite database" in err and "left untouched" in err
    assert path.read_text() == "not a database, but precious\n" * 10


def test_reading_a_missing_leaderboard_creates_nothing(tmp_path, capsys):
    path = tmp_path / "none.sqlite"
    assert main(["leaderboard", "--db", str(path)]) == 2
    assert "no leaderboard at" in capsys.readouterr().err and not path.exists()


def test_unknown_env_and_agent_are_user_errors(db, capsys):
    assert main(["bench", "--envs", "Nope-v0", "--db", db]) == 2
    assert "unknown env 'Nope-v0'" in capsys.readouterr().err


def test_record_writes_videos(tmp_path, capsys):
    out = tmp_path / "videos"
    assert main(["record", "optimal", "repgym/KeyToDoor-v0", "--set", "delay=2", "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert [p.name for p in out.iterdir()] == ["optimal-KeyToDoor-v0-episode-0.mp4"]


def test_help_has_examples(capsys):
    for command in ("bench", "leaderboard", "record"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "examples:" in capsys.readouterr().out


def test_leaderboard_submit_verifies_then_adds(tmp_path, db, capsys):
    good, bad = record_session(tmp_path / "a"), record_session(tmp_path / "b")
    forge_reward(bad, reforge=True)
    assert main(["leaderboard", "submit", str(good), "--db", db]) == 0
    assert "replay verified; human:alice" in capsys.readouterr().out
    assert main(["leaderboard", "submit", str(bad), "--db", db]) == 2
    assert "recorded reward" in capsys.readouterr().err
    assert main(["leaderboard", "--db", db, "--format", "md"]) == 0
    assert capsys.readouterr().out.count("human:alice") == 1


def test_bench_takes_the_names_repgym_list_prints_and_says_what_it_selected(db, capsys):
    argv = ["bench", "--envs", "Umbrella-v0", "--agents", "policy:random", "policy:optimal", "--seeds", "1",
            "--episodes", "2", "--workers", "1", "--no-progress", "--db", db]  # fmt: skip
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "repgym bench --envs Umbrella-v0 --agents policy:random policy:optimal: 2 jobs" in out
    assert "--suite" not in out
    bare = [{"policy:random": "random", "policy:optimal": "optimal"}.get(a, a) for a in argv]
    assert main(bare) == 0  # the bare names name the same jobs
    assert "2 already finished were skipped" in capsys.readouterr().out
    assert main(["bench", "--suite", "quick", "--envs", "Umbrella-v0", "--agents", "random", "--seeds", "1",
                 "--workers", "1", "--no-progress", "--db", db]) == 0  # fmt: skip
    assert "repgym bench --suite quick --envs Umbrella-v0 --agents random: 1 jobs" in capsys.readouterr().out


def test_every_baseline_repgym_list_names_is_a_bench_agent():
    listed = [name for name, _ in agent_rows() if name.startswith("policy:")]
    jobs = make_jobs("quick", agents=listed, seeds=1)
    assert {job.agent for job in jobs} == {name.removeprefix("policy:") for name in listed}


def test_reading_an_empty_file_is_refused_and_leaves_it_empty(tmp_path, capsys):
    path = tmp_path / "empty.sqlite"
    path.touch()
    assert main(["leaderboard", "--db", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a repgym leaderboard (empty file)" in err
    assert main(["bench", "--envs", "Umbrella-v0", "--dry-run", "--db", str(path)]) == 2
    assert "(empty file)" in capsys.readouterr().err
    assert path.stat().st_size == 0 and [p.name for p in tmp_path.iterdir()] == ["empty.sqlite"]


def test_bench_runs_the_expert_and_the_leaderboard_normalises_by_it(db, capsys):
    argv = ["bench", "--envs", "Umbrella-v0", "--agents", "policy:expert", "random", "--episodes", "5",
            "--workers", "1", "--no-progress", "--db", db]  # fmt: skip
    assert main(argv) == 0
    assert "4 jobs" in capsys.readouterr().out  # random: 3 seeds; the expert: one
    assert main(["leaderboard", "--format", "md", "--db", db]) == 0
    md = capsys.readouterr().out
    assert "| human-norm | human players | expert-norm | CPU |" in md
    expert = next(line for line in md.splitlines() if "| expert |" in line)
    assert expert.split(" | ")[-3] == "1.00"  # the expert is its own reference
    assert expert.split(" | ")[-2].endswith(" s")  # the CPU time its job took
    assert expert.split(" | ")[9] == "100%"  # Umbrella reports success: the expert always chooses right
