"""``repgym play`` and ``repgym replay`` from the command line: output, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pygame

from repgym.cli import main


def test_play_then_replay(tmp_path: Path, capsys) -> None:
    pygame.init()
    for key in (pygame.K_UP, pygame.K_LEFT, pygame.K_q):
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))
    assert main(["play", "repgym/KeyToDoor-v0", "--seed", "4", "--set", "delay=3", "--record-dir", str(tmp_path),
                 "--player", "cli"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    path = Path(out.strip().removeprefix("recorded to "))
    assert path.parent == tmp_path and path.exists()
    header = json.loads(path.read_text().splitlines()[0])
    assert header["env_kwargs"] == {"delay": 3} and header["seed"] == 4 and header["player"] == "cli"
    assert main(["replay", str(path)]) == 0
    assert capsys.readouterr().out.startswith(f"verified {path.name}: repgym/KeyToDoor-v0, 1 episode, 2 steps")


def test_replay_errors_are_one_line(tmp_path: Path, capsys) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"kind": "header"}\n')
    assert main(["replay", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("repgym replay: error: bad.jsonl line 1: checksum mismatch")
    assert main(["replay", str(tmp_path / "missing.jsonl")]) == 2
    assert "No such file" in capsys.readouterr().err


def test_play_unknown_env_is_one_line(tmp_path: Path, capsys) -> None:
    assert main(["play", "repgym/Nope-v0", "--record-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Nope" in err
    assert main(["play", "repgym/Umbrella-v0", "--set", "delay=-2", "--record-dir", str(tmp_path)]) == 2
    assert "delay must be an integer >= 0" in capsys.readouterr().err


def test_help_mentions_play_and_replay(capsys) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "play" in out and "replay" in out
