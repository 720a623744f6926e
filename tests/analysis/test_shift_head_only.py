"""``repgym shift --head-only``: the extra phase runs end to end on a tiny budget, its agent's body stays frozen
(so the pre-shift CKA of every body layer is 1), and the fine-tuned agent's is recorded alongside."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rich.console import Console

from repgym.analysis.gravity_shift import ShiftConfig, run_shift, summary_table
from repgym.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:.*Box observation space (maximum|minimum).*:UserWarning")


def test_shift_head_only_runs_end_to_end(tmp_path, capsys) -> None:
    out = tmp_path / "shift"
    argv = [
        "shift", "--env", "repgym/TwoLinkReach-v0", "--agent", "sb3-sac", "--steps", "60", "--seeds", "1",
        "--eval-every", "30", "--eval-episodes", "1", "--set", "max_episode_steps=20", "--hp", "learning_starts=20",
        "--hp", 'policy_kwargs={"net_arch": [8, 8]}', "--head-only", "--cka-states", "40", "--out", str(out),
    ]  # fmt: skip
    assert main(argv) == 0
    assert "head-only fine-tune final return" in capsys.readouterr().out
    data = json.loads((out / "shift.json").read_text())
    seed = data["seeds"][0]
    assert seed["head_only"]["steps"] == [0, 30, 60]
    assert seed["head_only"]["returns"][0] == seed["zero_shot"]  # the copy starts from the source agent
    cka = seed["cka"]
    assert set(cka) == {"finetune", "head_only"} and "actor.latent_pi.0" in cka["head_only"]
    for layer in ("actor.latent_pi.0", "actor.latent_pi.2"):  # frozen body: the same features, CKA exactly 1
        assert cka["head_only"][layer] == pytest.approx(1.0)
    assert data["summary"]["cka_head_only:actor.latent_pi.0"]["n"] == 1
    assert (out / "shift.png").stat().st_size > 10_000


def test_shift_head_only_with_a_repgym_dqn(tmp_path) -> None:
    config = ShiftConfig(
        "repgym/TwoLinkReach-v0", agent="qr-dqn", steps=60, seeds=1, eval_every=60, eval_episodes=1, bins=3,
        env_kwargs={"max_episode_steps": 20}, head_only=True, cka_states=30,
        hyperparameters={"net_arch": [8], "learning_starts": 10, "n_quantiles": 4},
    )  # fmt: skip
    console = Console(width=200, record=True, file=open(tmp_path / "log", "w"))  # noqa: SIM115
    result = run_shift(config, out_dir=None, console=console)
    cka = result.seeds[0].cka
    assert cka["head_only"]["torso.fc1"] == pytest.approx(1.0) and np.isfinite(cka["finetune"]["torso.fc1"])
    assert "CKA pre-shift vs head_only, torso.fc1" in console.export_text()
    assert "CKA" in str(summary_table(result).columns[0]._cells)


def test_cka_states_must_allow_debiased_cka(tmp_path) -> None:
    config = ShiftConfig("repgym/TwoLinkReach-v0", head_only=True, cka_states=2)
    with pytest.raises(ValueError, match="cka_states"):
        run_shift(config, out_dir=tmp_path, console=Console(file=open(tmp_path / "log", "w")))  # noqa: SIM115
