"""The vision comparison benchmark (``benchmarks/world_vision_compare.py``) on planted data: every model gets finite
numbers, the probe reads a factor painted large into the frames, and a rerun skips the finished models."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from repgym.agents import load_agent
from repgym.worlds.data import Episode, save_shard


@pytest.fixture(scope="module")
def bench(benchmark_script):
    return benchmark_script("world_vision_compare")


def _planted_data(folder: Path, episodes: int = 6, steps: int = 8) -> None:
    """Episodes whose frames show a half-frame white block exactly when the factor ``lamp`` is 1 (a third of the
    frames), saved as a data folder of KeyToDoor (for its Discrete(4) action space)."""
    rng = np.random.default_rng(0)
    batch = []
    for j in range(episodes):
        lamp = (rng.random(steps + 1) < 0.33).astype(np.float32)
        frames = rng.integers(0, 40, (steps + 1, 64, 64, 3), dtype=np.uint8)
        frames[lamp == 1, :32] = 255
        level = rng.random(steps + 1).astype(np.float32)
        actions = rng.integers(0, 4, steps)
        zeros = np.zeros(steps, bool)
        batch.append(Episode(frames, actions, np.zeros(steps, np.float32), zeros, zeros.copy(),
                             {"lamp": lamp, "level": level}, j))  # fmt: skip
    folder.mkdir(parents=True)
    save_shard(folder / "shard-00000.npz", batch)
    manifest = {"env_id": "repgym/KeyToDoor-v0", "env_kwargs": {"obs_mode": "pixels"}, "episodes_per_shard": 10,
                "shards": [{"file": "shard-00000.npz", "episodes": episodes, "steps": episodes * steps}]}  # fmt: skip
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_comparison_on_planted_data(bench, tmp_path: Path, capsys) -> None:
    torch.set_num_threads(1)
    run = tmp_path / "run"
    _planted_data(run / "data")
    argv = ["--run", str(run), "--models", "vae", "gmmvq:0.3", "--probe", "lamp:cat", "--probe", "level@lamp==0",
            "--epochs", "1", "--channels", "4", "--rnn-epochs", "1", "--hidden", "8", "--folds", "3",
            "--no-progress"]  # fmt: skip
    results = bench.main(argv)
    saved = json.loads((run / "results.json").read_text())
    assert list(saved["models"]) == ["vae", "gmmvq:0.3"]
    assert math.isfinite(saved["data"]["mean_frame_mse"])
    for m in saved["models"].values():
        numbers = [m["val_recon_mse"], m["z_std"], m["memory"]["nll"], m["memory"]["baseline_nll"]]
        numbers += [v for p in m["probes"].values() for k, v in p.items() if k in ("r2", "accuracy", "chance")]
        assert all(math.isfinite(x) for x in numbers), m
        lamp = m["probes"]["lamp:cat"]
        assert lamp["split"] == "episode"
        assert lamp["accuracy"] >= lamp["chance"] and lamp["chance"] > 0.5
        assert m["probes"]["level@lamp==0"]["n"] < lamp["n"]  # the condition keeps the frames with the lamp off
    assert 0 < saved["models"]["gmmvq:0.3"]["codes"]["entropy"] <= saved["models"]["gmmvq:0.3"]["codes"]["max_entropy"]
    assert "| vae |" in (run / "table.md").read_text()
    assert results["models"].keys() == saved["models"].keys()

    capsys.readouterr()
    bench.main(argv)  # a rerun measures nothing again
    assert capsys.readouterr().out.count("done earlier, skipped") == 2


def test_specs_parse_and_bad_ones_are_named(bench) -> None:
    spec = bench.parse_model("gmmvq:0.5>0.05")
    assert (spec.temperature_start, spec.temperature, spec.folder) == (0.5, 0.05, "gmmvq-0.5-0.05")
    assert bench.parse_model("vae-features:1").pixel_weight == 1.0
    with pytest.raises(ValueError, match="gmmvq:T"):
        bench.parse_model("gmmvq")
    with pytest.raises(ValueError, match="unknown model 'ae'"):
        bench.parse_model("ae")
    p = bench.parse_probe("key_held:cat@room>=1")
    assert (p.factor, p.categorical, p.condition) == ("key_held", True, ("room", None, ">=", 1.0))
    states = {"key_held": np.array([0.0, 1.0, 1.0]), "room": np.array([0.0, 1.0, 2.0]),
              "position": np.array([[1.0, 2.0], [3.0, 4.0], [np.nan, np.nan]])}  # fmt: skip
    assert p.values(states)[1].tolist() == [False, True, True]
    y, mask = bench.parse_probe("position[1]").values(states)
    assert y[:2].tolist() == [2.0, 4.0] and mask.tolist() == [True, True, False]
    with pytest.raises(ValueError, match="bad probe spec"):
        bench.parse_probe("key held")
    with pytest.raises(ValueError, match="name one as position"):
        bench.parse_probe("position").values(states)


def test_controller_stage_writes_returns_and_is_skipped_on_rerun(bench, tmp_path: Path, capsys) -> None:
    torch.set_num_threads(1)
    run = tmp_path / "run"
    _planted_data(run / "data", episodes=4, steps=4)
    base = ["--run", str(run), "--models", "vae", "--probe", "lamp:cat", "--epochs", "1", "--channels", "4",
            "--rnn-epochs", "1", "--hidden", "8", "--folds", "2", "--no-progress"]  # fmt: skip
    control = ["--controller-popsize", "2", "--controller-episodes", "2", "--dream-tau", "1.0"]
    bench.main([*base, *control, "--controller-generations", "1"])
    saved = json.loads((run / "results.json").read_text())
    model = saved["models"]["vae"]
    c, d = model["controller_return"], model["dream_return"]["1"]
    assert c["generations"] == 1 and c["settings"]["popsize"] == 2 and c["env_steps"] > 0
    assert c["env_steps_with_data"] == c["env_steps"] + 4 * 4  # the search's steps and the data's
    assert c["cpu_seconds"] >= 0 and c["real"]["n"] == 2 and c["real"]["first_seed"] == 1_000_000
    assert math.isfinite(c["real"]["mean"]) and c["real"]["success_rate"] in (0.0, 0.5, 1.0)  # KeyToDoor reports it
    assert c["inputs_frozen"]["n"] == 2 and c["inputs_frozen"]["first_seed"] == 1_000_000
    assert d["settings"]["tau"] == 1.0 and d["dream_steps"] > 0 and math.isfinite(d["dream"]["mean"])
    assert math.isfinite(d["real"]["mean"])
    assert saved["random_return"]["n"] == 2 and saved["random_return"]["first_seed"] == 1_000_000
    assert sorted(saved["constant_return"]["actions"]) == ["0", "1", "2", "3"]  # KeyToDoor: Discrete(4)
    assert (run / "models" / "vae" / "controller" / "agent.json").is_file()
    table = (run / "table.md").read_text()
    assert "C real return (random" in table and "; always action" in table and "C frozen at its mean input" in table
    assert "C dream τ=1" in table and "CMA-ES popsize 2" in table

    without = json.loads((run / "results.json").read_text())  # as written before inputs_zeroed was measured
    del without["models"]["vae"]["controller_return"]["inputs_frozen"]
    (run / "results.json").write_text(json.dumps(without))
    capsys.readouterr()
    bench.main([*base, *control, "--controller-generations", "1"])  # a rerun trains nothing again...
    out = capsys.readouterr().out
    assert "vae: controller_return done earlier, skipped" in out and "vae: dream_return/1 done earlier" in out
    assert json.loads((run / "results.json").read_text())["models"]["vae"]["controller_return"] == c  # ...fills it

    with pytest.raises(ValueError, match="other settings"):  # a finished search cannot change its popsize
        bench.main([*base, "--controller-generations", "1", "--controller-popsize", "3", "--controller-episodes", "2"])
    bench.main([*base, *control[:4], "--controller-generations", "2"])  # more generations: the search goes on
    c2 = json.loads((run / "results.json").read_text())["models"]["vae"]["controller_return"]
    assert c2["generations"] == 2 and c2["env_steps"] > c["env_steps"] and c2["cpu_seconds"] >= c["cpu_seconds"]
    assert c2["settings"]["select"] == "best"

    bench.main([*base, *control[:4], "--controller-generations", "2", "--controller-select", "mean"])
    c3 = json.loads((run / "results.json").read_text())["models"]["vae"]["controller_return"]
    assert c3["settings"]["select"] == "mean" and c3["generations"] == 2  # replayed with the mean, no new search
    assert c3["env_steps"] == c2["env_steps"]
    mean = load_agent(run / "models" / "vae" / "controller")
    assert mean.config.select == "mean"
    assert np.allclose(mean.controller.get_flat(), mean.search.mean, atol=1e-6)  # float32 weights
    assert not np.allclose(mean.search.mean, mean.search.best)


def test_no_controller_stage_by_default(bench) -> None:
    args = bench.parse_args(["--run", "x"])
    assert args.controller_generations == 0 and args.dream_tau is None
    with pytest.raises(SystemExit):
        bench.parse_args(["--run", "x", "--dream-tau", "1.0"])  # a dream controller needs generations
