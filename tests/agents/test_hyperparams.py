"""Tuned entries (``repgym/agents/hyperparams/<agent>.toml``): every shipped entry is valid, an entry is chosen by
env id and the env arguments it names, and ``repgym train`` uses it unless told otherwise."""

from __future__ import annotations

import fnmatch
import json
import sys
from pathlib import Path

import gymnasium as gym
import pytest
from training_helpers import StopAfter

import repgym  # noqa: F401  (registers the repgym ids)
from repgym.agents import AGENTS, hyperparams, make_agent
from repgym.agents.hyperparams import all_entries, tuned_entry
from repgym.agents.training import make_training_env, train_agent
from repgym.cli import main
from repgym.runs import Checkpoint

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[2]
ENTRIES = all_entries()
# Smaller boards where an entry's env takes them: construction only has to see the agent accept the values.
TINY = {"repgym/BubbleBreaker-v0": {"rows": 5, "cols": 5, "colours": 3}, "repgym/SameGame-v0": {"rows": 5, "cols": 5}}
SMALL_QR = """\
["CartPole-v1"]
n_timesteps = 200
tuned = "test entry"
learning_starts = 50
net_arch = [8]
n_quantiles = 4
batch_size = 16
log_interval = 100
"""


def test_the_shipped_files_cover_the_reference_configurations() -> None:
    shipped = {(e.agent, e.key) for e in ENTRIES}
    wanted = {("qr-dqn", "CartPole-v1"), ("qr-dqn", "repgym/BubbleBreaker-v0"),
              ("qr-dqn", "repgym/KeyToDoor-v0 delay=5"), ("qr-dqn", "repgym/Umbrella-v0 delay=5"),
              ("lookahead", "repgym/BubbleBreaker-v0"), ("lookahead", "repgym/SameGame-v0"),
              ("sb3-sac", "repgym/TwoLinkReach-v0"), ("sb3-sac", "repgym/TwoLinkReachZeroG-v0"),
              ("sb3-ppo", "CartPole-v1"), ("world-model", "repgym/KeyToDoor-v0 delay=20")}  # fmt: skip
    assert wanted <= shipped
    assert tuned_entry("world-model", "repgym/KeyToDoor-v0").env_kwargs["obs_mode"] == "pixels"


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.label for e in ENTRIES])
def test_every_entry_names_a_registered_env_and_agent_and_builds_it(entry) -> None:
    assert entry.agent in AGENTS and entry.env_id in gym.registry
    assert entry.tuned and entry.n_timesteps >= 1 and entry.n_envs >= 1
    env = make_training_env(entry.env_id, {**entry.env_kwargs, **TINY.get(entry.env_id, {})}, min(entry.n_envs, 2))
    agent = make_agent(entry.agent, env, seed=0, **entry.hyperparameters)
    assert agent.num_timesteps == 0
    saved = {**agent._save_meta(), **agent._save_hyperparameters()}  # what a checkpoint records: the entry's values
    for name, value in entry.hyperparameters.items():
        assert json.loads(json.dumps(saved[name])) == value, name


def test_the_package_data_rule_ships_every_file() -> None:
    rules = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["repgym"]
    files = [p.relative_to(ROOT / "repgym").as_posix() for p in hyperparams.FOLDER.glob("*.toml")]
    assert files and all(any(fnmatch.fnmatch(f, rule) for rule in rules) for f in files)


def test_an_entry_is_chosen_by_env_id_and_the_arguments_it_names() -> None:
    bubble = "repgym/BubbleBreaker-v0"
    eight = {"rows": 8, "cols": 8, "colours": 4}
    assert tuned_entry("qr-dqn", bubble, eight).key == f"{bubble} rows=8 cols=8 colours=4"
    assert tuned_entry("qr-dqn", bubble, {"rows": 8, "cols": 8}).key == bubble  # the most specific that fits
    assert tuned_entry("qr-dqn", bubble).key == bubble
    assert tuned_entry("qr-dqn", "repgym/KeyToDoor-v0", {"delay": 5}).env_kwargs == {"delay": 5}
    assert tuned_entry("qr-dqn", "repgym/KeyToDoor-v0").env_config == {"delay": 20, "obs_mode": "symbolic"}  # defaults
    assert tuned_entry("qr-dqn", "repgym/KeyToDoor-v0", {"obs_mode": "pixels"}) is None  # an argument it names
    assert tuned_entry("qr-dqn", "repgym/KeyToDoor-v0", {"delay": 5.0}) is not None
    assert tuned_entry("world-model", "repgym/KeyToDoor-v0").key == "repgym/KeyToDoor-v0 delay=20"  # a default
    assert tuned_entry("world-model", "repgym/KeyToDoor-v0", {"delay": 5}) is None
    assert tuned_entry("sb3-ppo", "repgym/KeyToDoor-v0") is None
    assert tuned_entry("sb3-ppo", "repgym/KeyToDoor-v0", {"obs_mode": "pixels"}) is not None
    assert tuned_entry("qr-dqn", "Acrobot-v1") is None and tuned_entry("c51-dqn", "CartPole-v1") is None


def test_two_entries_that_fit_alike_are_an_error(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(hyperparams, "FOLDER", tmp_path)
    entries = ['["repgym/KeyToDoor-v0 delay=5"]', '["repgym/KeyToDoor-v0 size=5"]']
    (tmp_path / "qr-dqn.toml").write_text("".join(f'{key}\nn_timesteps = 10\ntuned = "t"\n' for key in entries))
    with pytest.raises(ValueError, match=r"entries \[\"repgym/KeyToDoor-v0 delay=5\"\] and .*size=5.* both fit"):
        tuned_entry("qr-dqn", "repgym/KeyToDoor-v0", {"delay": 5})
    assert tuned_entry("qr-dqn", "repgym/KeyToDoor-v0", {"delay": 6}).key == "repgym/KeyToDoor-v0 size=5"


@pytest.fixture
def small_qr(tmp_path, monkeypatch) -> Path:
    """A folder of tuned entries with one small qr-dqn entry for CartPole-v1, in place of the shipped ones."""
    folder = tmp_path / "hyperparams"
    folder.mkdir()
    (folder / "qr-dqn.toml").write_text(SMALL_QR)
    monkeypatch.setattr(hyperparams, "FOLDER", folder)
    return folder


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def test_train_uses_the_entry_and_says_so(small_qr, tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["train", "qr-dqn", "CartPole-v1", "--out", str(out), "--eval-episodes", "0"]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first == ('using tuned entry qr-dqn.toml ["CartPole-v1"] (n_timesteps=200; tuned: test entry); --set, '
                     "--env-set, --steps override it")  # fmt: skip
    summary = _summary(out)
    assert summary["tuned_entry"] == 'qr-dqn.toml ["CartPole-v1"]' and summary["total_steps"] == 200
    expected = {k: v for k, v in tomllib.loads(SMALL_QR)["CartPole-v1"].items() if k not in ("n_timesteps", "tuned")}
    assert summary["settings"]["hyperparameters"] == expected and summary["settings"]["steps"] == 200
    assert Checkpoint.read(out / "checkpoint").hyperparameters["n_quantiles"] == 4


def test_set_steps_and_env_set_override_the_entry(small_qr, tmp_path, capsys) -> None:
    out = tmp_path / "run"
    argv = ["train", "qr-dqn", "CartPole-v1", "--out", str(out), "--eval-episodes", "0", "--steps", "120",
            "--set", "n_quantiles=6", "--set", "gamma=0.9", "--env-set", "sutton_barto_reward=true"]  # fmt: skip
    assert main(argv) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.endswith("; --set overrides gamma, n_quantiles; --env-set overrides sutton_barto_reward; "
                          "--steps overrides n_timesteps")  # fmt: skip
    settings = _summary(out)["settings"]
    assert settings["steps"] == 120 and settings["env_kwargs"] == {"sutton_barto_reward": True}
    assert settings["hyperparameters"]["n_quantiles"] == 6 and settings["hyperparameters"]["gamma"] == 0.9
    assert settings["hyperparameters"]["net_arch"] == [8]  # the entry's, not overridden
    assert Checkpoint.read(out / "checkpoint").hyperparameters["n_quantiles"] == 6


def test_no_tuned_trains_with_the_plain_defaults(small_qr, tmp_path, capsys) -> None:
    out = tmp_path / "run"
    argv = ["train", "qr-dqn", "CartPole-v1", "--no-tuned", "--steps", "60", "--set", "net_arch=8", "--out",
            str(out), "--eval-episodes", "0"]  # fmt: skip
    assert main(argv) == 0
    assert "tuned entry" not in capsys.readouterr().out
    summary = _summary(out)
    assert summary["tuned_entry"] is None and summary["settings"]["hyperparameters"] == {"net_arch": 8}
    assert Checkpoint.read(out / "checkpoint").hyperparameters["n_quantiles"] == 200  # DQNConfig's default
    assert main(["train", "qr-dqn", "CartPole-v1", "--no-tuned", "--out", str(tmp_path / "b")]) == 2
    assert "give --steps" in capsys.readouterr().err


def test_without_an_entry_steps_are_required_in_one_line(small_qr, tmp_path, capsys) -> None:
    assert main(["train", "qr-dqn", "Acrobot-v1", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("repgym train: error: no tuned entry for qr-dqn on Acrobot-v1") and "\n" not in err
    assert str(small_qr / "qr-dqn.toml") in err and err.endswith("give --steps")
    assert main(["train", "c51-dqn", "CartPole-v1", "--out", str(tmp_path / "run")]) == 2  # no c51-dqn.toml at all
    assert "no tuned entry for c51-dqn on CartPole-v1" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_rerunning_the_same_command_resumes_with_the_entry(small_qr, tmp_path) -> None:
    kwargs = {"hyperparameters": {"n_quantiles": 6}, "out_dir": tmp_path, "eval_episodes": 0, "tuned": True}
    first = train_agent("qr-dqn", "CartPole-v1", None, stop=StopAfter(80), **kwargs)
    assert (first.finished, first.total_steps, first.target_steps) == (False, 80, 200)
    said = []
    second = train_agent("qr-dqn", "CartPole-v1", None, announce=said.append, **kwargs)
    assert said[0].startswith('using tuned entry qr-dqn.toml ["CartPole-v1"]')
    assert said[0].endswith("--set overrides n_quantiles")
    assert said[1] == f"resuming qr-dqn from step 80 of 200 in {tmp_path}"
    assert second.finished and second.total_steps == 200
    other = {"hyperparameters": {"n_quantiles": 6}, "out_dir": tmp_path / "other", "eval_episodes": 0}
    train_agent("qr-dqn", "CartPole-v1", 200, stop=StopAfter(10), tuned=True, **other)
    with pytest.raises(ValueError, match="other settings"):  # without the entry: other hyperparameters
        train_agent("qr-dqn", "CartPole-v1", 200, **other)


BAD_FILES = {
    "not TOML": ("qr-dqn.toml", '["CartPole-v1"\nn_timesteps = 10\n', "not valid TOML"),
    "unknown hyperparameter": ("qr-dqn.toml", SMALL_QR + "learnin_rate = 0.1\n",
                               "entry [\"CartPole-v1\"]: qr-dqn has no hyperparameter 'learnin_rate' (did you mean "
                               "'learning_rate'?)"),
    "bad type": ("qr-dqn.toml", SMALL_QR.replace("n_quantiles = 4", 'n_quantiles = "4"'),
                 "entry [\"CartPole-v1\"]: n_quantiles = '4' is a str; qr-dqn expects int"),
    "unregistered env": ("qr-dqn.toml", SMALL_QR.replace("CartPole-v1", "CartPole-v9"),
                         "entry [\"CartPole-v9\"]: 'CartPole-v9' is not a registered env id"),
    "unregistered agent": ("qr-dqm.toml", SMALL_QR, "no agent is registered as 'qr-dqm'"),
    "no budget": ("qr-dqn.toml", SMALL_QR.replace("n_timesteps = 200", ""), "n_timesteps must be a positive integer"),
    "no note": ("qr-dqn.toml", SMALL_QR.replace('tuned = "test entry"', ""),
                "tuned must say how the values were found"),
    "bad name": ("qr-dqn.toml", SMALL_QR.replace('["CartPole-v1"]', '["CartPole-v1 delay"]'),
                 "'delay' in the name is not an env argument written name=value"),
    "not a table": ("qr-dqn.toml", "n_timesteps = 5\n", "'n_timesteps' is not an entry"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_malformed_file_is_one_line_naming_the_file_and_entry(case, tmp_path, monkeypatch) -> None:
    name, text, message = BAD_FILES[case]
    (tmp_path / name).write_text(text)
    monkeypatch.setattr(hyperparams, "FOLDER", tmp_path)
    with pytest.raises(ValueError) as error:
        all_entries()
    assert str(error.value).startswith(f"{tmp_path / name}: ") and message in str(error.value)
    assert "\n" not in str(error.value)


def test_train_names_the_malformed_file(tmp_path, monkeypatch, capsys) -> None:
    (tmp_path / "qr-dqn.toml").write_text(SMALL_QR.replace("n_quantiles = 4", "n_quantiles = 4.5"))
    monkeypatch.setattr(hyperparams, "FOLDER", tmp_path)
    assert main(["train", "qr-dqn", "CartPole-v1", "--steps", "10", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert f'{tmp_path / "qr-dqn.toml"}: entry ["CartPole-v1"]: n_quantiles = 4.5 is a float' in err
    assert "\n" not in err
