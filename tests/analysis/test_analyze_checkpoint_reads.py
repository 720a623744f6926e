"""`analyze_checkpoint` reads each checkpoint's weights once and never its replay buffer."""

from __future__ import annotations

from pathlib import Path

import gymnasium as gym
import pytest
import torch

import repgym  # noqa: F401
from repgym.agents import make_agent
from repgym.analysis.analyze import analyze_checkpoint

TINY = {"rows": 4, "cols": 4, "colours": 3}
SMALL_QR = {"cnn_channels": (4,), "cnn_hidden": 8, "buffer_size": 64, "learning_starts": 16, "batch_size": 8}


def _trained_checkpoint(path: Path, seed: int) -> Path:
    agent = make_agent("qr-dqn", gym.make("repgym/BubbleBreaker-v0", **TINY), seed=seed, **SMALL_QR)
    agent.learn(80)  # more steps than the buffer holds: a full replay buffer
    agent.save(path)
    assert (path / "replay.pt").is_file()
    return path


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Every file ``torch.load`` reads from now on."""
    seen: list[Path] = []
    original = torch.load

    def recording(f, *args, **kwargs):
        seen.append(Path(f))
        return original(f, *args, **kwargs)

    monkeypatch.setattr(torch, "load", recording)
    return seen


def test_analyze_checkpoint_reads_weights_once_and_never_the_replay_buffer(tmp_path: Path, loads) -> None:
    torch.set_num_threads(1)
    first = _trained_checkpoint(tmp_path / "qr0", seed=0)
    second = _trained_checkpoint(tmp_path / "qr1", seed=1)
    settings = {"states": 40, "episodes": 1, "max_episode_steps": 20, "progress": False}
    loads.clear()
    analyze_checkpoint(first, out_dir=tmp_path / "one", **settings)
    assert loads == [first / "weights.pt"]
    loads.clear()
    report = analyze_checkpoint(first, compare=second, out_dir=tmp_path / "two", **settings)
    assert sorted(loads) == [first / "weights.pt", second / "weights.pt"]
    assert "## Comparison with the second agent" in report.read_text()
