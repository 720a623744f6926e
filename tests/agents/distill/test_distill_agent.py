"""The distilled policy: move probabilities from cell logits, the teacher's targets, imitation on a tiny board,
save/load, the CLI and its errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import repgym  # noqa: F401  (registers the ids)
from repgym.agents import AGENTS, load_agent, make_agent
from repgym.agents.distill.learning import Teacher, group_log_probs
from repgym.agents.distill.network import group_sizes, policy_planes
from repgym.agents.lookahead import load_value
from repgym.agents.lookahead.engine import make_engine
from repgym.envs.bubble import policies, rules
from repgym.envs.bubble.rules import BubbleConfig

TINY = {"rows": 6, "cols": 6, "colours": 3}
TEACHER_NET = {"games": 16, "channels": 16, "blocks": 2, "hidden": 32, "batch_size": 64, "learning_starts": 500,
               "exploration_steps": 2000}  # fmt: skip
STUDENT_NET = {"channels": 16, "blocks": 2, "games": 16, "batch_size": 64, "learning_starts": 200, "mix_steps": 1500}


@pytest.fixture(scope="module")
def teacher_path(tmp_path_factory):
    """A small look-ahead agent trained for 3000 moves on 6x6 boards, saved: the teacher of these tests."""
    torch.set_num_threads(1)
    agent = make_agent("lookahead", "repgym/BubbleBreaker-v0", env_kwargs=TINY, seed=0, **TEACHER_NET)
    agent.learn(3000)
    return agent.save(tmp_path_factory.mktemp("teacher") / "la")


def test_group_probabilities_sum_their_cells() -> None:
    """A move's probability is the softmax mass of its group's cells; cells outside groups get none."""
    labels = torch.tensor([[0, 0, -1, 3, 3, 3]])  # groups at cells {0, 1} and {3, 4, 5}; cell 2 is alone
    logits = torch.tensor([[0.0, 1.0, 9.0, 2.0, 0.0, -1.0]])
    log_p = group_log_probs(logits, labels)
    cell_p = torch.softmax(torch.tensor([0.0, 1.0, 2.0, 0.0, -1.0]), dim=0)  # the five clickable cells
    assert torch.allclose(log_p[0, 0].exp(), cell_p[:2].sum())
    assert torch.allclose(log_p[0, 3].exp(), cell_p[2:].sum())
    assert torch.isinf(log_p[0, [1, 2, 4, 5]]).all()
    assert torch.isinf(group_log_probs(logits, torch.full((1, 6), -1))).all()  # no move: nothing, and no nan


def test_policy_planes_mark_groups_and_their_sizes() -> None:
    config = BubbleConfig(rows=3, cols=3, colours=2)
    board = np.array([[1, 1, 2], [2, 1, 2], [1, 2, 1]], np.int8)  # group {0,1,4} of colour 1, group {2,5} of 2
    labels = rules.label_groups(board, config)
    assert group_sizes(labels)[0].tolist() == [[3, 3, 2], [0, 3, 2], [0, 0, 0]]
    x = policy_planes(board, config)
    assert x.shape == (1, 3 + 2, 3, 3)  # empty + 2 colours, then clickable and log(1 + size)
    assert x[0, -2].tolist() == [[1, 1, 1], [0, 1, 1], [0, 0, 0]]
    assert torch.allclose(x[0, -1, 0, 0], torch.log1p(torch.tensor(3.0)))


def test_teacher_targets_are_a_distribution_over_moves_peaked_on_its_choice(teacher_path) -> None:
    value = load_value(teacher_path)
    config = value.config
    teacher = Teacher(value, make_engine(config, "numpy"), temperature=0.05)
    boards = rules.initial_state(np.arange(1, 9, dtype=np.uint64), config).board
    targets, best = teacher.label(boards)
    labels = rules.label_groups(boards, config).reshape(8, -1)
    assert np.allclose(targets.sum(axis=1), 1.0, atol=1e-5)
    reps = labels == np.arange(config.n_cells)
    assert (targets[~reps] == 0).all()  # mass only on the moves' representative cells
    assert np.array_equal(targets.argmax(axis=1), best)
    hot = Teacher(value, make_engine(config, "numpy"), temperature=100.0).label(boards)[0]
    assert hot.max(axis=1).mean() < targets.max(axis=1).mean()  # a hotter teacher spreads its mass


def imitation(agent, teacher_path, n: int = 256) -> tuple[float, float]:
    """``(agreement, KL)`` of the agent with the teacher on positions a few random moves into fresh boards: how
    often its move is the teacher's best, and the mean KL divergence from the teacher's targets to its moves."""
    value = load_value(teacher_path)
    config = value.config
    teacher = Teacher(value, make_engine(config, "numpy"), temperature=0.05)
    rng = np.random.default_rng(123)
    state = rules.initial_state(rng.integers(0, 2**63, size=n, dtype=np.uint64) + np.uint64(10**6), config)
    for _ in range(3):  # a few random moves in, so that the positions are not all first moves
        live = np.flatnonzero(rules.has_moves(state.board, config))
        cells = policies.random_group(state.board[live], config, rng)
        state.board[live] = rules.step(state.index(live), cells, config).state.board
    boards = state.board[rules.has_moves(state.board, config)]
    targets, best = teacher.label(boards)
    labels = rules.label_groups(boards, config)
    with torch.no_grad():
        log_p = group_log_probs(agent.net(policy_planes(boards, config, labels)), torch.from_numpy(labels.reshape(
            boards.shape[0], -1)))  # fmt: skip
    t = torch.from_numpy(targets)
    kl = float((t * (t.clamp_min(1e-30).log() - log_p.clamp_min(-1e4))).sum(dim=1).mean())
    planes = (boards[:, None] == np.arange(config.colours + 1)[None, :, None, None]).astype(np.uint8)
    return float((agent.predict(planes)[0] == best).mean()), kl


def test_distillation_imitates_the_teacher_with_a_fixed_seed(teacher_path) -> None:
    """After 3000 moves of DAgger (4 updates a move) the student's KL divergence from the teacher's targets has
    fallen by a fifth and it plays the teacher's move more often (measured: KL 0.81 -> 0.59, agreement 0.54 ->
    0.61; an untrained network already leans to big groups through its size plane, so its agreement is far above
    the 1-in-8 of chance)."""
    student = make_agent("distill", "repgym/BubbleBreaker-v0", env_kwargs=TINY, seed=0, teacher=str(teacher_path),
                         **{**STUDENT_NET, "gradient_steps": 4})  # fmt: skip
    agree_before, kl_before = imitation(student, teacher_path)
    student.learn(3000)
    agree_after, kl_after = imitation(student, teacher_path)
    assert student._dagger.updates > 600 and student.num_timesteps >= 3000
    assert kl_after < 0.8 * kl_before, (kl_before, kl_after)
    assert agree_after > agree_before + 0.05, (agree_before, agree_after)


def test_save_load_predict_and_latents(teacher_path, tmp_path) -> None:
    assert "distill" in AGENTS
    agent = make_agent("distill", "repgym/BubbleBreaker-v0", env_kwargs=TINY, seed=1, teacher=str(teacher_path),
                       **STUDENT_NET)  # fmt: skip
    agent.learn(400)
    env = agent.env
    batch = np.stack([env.reset(seed=s)[0] for s in range(6)])
    actions = agent.predict(batch)[0]
    masks = np.stack([env.reset(seed=s)[1]["action_mask"] for s in range(6)])
    assert masks[np.arange(6), actions].all()  # every move is legal
    agent.save(tmp_path / "d")
    meta = json.loads((tmp_path / "d" / "agent.json").read_text())
    assert meta["agent"] == "distill" and meta["hyperparameters"]["teacher"] == str(teacher_path)
    loaded = load_agent(tmp_path / "d")
    assert np.array_equal(loaded.predict(batch)[0], actions) and loaded.num_timesteps == agent.num_timesteps
    loaded.learn(100)  # training resumes from the saved network and optimiser
    assert list(agent.latent_modules()) == ["policy.conv0", "policy.conv1", "policy.conv2", "policy.logits"]


def test_policy_averaging_acts_with_averaged_weights_that_survive_save_and_load(teacher_path, tmp_path) -> None:
    agent = make_agent("distill", "repgym/BubbleBreaker-v0", env_kwargs=TINY, seed=1, teacher=str(teacher_path),
                       policy_averaging=0.9, **STUDENT_NET)  # fmt: skip
    agent.learn(600)
    trained, acting = agent._dagger.net, agent.acting_net
    assert acting is not trained and agent._dagger.updates > 0
    assert not all(torch.equal(a, b) for a, b in zip(acting.parameters(), trained.parameters(), strict=True))
    assert agent.latent_modules()["policy.logits"] is acting.logits  # analysers read the network that acts
    agent.save(tmp_path / "d")
    loaded = load_agent(tmp_path / "d")
    for name, value in acting.state_dict().items():
        assert torch.equal(loaded.acting_net.state_dict()[name], value), name
    for name, value in trained.state_dict().items():
        assert torch.equal(loaded._dagger.net.state_dict()[name], value), name
    batch = np.stack([agent.env.reset(seed=s)[0] for s in range(6)])
    assert np.array_equal(loaded.predict(batch)[0], agent.predict(batch)[0])
    with pytest.raises(ValueError, match=r"policy_averaging must be in \[0, 1\)"):
        make_agent("distill", "repgym/BubbleBreaker-v0", env_kwargs=TINY, policy_averaging=1.0)


def test_clear_errors() -> None:
    no_teacher = make_agent("distill", "repgym/BubbleBreaker-v0", env_kwargs=TINY, seed=0, **STUDENT_NET)
    with pytest.raises(ValueError, match="learns from a teacher"):
        no_teacher.learn(10)
    with pytest.raises(ValueError, match="unknown distill hyperparameter"):
        make_agent("distill", "repgym/BubbleBreaker-v0", env_kwargs=TINY, gamma=0.9)
    with pytest.raises(ValueError, match="Continuous ones"):
        make_agent("distill", "repgym/BubbleBreakerContinuous-v0")
    wrong = make_agent("distill", "repgym/BubbleBreaker-v0", env_kwargs={"rows": 5, "cols": 5, "colours": 3},
                       teacher="zoo:lookahead-bb")  # fmt: skip
    with pytest.raises(ValueError, match="trained on 14x10"):
        wrong.learn(10)


def test_train_eval_and_analyze_from_the_command_line(teacher_path, tmp_path, capsys) -> None:
    """``repgym train distill`` with a teacher, then ``eval`` and ``analyze`` on the checkpoint it wrote."""
    from repgym.analysis.tidy import Table
    from repgym.cli import main

    out = tmp_path / "run"
    args = ["train", "distill", "repgym/BubbleBreaker-v0", "--steps", "300", "--out", str(out), "--eval-episodes", "2",
            "--env-set", "rows=6", "--env-set", "cols=6", "--env-set", "colours=3", "--set", f"teacher={teacher_path}",
            "--set", "games=8", "--set", "channels=8", "--set", "blocks=1", "--set", "learning_starts=50"]  # fmt: skip
    assert main(args) == 0
    assert main(["eval", str(out / "checkpoint"), "--episodes", "3"]) == 0
    assert "distill on repgym/BubbleBreaker-v0" in capsys.readouterr().out
    assert main(["analyze", str(out / "checkpoint"), "--states", "60", "--episodes", "1", "--out",
                 str(tmp_path / "analysis"), "--only", "probes", "ablation"]) == 0  # fmt: skip
    table = Table.read_json(tmp_path / "analysis" / "table.json")
    assert {r.layer for r in table.filter(analyzer="ablation")} == {"policy.conv0", "policy.conv1", "policy.logits"}
