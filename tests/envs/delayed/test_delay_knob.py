"""The delay knob makes the games harder for the benchmark's tabular learner (a fast slice of
``benchmarks/delay_difficulty.py``), and the benchmark script runs end to end."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def bench(benchmark_script):
    return benchmark_script("delay_difficulty")


@pytest.mark.parametrize("game, short, long", [("Umbrella", 0, 40), ("HiddenSequence", 1, 12)])
def test_longer_delay_is_harder(bench, game: str, short: int, long: int) -> None:
    cfg = bench.QLambdaConfig(episodes=300, eval_episodes=100)
    easy = bench.train_and_evaluate(f"repgym/{game}-v0", short, seed=0, cfg=cfg)
    hard = bench.train_and_evaluate(f"repgym/{game}-v0", long, seed=0, cfg=cfg)
    assert easy == 1.0 and hard < 0.7


def test_benchmark_script_quick(bench, tmp_path: Path, capsys) -> None:
    bench.main(["--quick", "--games", "Umbrella", "HiddenSequence", "--out", str(tmp_path / "d.png")])
    out = capsys.readouterr().out
    assert "Umbrella" in out and "delay 5" in out and (tmp_path / "d.png").stat().st_size > 0
