"""``repgym transfer``: the arms start where they should (scratch = a fresh agent, full = the source's returns),
the units kept follow the threshold, the summary's intervals are Student's t, and the CLI writes its outputs."""

from __future__ import annotations

import json
import math

import pytest

from repgym.agents import make_agent
from repgym.analysis.seed_stats import mean_ci, t_quantile_975
from repgym.analysis.transfer_experiment import FULL, HEAD_ONLY, SCRATCH, TransferConfig, run_transfer
from repgym.cli import main

ARCH = {"net_arch": [16, 8], "n_quantiles": 4, "learning_starts": 50, "exploration_steps": 100}
ENV = "repgym/Umbrella-v0"


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> str:
    """A qr-dqn trained briefly on Umbrella delay 2, saved as a checkpoint."""
    agent = make_agent("qr-dqn", ENV, env_kwargs={"delay": 2}, seed=0, **ARCH)
    agent.learn(300)
    path = tmp_path_factory.mktemp("source") / "checkpoint"
    agent.save(path)
    return str(path)


def test_mean_ci_is_students_t_interval() -> None:
    ci = mean_ci([1.0, 2.0, 3.0])
    assert ci.mean == 2.0 and ci.n == 3
    assert math.isclose(ci.half_width, 4.303 * 1.0 / math.sqrt(3), rel_tol=1e-9)
    assert mean_ci([5.0]).low == mean_ci([5.0]).high == 5.0
    assert t_quantile_975(100) == 1.96
    with pytest.raises(ValueError, match="at least one"):
        mean_ci([])


def test_arms_start_from_fresh_weights_or_the_source(source: str) -> None:
    config = TransferConfig(source, env_kwargs={"delay": 4}, thresholds=[0.5, 1.0], steps=100, seeds=2,
                            eval_every=100, eval_episodes=4, states=64)  # fmt: skip
    result = run_transfer(config, out_dir=None)
    assert config.arms == [SCRATCH, FULL, "g>=0.5", "g>=1"]
    assert result.target == {"id": ENV, "kwargs": {"delay": 4}}
    for seed in result.seeds:
        arms = seed.arms
        assert arms[SCRATCH].kept == {} and arms[SCRATCH].kept_fraction == 0.0
        assert arms[FULL].kept_fraction == 1.0
        assert 0.0 <= arms["g>=1"].kept_fraction <= arms["g>=0.5"].kept_fraction <= 1.0
        assert [c.curve.steps for c in arms.values()] == [[0, 100]] * 4
    # every seed's full arm starts as the source itself: the same zero-shot return on the same evaluation episodes
    zero_shot = {s.arms[FULL].curve.returns[0] for s in result.seeds}
    assert len(zero_shot) == 1
    summary = result.summary()
    assert summary[FULL]["kept_fraction"]["mean"] == 1.0
    assert set(summary) == set(config.arms)


def test_bad_thresholds_and_sources_fail_in_one_line(source: str) -> None:
    with pytest.raises(ValueError, match=r"thresholds must be in \(0, 1\]"):
        TransferConfig(source, thresholds=[1.5]).validate()
    with pytest.raises(ValueError, match="steps must be >= 1"):
        TransferConfig(source, steps=0).validate()


def test_cli_writes_json_and_png(source: str, tmp_path, capsys) -> None:
    out = tmp_path / "transfer"
    code = main(["transfer", source, "--set", "delay=3", "--thresholds", "0.5", "--steps", "60", "--seeds", "1",
                 "--eval-every", "60", "--eval-episodes", "2", "--states", "32", "--out", str(out)])  # fmt: skip
    assert code == 0
    data = json.loads((out / "transfer.json").read_text())
    assert data["experiment"] == "transfer-generality"
    assert list(data["summary"]) == [SCRATCH, FULL, "g>=0.5"]
    assert (out / "transfer.png").stat().st_size > 10_000
    printed = capsys.readouterr().out
    assert "scratch" in printed and "g>=0.5" in printed
    assert main(["transfer", source, "--thresholds", "2"]) != 0
    assert "thresholds must be in (0, 1]" in capsys.readouterr().err


def test_head_only_arm_keeps_the_body_and_reports_cka(source: str) -> None:
    config = TransferConfig(source, env_kwargs={"delay": 3}, thresholds=[0.5], steps=200, seeds=1, eval_every=200,
                            eval_episodes=2, states=48, head_only=True)  # fmt: skip
    result = run_transfer(config, out_dir=None)
    assert config.arms == [SCRATCH, FULL, HEAD_ONLY, "g>=0.5"]
    cka = result.seeds[0].cka
    assert set(cka) == {FULL, HEAD_ONLY}
    body = [layer for layer in cka[HEAD_ONLY] if not layer.startswith("head")]
    assert body and all(math.isclose(cka[HEAD_ONLY][layer], 1.0, abs_tol=1e-6) for layer in body)
    assert "cka" in result.summary()[HEAD_ONLY]


def test_a_rerun_resumes_finished_seeds_and_refuses_other_settings(source: str, tmp_path, monkeypatch) -> None:
    import repgym.analysis.transfer_experiment as experiment

    out = tmp_path / "resume"
    settings = {"env_kwargs": {"delay": 3}, "thresholds": [0.5], "steps": 60, "eval_every": 60, "eval_episodes": 2,
                "states": 32}  # fmt: skip
    first = run_transfer(TransferConfig(source, seeds=1, **settings), out_dir=out, plot=False)
    ran: list[int] = []
    real = experiment.run_transfer_seed
    monkeypatch.setattr(
        experiment, "run_transfer_seed", lambda c, k, t, seed, a: ran.append(seed) or real(c, k, t, seed, a)
    )
    second = run_transfer(TransferConfig(source, seeds=2, **settings), out_dir=out, plot=False)
    assert ran == [1]  # seed 0 came from transfer.json
    assert second.seeds[0].arms[FULL].curve.returns == first.seeds[0].arms[FULL].curve.returns
    assert [s.seed for s in second.seeds] == [0, 1]
    with pytest.raises(ValueError, match="other settings .*steps"):
        run_transfer(TransferConfig(source, seeds=2, **{**settings, "steps": 120}), out_dir=out, plot=False)
