"""How the distilled policy learns: a look-ahead teacher labels positions, DAgger collects them, cross-entropy fits.

Targets. For a position, the teacher scores every legal move (a group) ``q = r + V(afterstate)`` with its value
network (a terminal afterstate is worth 0) and the target is ``softmax(q / (temperature * scale))`` over the moves,
``scale`` being the value network's own unit (about the mean return still to come): a low temperature puts nearly
all mass on the teacher's choice while keeping near-ties soft.

Moves, not cells. The network gives one logit per cell; a move's probability is the sum of the softmax over its
group's cells (all clicks on a group are the same move). The loss is the cross-entropy between the teacher's move
distribution and these group probabilities, and acting takes the most probable group.

DAgger (Ross et al. 2011). ``games`` games advance in lockstep; at each move every position is labelled and
stored, then each game plays the teacher's best move with probability ``beta`` (falling linearly from
``teacher_mix_start`` to ``teacher_mix_end``), else the student's, and with probability ``epsilon`` a uniformly
random move. Positions the student reaches by its own mistakes get labelled too, so it learns to recover from them.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import torch

from repgym.agents.averaging import average_into, averaged_copy
from repgym.agents.distill.config import DistillConfig
from repgym.agents.distill.network import PolicyNet, policy_planes
from repgym.agents.lookahead.afterstates import candidates
from repgym.agents.lookahead.engine import Engine
from repgym.agents.lookahead.value import ValueFunction
from repgym.envs.bubble import policies, rules
from repgym.envs.bubble.rules import BubbleConfig, BubbleState


def group_log_probs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """``(n, cells)`` log-probability of each move, indexed by its representative cell (``-inf`` elsewhere), from
    per-cell ``logits`` ``(n, cells)`` and :func:`rules.label_groups` ``labels`` ``(n, cells)`` (-1: not clickable).

    Boards without a clickable cell get ``-inf`` everywhere."""
    n, cells = logits.shape
    legal = labels >= 0
    masked = logits.masked_fill(~legal, float("-inf"))
    log_p = torch.log_softmax(masked, dim=1).nan_to_num(nan=float("-inf"))  # all-illegal rows: -inf, not nan
    p = log_p.exp()
    index = torch.where(legal, labels.long(), torch.full_like(labels, cells).long())
    groups = torch.zeros(n, cells + 1, dtype=p.dtype).scatter_add_(1, index, p)[:, :cells]
    return torch.where(groups > 0, groups.clamp_min(1e-30).log(), torch.full_like(groups, float("-inf")))


def best_moves(logits: torch.Tensor, labels: np.ndarray) -> np.ndarray:
    """``(n,) int64``: the most probable move (its representative cell) of each board; 0 for a board without one."""
    log_p = group_log_probs(logits, torch.from_numpy(labels.reshape(labels.shape[0], -1)))
    best = log_p.argmax(dim=1).numpy().astype(np.int64)
    return np.where(np.isfinite(log_p.max(dim=1).values.numpy()), best, 0)


def sample_moves(logits: torch.Tensor, labels: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(n,) int64``: a move of each board drawn from the network's move probabilities; 0 without one."""
    log_p = group_log_probs(logits, torch.from_numpy(labels.reshape(labels.shape[0], -1))).double().numpy()
    gumbel = -np.log(-np.log(rng.random(log_p.shape) + 1e-300) + 1e-300)
    score = log_p + gumbel
    best = score.argmax(axis=1).astype(np.int64)
    return np.where(np.isfinite(log_p.max(axis=1)), best, 0)


class Teacher:
    """The look-ahead teacher: for boards, the move distribution ``softmax(q / (temperature * scale))`` over each
    board's moves (mass on the representative cells) and its best move."""

    def __init__(self, value: ValueFunction, engine: Engine | None, temperature: float) -> None:
        self.value = value
        self.config = value.config
        self.engine = engine
        self.temperature = float(temperature)

    def label(self, boards: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(targets (n, cells) float32, best (n,) int64)``; a board without a move gets zeros and -1."""
        n, cells = boards.shape[0], self.config.n_cells
        cands = candidates(boards, self.config, self.engine)
        q = cands.reward.copy()
        live = ~cands.terminal
        if live.any():
            q[live] += self.value(cands.board[live])
        targets = np.zeros((n, cells), np.float64)
        best = np.full(n, -1, np.int64)
        if cands.move.size == 0:
            return targets.astype(np.float32), best
        z = q / (self.temperature * max(self.value.scale, 1e-9))
        top = np.full(n, -np.inf)
        np.maximum.at(top, cands.parent, z)
        w = np.exp(z - top[cands.parent])
        total = np.zeros(n)
        np.add.at(total, cands.parent, w)
        targets[cands.parent, cands.move] = w / total[cands.parent]
        order = np.lexsort((-q, cands.parent))
        boards_seen, first = np.unique(cands.parent[order], return_index=True)
        best[boards_seen] = cands.move[order[first]]
        return targets.astype(np.float32), best


class LabelledPositions:
    """Positions with their group labels and teacher targets, in a ring of ``capacity``."""

    def __init__(self, capacity: int, config: BubbleConfig) -> None:
        self.capacity = capacity
        self.boards = np.zeros((capacity, config.rows, config.cols), np.int8)
        self.labels = np.zeros((capacity, config.n_cells), np.int16)
        self.targets = np.zeros((capacity, config.n_cells), np.float16)
        self.size = 0
        self._next = 0

    def add(self, boards: np.ndarray, labels: np.ndarray, targets: np.ndarray) -> None:
        for start in range(0, boards.shape[0], self.capacity):
            stop = start + self.capacity
            idx = (self._next + np.arange(boards[start:stop].shape[0])) % self.capacity
            self.boards[idx] = boards[start:stop]
            self.labels[idx] = labels[start:stop].reshape(idx.size, -1)
            self.targets[idx] = targets[start:stop]
            self._next = int((idx[-1] + 1) % self.capacity)
            self.size = min(self.capacity, self.size + idx.size)

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        idx = rng.integers(0, self.size, n)
        return self.boards[idx], self.labels[idx].astype(np.int32), self.targets[idx].astype(np.float32)


class Dagger:
    """The games, labelled positions and optimiser of distillation; :meth:`step` advances them by one move."""

    def __init__(
        self,
        net: PolicyNet,
        config: BubbleConfig,
        hp: DistillConfig,
        rng: np.random.Generator,
        max_steps: int | None = None,
    ) -> None:
        self.net = net
        # The network that acts (the student's own moves here, predict and analysis in the agent): the trained one,
        # or a running average of its weights with policy_averaging > 0.
        self.acting_net = averaged_copy(net) if hp.policy_averaging > 0 else net
        self.config = config
        self.hp = hp
        self.rng = rng
        self.max_steps = max_steps
        self.optimizer = torch.optim.Adam(net.parameters(), lr=hp.learning_rate)
        self.positions = LabelledPositions(hp.buffer_size, config)
        self.teacher: Teacher | None = None
        self.state: BubbleState | None = None
        self.lengths = np.zeros(0, np.int64)
        self.scores: deque[float] = deque(maxlen=100)
        self.games_finished = 0
        self.updates = 0
        self.last_loss = float("nan")

    def step(self, beta: float) -> int:
        """One lockstep move of every game (teacher's move with probability ``beta``), then ``gradient_steps``
        updates once ``learning_starts`` positions are stored; returns the moves made."""
        if self.teacher is None:
            raise RuntimeError("set Dagger.teacher before stepping")
        if self.state is None:
            self.state = self._new_games(self.hp.games)
            self.lengths = np.zeros(self.hp.games, np.int64)
        state, config = self.state, self.config
        n = state.batch_size
        labels = rules.label_groups(state.board, config)
        targets, teacher_best = self.teacher.label(state.board)
        playing = np.flatnonzero(teacher_best >= 0)
        self.positions.add(state.board[playing], labels[playing], targets[playing])
        actions = teacher_best.copy()
        own = np.flatnonzero((self.rng.random(n) >= beta) & (teacher_best >= 0))
        if own.size:
            actions[own] = self.student_moves(state.board[own], labels[own])
        explore = np.flatnonzero((self.rng.random(n) < self.hp.epsilon) & (teacher_best >= 0))
        if explore.size:
            actions[explore] = policies.random_group(state.board[explore], config, self.rng)
        if playing.size:
            result = rules.step(state.index(playing), actions[playing], config)
            state.board[playing] = result.state.board
            state.new_columns[playing] = result.state.new_columns
            state.score[playing] = result.state.score
            self.lengths[playing] += 1
            ended = np.zeros(n, bool)
            ended[playing[result.terminal]] = True
        else:
            ended = np.zeros(n, bool)
        ended[teacher_best < 0] = True
        if self.max_steps is not None:
            ended |= self.lengths >= self.max_steps
        for g in np.flatnonzero(ended):
            self._restart(int(g))
        if self.positions.size >= max(self.hp.learning_starts, 1):
            for _ in range(self.hp.gradient_steps):
                self.update()
        return int(playing.size)

    def student_moves(self, boards: np.ndarray, labels: np.ndarray) -> np.ndarray:
        net, was_training = self.acting_net, self.acting_net.training
        net.eval()
        with torch.inference_mode():
            logits = net(policy_planes(boards, self.config, labels))
        net.train(was_training)
        return best_moves(logits, labels)

    def _new_games(self, n: int) -> BubbleState:
        return rules.initial_state(self.rng.integers(0, 2**63, size=n, dtype=np.uint64), self.config)

    def _restart(self, g: int) -> None:
        if self.lengths[g] > 0:
            self.scores.append(float(self.state.score[g]))
            self.games_finished += 1
        fresh = self._new_games(1)
        self.state.board[g] = fresh.board[0]
        self.state.key[g] = fresh.key[0]
        self.state.new_columns[g] = 0
        self.state.score[g] = 0.0
        self.lengths[g] = 0

    def update(self) -> float:
        """One gradient step of cross-entropy on a batch of stored positions; returns the loss."""
        boards, labels, targets = self.positions.sample(self.hp.batch_size, self.rng)
        self.net.train()
        logits = self.net(policy_planes(boards, self.config, labels.reshape(boards.shape)))
        log_p = group_log_probs(logits, torch.from_numpy(labels))
        target = torch.from_numpy(targets)
        loss = -(target * log_p.clamp_min(-1e4)).sum(dim=1).mean()
        self.optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), self.hp.max_grad_norm)
        self.optimizer.step()
        if self.acting_net is not self.net:
            average_into(self.acting_net, self.net, self.hp.policy_averaging)
        self.updates += 1
        self.last_loss = float(loss.item())
        return self.last_loss
