"""Training that survives interruption: ``repgym train`` stopped by a signal resumes with the same command, every agent
family stops at a step boundary when asked, run folders are never overwritten by accident, and metric rows are
never repeated."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from training_helpers import StopAfter

import repgym  # noqa: F401
from repgym.agents.callbacks import StopTraining, stop_on_signals
from repgym.agents.logger import CSV_FILE, RunLogger, truncate_metrics
from repgym.agents.training import train_agent
from repgym.cli import main
from repgym.runs import Checkpoint

HERE = Path(__file__).parent
SMALL_DQN = {"learning_starts": 100, "net_arch": [16], "batch_size": 16, "n_quantiles": 8, "log_interval": 100}
PAUSE_AT, TOTAL = 400, 900


def _metric_rows(out: Path) -> list[dict[str, str]]:
    with (out / "logs" / CSV_FILE).open(newline="") as f:
        return list(csv.DictReader(f))


def test_interrupted_train_resumes_with_the_same_command(tmp_path):
    out = tmp_path / "qr"
    argv = [sys.executable, "-m", "repgym", "train", "qr-dqn", "training_helpers:PausingCartPole-v0", "--steps",
            str(TOTAL), "--out", str(out), "--eval-episodes", "1"]  # fmt: skip
    argv += [w for key, value in SMALL_DQN.items() for w in ("--set", f"{key}={value}")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")]))}
    first = subprocess.Popen(argv, env={**env, "REPGYM_TEST_PAUSE_AT": str(PAUSE_AT)}, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert first.stdout.readline().strip() == f"paused at step {PAUSE_AT}"  # training is under way, waiting
        first.send_signal(signal.SIGINT)
        _, err = first.communicate("\n", timeout=300)  # let the env step return: learning stops right after it
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 130, err
    (line,) = [text for text in err.splitlines() if "resume with:" in text]
    assert f"SIGINT at step {PAUSE_AT} of {TOTAL}" in line and "resume with: repgym train qr-dqn" in line
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"] is False and summary["target_steps"] == TOTAL
    assert Checkpoint.read(out / "checkpoint").num_timesteps == PAUSE_AT
    logged = _metric_rows(out)
    assert max(int(r["step"]) for r in logged) == PAUSE_AT

    again = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == f"resuming qr-dqn from step {PAUSE_AT} of {TOTAL} in {out}"
    assert Checkpoint.read(out / "checkpoint").num_timesteps == TOTAL
    summary = json.loads((out / "summary.json").read_text())
    assert summary["finished"] is True and summary["total_steps"] == summary["steps"] == TOTAL
    rows = _metric_rows(out)
    assert rows[: len(logged)] == logged  # the interrupted part's rows are kept as they were
    counts = Counter((r["step"], r["metric"]) for r in rows)
    assert max(counts.values()) == 1  # no (step, metric) twice
    steps = {int(r["step"]) for r in rows if r["metric"] == "rollout/epsilon"}
    assert {100, PAUSE_AT, PAUSE_AT + 100, TOTAL} <= steps and max(steps) == TOTAL


FAMILIES = {
    "qr-dqn": ("CartPole-v1", {}, {"learning_starts": 50, "net_arch": [8]}, 500),
    "sb3-ppo": ("CartPole-v1", {}, {"n_steps": 64, "batch_size": 32, "n_epochs": 1}, 500),
    "lookahead": ("repgym/BubbleBreaker-v0", {"rows": 4, "cols": 4, "colours": 3},
                  {"games": 2, "channels": 4, "blocks": 1, "hidden": 8, "batch_size": 8, "learning_starts": 10_000},
                  500),
    "world-model": ("repgym/KeyToDoor-v0", {"obs_mode": "pixels", "delay": 2},
                    {"channels": 2, "latent_dim": 4, "hidden": 8, "vae_epochs": 1, "rnn_epochs": 1, "popsize": 4},
                    1000),
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_every_agent_family_stops_at_a_step_boundary_and_saves_an_unfinished_run(tmp_path, name):
    env_id, env_kwargs, hyperparameters, steps = FAMILIES[name]
    stop = StopAfter(2)  # the world model's steps are its V+M phase and then whole CMA-ES generations
    result = train_agent(name, env_id, steps, hyperparameters=hyperparameters, env_kwargs=env_kwargs,
                         out_dir=tmp_path, eval_episodes=0, stop=stop)  # fmt: skip
    assert not result.finished and result.total_steps < steps and result.target_steps == steps
    assert stop.calls == 0  # learn went no further than the step that set the flag
    assert Checkpoint.read(tmp_path / "checkpoint").num_timesteps == result.total_steps
    assert json.loads((tmp_path / "summary.json").read_text())["finished"] is False


def test_a_resumed_run_reaches_the_target_of_the_first(tmp_path):
    kwargs = {"hyperparameters": SMALL_DQN, "out_dir": tmp_path, "eval_episodes": 0, "checkpoint_every": 100}
    first = train_agent("qr-dqn", "CartPole-v1", 300, stop=StopAfter(150), **kwargs)
    assert (first.finished, first.total_steps) == (False, 150)
    said = []
    second = train_agent("qr-dqn", "CartPole-v1", 300, announce=said.append, **kwargs)
    assert said == [f"resuming qr-dqn from step 150 of 300 in {tmp_path}"]
    assert second.finished and second.total_steps == second.steps == 300
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step_100", "step_200", "step_300"]
    assert max(Counter((r["step"], r["metric"]) for r in _metric_rows(tmp_path)).values()) == 1


def test_a_run_resumes_from_its_last_periodic_checkpoint_after_a_crash(tmp_path):
    kwargs = {"hyperparameters": SMALL_DQN, "out_dir": tmp_path, "eval_episodes": 0, "checkpoint_every": 100}
    train_agent("qr-dqn", "CartPole-v1", 300, stop=StopAfter(250), **kwargs)
    # what a SIGKILL after step_200 leaves: no final checkpoint, the state pointing at step_200, rows beyond it
    state = json.loads((tmp_path / "summary.json").read_text())
    (tmp_path / "summary.json").write_text(json.dumps({**state, "resume_from": "checkpoints/step_200"}))
    said = []
    result = train_agent("qr-dqn", "CartPole-v1", 300, announce=said.append, **kwargs)
    assert said == [f"resuming qr-dqn from step 200 of 300 in {tmp_path}"] and result.total_steps == 300
    assert max(Counter((r["step"], r["metric"]) for r in _metric_rows(tmp_path)).values()) == 1


def test_a_finished_run_or_other_settings_are_refused_in_one_line(tmp_path, capsys):
    out = str(tmp_path / "run")
    base = ["train", "qr-dqn", "CartPole-v1", "--steps", "200", "--out", out, "--eval-episodes", "0",
            "--set", "learning_starts=50", "--set", "net_arch=8"]  # fmt: skip
    assert main(base) == 0
    capsys.readouterr()
    assert main(base) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "holds a finished run" in err and "--overwrite" in err
    assert main([*base, "--overwrite"]) == 0
    capsys.readouterr()  # the same settings as the command, tuned entry included:
    train_agent("qr-dqn", "CartPole-v1", 200, hyperparameters={"learning_starts": 50, "net_arch": 8}, out_dir=out,
                eval_episodes=0, stop=StopAfter(20), overwrite=True, tuned=True)  # fmt: skip
    assert main([*base, "--seed", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "interrupted run with other settings (seed 0 there, 1 here)" in err


def test_a_folder_with_another_runs_files_is_not_trained_into(tmp_path):
    (tmp_path / "logs").mkdir()
    with pytest.raises(ValueError, match="holds files of another run.*--overwrite"):
        train_agent("qr-dqn", "CartPole-v1", 10, out_dir=tmp_path, eval_episodes=0)


def test_signals_set_the_flag_once_then_interrupt():
    stop = StopTraining()
    # Python's own Ctrl-C handler, as in a terminal (a test worker started in the background may ignore SIGINT)
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with stop_on_signals(stop):
            os.kill(os.getpid(), signal.SIGTERM)
            assert stop.is_set() and stop.reason == "SIGTERM"
            with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C interrupts at once
                os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGINT, inherited)


def test_the_logger_never_repeats_a_row_and_resumes_after_truncation(tmp_path):
    logger = RunLogger(tmp_path, tensorboard=False)
    for step in (10, 20, 20, 30):
        logger.record("loss", step / 10, step)
    logger.close()
    truncate_metrics(tmp_path, 20)
    logger = RunLogger(tmp_path, tensorboard=False)
    logger.record("loss", 9.0, 20)  # logged before the checkpoint: not again
    logger.record("loss", 3.5, 30)
    logger.close()
    with (tmp_path / CSV_FILE).open(newline="") as f:
        assert [(r["step"], r["value"]) for r in csv.DictReader(f)] == [("10", "1.0"), ("20", "2.0"), ("30", "3.5")]
