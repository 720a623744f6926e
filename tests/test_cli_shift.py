"""``repgym shift``: a small real run with Stable-Baselines3 through the command line, and its argument errors."""

from __future__ import annotations

import json

import pytest

from repgym.cli import main, parse_hyperparameters

pytestmark = pytest.mark.filterwarnings("ignore:.*Box observation space (maximum|minimum).*:UserWarning")


def test_shift_runs_end_to_end(tmp_path, capsys) -> None:
    out = tmp_path / "shift"
    argv = [
        "shift", "--env", "repgym/TwoLinkReach-v0", "--agent", "sb3-ppo", "--train-gravity", "0",
        "--test-gravity", "9.81", "--steps", "64", "--seeds", "2", "--eval-every", "32", "--eval-episodes", "1",
        "--set", "max_episode_steps=25", "--hp", "n_steps=32", "--hp", "batch_size=32", "--hp", "n_epochs=1",
        "--hp", 'policy_kwargs={"net_arch": [8]}', "--out", str(out),
    ]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "zero-shot drop" in printed and "90% threshold" in printed
    data = json.loads((out / "shift.json").read_text())
    assert data["config"]["hyperparameters"]["policy_kwargs"] == {"net_arch": [8]}
    assert [s["seed"] for s in data["seeds"]] == [0, 1]
    for seed in data["seeds"]:
        for phase in ("source", "finetune", "scratch"):
            assert seed[phase]["steps"] == [0, 32, 64]
        assert seed["zero_shot"] == seed["finetune"]["returns"][0]
    assert data["summary"]["zero_shot_drop"]["n"] == 2 and (out / "shift.png").stat().st_size > 10_000


def test_shift_errors_are_one_line(capsys, tmp_path) -> None:
    assert main(["shift", "--env", "repgym/BubbleBreaker-v0", "--steps", "10", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("repgym shift: error:") and "gravity" in err and err.count("\n") == 1
    assert main(["shift", "--env", "repgym/TwoLinkReach-v0", "--agent", "nope", "--steps", "10",
                 "--out", str(tmp_path)]) == 2  # fmt: skip
    assert "unknown agent" in capsys.readouterr().err


def test_hyperparameter_parsing() -> None:
    assert parse_hyperparameters(["learning_rate=0.001", "policy_kwargs={\"net_arch\": [64, 64]}", "ent=auto"]) == {
        "learning_rate": 0.001, "policy_kwargs": {"net_arch": [64, 64]}, "ent": "auto",
    }  # fmt: skip
    with pytest.raises(ValueError, match="JSON"):
        parse_hyperparameters(["policy_kwargs={net_arch: 1}"])
