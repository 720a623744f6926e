"""The ``repgym`` command: help, version, list, and one-line errors."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import pytest

import repgym
from repgym.cli import main, parse_settings
from repgym.envs.registry import all_envs


def test_version_and_help(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"repgym {repgym.__version__}"
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "list" in out and "stats" in out and "examples:" in out


def test_every_command_has_help_with_a_description(capsys) -> None:
    """Each sub-command's ``--help`` exits cleanly and says more than its name (the CLI package wires them all)."""
    from repgym.cli import build_parser

    _, handlers = build_parser()
    assert {"list", "stats", "play", "replay", "shift", "solve", "train", "eval", "analyze"} <= set(handlers)
    for command in handlers:
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0, command
        out = capsys.readouterr().out
        assert out.startswith(f"usage: repgym {command}"), command
        assert len(out.splitlines()) > 3, command


def test_list_names_every_env_and_policy(capsys) -> None:
    assert main(["list", "--format", "md"]) == 0
    out = capsys.readouterr().out
    for entry in all_envs():
        assert f"`{entry.id}`" in out
    assert "policy:greedy" in out and "policy:tabu-colour" in out
    assert "policy:random" in out and "policy:optimal" in out  # every baseline, by the name bench --agents takes
    assert "policy:expert" in out and "1000 playouts per move" in out  # the expert and its search budget


def test_console_script_runs() -> None:
    result = subprocess.run([sys.executable, "-m", "repgym.cli", "list"], capture_output=True, text=True, check=True)
    assert "repgym/SameGame-v0" in result.stdout


def test_settings_parsing() -> None:
    assert parse_settings(["rows=8", "variant=shifter", "max_new_columns=None", "x=1.5", "flag=true"]) == {
        "rows": 8, "variant": "shifter", "max_new_columns": None, "x": 1.5, "flag": True,
    }  # fmt: skip
    with pytest.raises(ValueError, match="key=value"):
        parse_settings(["rows"])


def test_unexpected_errors_are_one_line_unless_debugging(capsys, monkeypatch) -> None:
    """An argument SB3 or an env does not take surfaces as one line (exit 1); REPGYM_DEBUG shows the traceback."""
    monkeypatch.delenv("REPGYM_DEBUG", raising=False)
    args = ["train", "sb3-ppo", "CartPole-v1", "--steps", "10", "--set", "nosuch=1", "--eval-episodes", "1"]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "TypeError" in err and "nosuch" in err and "REPGYM_DEBUG=1" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("REPGYM_DEBUG", "1")
    with pytest.raises(TypeError, match="nosuch"):
        main(args)


def test_a_checkpoint_that_does_not_fit_the_env_is_a_clear_error(tmp_path) -> None:
    from repgym.agents import load_agent, make_agent

    make_agent("qr-dqn", "CartPole-v1", net_arch=[8]).save(tmp_path / "qr")
    with pytest.raises(ValueError, match="does not fit this env: its qr-dqn network was built for CartPole-v1"):
        load_agent(tmp_path / "qr", env=gym.make("Acrobot-v1"))
