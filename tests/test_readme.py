"""The README's quick start stays true: CI runs the README's test command, and the ids it names exist."""

from __future__ import annotations

import re
from pathlib import Path

import gymnasium as gym

import repgym  # noqa: F401

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)\n```", readme, flags=re.S)
    test_command = blocks[1].split("&&")[-1].strip()
    assert test_command.startswith("python -m pytest")
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_readme_ids_are_registered() -> None:
    readme = (ROOT / "README.md").read_text()
    for env_id in set(re.findall(r"repgym/[A-Za-z]+-v\d+", readme)):
        assert env_id in gym.registry, env_id
