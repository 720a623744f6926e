"""The value network V(board): a small CNN over one-hot planes of canonically relabelled colours.

Input encoding (:func:`encode`): each board's colours are renumbered canonically — by bubbles left, most first,
ties in order of first appearance (:func:`repgym.envs.bubble.symmetry.canonical_colours`) — so the ``colours!``
renamings of a position are one input and the most frequent colour always sits on the same plane; then one-hot
planes ``(planes, rows, cols)`` as :func:`rules.one_hot` makes them (empty, each colour, grey in the Continuous
variants) plus, in the Continuous variants, an *unknown* plane that marks the columns whose contents will arrive
at random (see :mod:`.afterstates`).

Output units: the network predicts ``return / scale`` where ``scale`` is fixed once, before the first update, to
the mean absolute Monte-Carlo return-to-go of the first self-play games (:mod:`.training`); :class:`ValueFunction`
multiplies it back, so callers see points. Scores grow with group size (``n(n-1)`` or ``(n-2)^2``) and differ by
two orders of magnitude between rules and board sizes, so a fixed per-game scale keeps the targets near 1 without
moving them during training (as running statistics would); what the look-ahead needs is the *ranking* of
``r + V``, which a constant scale does not change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from repgym.envs.bubble import rules
from repgym.envs.bubble.rules import BubbleConfig
from repgym.envs.bubble.symmetry import apply_permutation, canonical_colours


def input_planes(config: BubbleConfig) -> int:
    """Planes of :func:`encode`: :func:`rules.n_planes` plus the unknown plane in the Continuous variants."""
    return rules.n_planes(config) + (1 if config.continuous else 0)


def count_ordered_colours(boards: np.ndarray, config: BubbleConfig) -> np.ndarray:
    """Canonical colours ordered by bubbles left: colour 1 is the most frequent colour of each board, ties broken
    by :func:`canonical_colours`'s first-appearance order, so the result is again the same for every renaming.
    Putting the most frequent colour — the one worth keeping together for a big final group — on a fixed plane
    saves the network from having to find it."""
    boards, _ = canonical_colours(boards, config)
    colours = np.arange(1, config.colours + 1, dtype=boards.dtype)
    counts = (boards.reshape(boards.shape[0], -1, 1) == colours).sum(axis=1)  # (n, colours)
    order = np.argsort(-counts, axis=1, kind="stable")  # order[b, i] = (old colour - 1) that becomes colour i + 1
    perm = np.tile(np.arange(config.colours + 2, dtype=np.int8), (boards.shape[0], 1))
    np.put_along_axis(perm[:, 1 : config.colours + 1], order, colours[None].astype(np.int8), 1)
    return apply_permutation(boards, perm)


def encode(boards: np.ndarray, config: BubbleConfig, unknown: np.ndarray | None = None, canonical: bool = True):
    """Network input ``(n, planes, rows, cols) float32`` tensor for boards ``(n, rows, cols) int8``.

    ``unknown`` ``(n, cols) bool`` marks the columns whose contents are not known yet (Continuous variants only;
    default none). ``canonical=False`` keeps the colours as they are (for training with augmentation instead).
    """
    boards = rules.as_batch(boards)
    if canonical and boards.shape[0]:
        boards = count_ordered_colours(boards, config)
    planes = rules.one_hot(boards, config).astype(np.float32)
    if config.continuous:
        extra = np.zeros((boards.shape[0], 1, config.rows, config.cols), np.float32)
        if unknown is not None:
            extra[:, 0] = np.asarray(unknown, np.float32)[:, None, :]
        planes = np.concatenate([planes, extra], axis=1)
    elif unknown is not None and np.any(unknown):
        raise ValueError("unknown columns exist only in the Continuous variants; got unknown cells for fixed rules")
    return torch.from_numpy(planes)


class ValueNet(nn.Module):
    """CNN ``(n, planes, rows, cols) -> (n,)``: a 3x3 conv stem, ``blocks`` 3x3 conv layers, then global mean and
    max pooling (board-wide totals such as bubbles left per colour) into a two-layer head.

    Every layer is a named attribute so that :meth:`layers` can hand them to the analyzers: ``conv0``,
    ``conv1``.. ``conv{blocks}``, ``fc`` (the hidden layer of the head) and ``out``.
    """

    def __init__(self, planes: int, channels: int = 32, blocks: int = 3, hidden: int = 64) -> None:
        super().__init__()
        if planes < 1 or channels < 1 or blocks < 0 or hidden < 1:
            raise ValueError(
                f"expected planes >= 1, channels >= 1, blocks >= 0, hidden >= 1, got {planes}, {channels}, {blocks}, "
                f"{hidden}"
            )
        self.blocks = blocks
        self.conv0 = nn.Sequential(nn.Conv2d(planes, channels, 3, padding=1), nn.ReLU())
        for i in range(1, blocks + 1):
            setattr(self, f"conv{i}", nn.Sequential(nn.Conv2d(channels, channels, 3, padding=1), nn.ReLU()))
        self.fc = nn.Sequential(nn.Linear(2 * channels, hidden), nn.ReLU())
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv0(x)
        for i in range(1, self.blocks + 1):
            h = getattr(self, f"conv{i}")(h)
        pooled = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return self.out(self.fc(pooled)).squeeze(1)

    def layers(self) -> dict[str, nn.Module]:
        """The named layers (``conv0``.. ``conv{blocks}``, ``fc``, ``out``) whose activations analyzers may read."""
        names = [f"conv{i}" for i in range(self.blocks + 1)] + ["fc", "out"]
        return {name: getattr(self, name) for name in names}


@dataclass
class ValueFunction:
    """A value network with its rules and scale: ``vf(boards) -> (n,) float64`` expected points still to come.

    ``boards`` are afterstates ``(n, rows, cols) int8`` (a board with no move left is worth 0 by the rules; the
    network is still asked, callers mask terminal boards). Evaluation runs in chunks of ``chunk`` boards under
    ``torch.inference_mode``.
    """

    net: ValueNet
    config: BubbleConfig
    scale: float = 1.0
    canonical: bool = True
    chunk: int = 128
    evaluations: int = 0  # boards evaluated so far (a node budget may count them)

    def __call__(self, boards: np.ndarray, unknown: np.ndarray | None = None) -> np.ndarray:
        boards = rules.as_batch(boards)
        n = boards.shape[0]
        out = np.empty(n, np.float64)
        was_training = self.net.training
        self.net.eval()
        with torch.inference_mode():
            for start in range(0, n, self.chunk):
                stop = min(start + self.chunk, n)
                part = None if unknown is None else unknown[start:stop]
                x = encode(boards[start:stop], self.config, part, self.canonical)
                out[start:stop] = self.net(x).double().numpy()
        self.net.train(was_training)
        self.evaluations += n
        return out * self.scale

    def check_rules(self, config: BubbleConfig) -> None:
        """``ValueError`` unless this value was trained for boards of ``config``'s size, colours and scoring."""
        mine = (self.config.rows, self.config.cols, self.config.colours, self.config.scoring, self.config.continuous)
        theirs = (config.rows, config.cols, config.colours, config.scoring, config.continuous)
        if mine != theirs:
            raise ValueError(
                f"the value network was trained on {_describe(self.config)} boards, but these are {_describe(config)}"
            )


def require_value(value: ValueFunction | None, config: BubbleConfig, needed_by: str) -> ValueFunction:
    """``value``, checked against ``config`` (:meth:`ValueFunction.check_rules`); a ValueError naming what needs it
    (``needed_by``, e.g. ``"MCTS with value leaves"``) when there is none."""
    if value is None:
        raise ValueError(f"{needed_by} needs a value network (--value CHECKPOINT)")
    value.check_rules(config)
    return value


def _describe(config: BubbleConfig) -> str:
    variant = " continuous" if config.continuous else ""
    return f"{config.rows}x{config.cols}, {config.colours}-colour, {config.scoring}-scored{variant}"
