"""How closely a distilled policy (``repgym train distill``) follows its look-ahead teacher.

Plays the student's own games (``--games`` games in lockstep for ``--moves`` moves, the student choosing every
move, as DAgger does once the teacher's share reaches 0), has the teacher label every position, and prints, per
teacher temperature: the student's cross-entropy to the teacher's move distribution, the targets' entropy, their
difference (the KL the training loss can still remove), and the share of positions on which the student's most
probable move is the teacher's best one::

    python benchmarks/distill_agreement.py runs/train/checkpoint
    python benchmarks/distill_agreement.py zoo:distill-bb --moves 60 --temperatures 0.05 0.01
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

import repgym  # noqa: F401  (registers the ids)
from repgym.agents import load_agent
from repgym.agents.distill.learning import group_log_probs
from repgym.agents.distill.network import policy_planes
from repgym.envs.bubble import rules


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="a distill checkpoint (folder or zoo:NAME)")
    p.add_argument("--moves", type=int, default=40, help="lockstep moves of the student's games (default: 40)")
    p.add_argument("--temperatures", type=float, nargs="+", default=[0.05, 0.02, 0.01])
    p.add_argument("--seed", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(1)
    agent = load_agent(args.checkpoint)
    if agent.name != "distill":
        raise SystemExit(f"{args.checkpoint} holds a {agent.name} agent, not distill")
    dagger = agent._dagger
    dagger.teacher = agent._teacher()
    dagger.rng = np.random.default_rng(args.seed)
    boards = []
    for _ in range(args.moves):
        dagger.step(0.0)  # the student plays every move (beta 0)
        boards.append(dagger.state.board.copy())
    board = np.concatenate(boards)
    labels = rules.label_groups(board, agent.config)
    playable = labels.reshape(len(board), -1).max(axis=1) >= 0
    board, labels = board[playable], labels[playable]
    with torch.no_grad():
        log_p = group_log_probs(agent.net(policy_planes(board, agent.config, labels)),
                                torch.from_numpy(labels.reshape(len(board), -1)))  # fmt: skip
    print(f"{args.checkpoint}: {len(board)} positions of the student's own games")
    for temperature in args.temperatures:
        dagger.teacher.temperature = temperature
        targets, best = dagger.teacher.label(board)
        t = torch.from_numpy(targets)
        cross_entropy = -(t * log_p.clamp_min(-1e4)).sum(1).mean().item()
        entropy = -(t * t.clamp_min(1e-30).log()).sum(1).mean().item()
        agreement = float((log_p.argmax(1).numpy() == best).mean())
        kl = cross_entropy - entropy
        print(f"  temperature {temperature:g}: cross-entropy {cross_entropy:.3f}, target entropy {entropy:.3f}, "
              f"KL {kl:.3f} nats; student's top move = teacher's best on {agreement:.1%}")  # fmt: skip


if __name__ == "__main__":
    main()
