"""The policy network: board planes in, one logit per cell out, in a single forward pass.

Input (:func:`policy_planes`): the value network's planes (one-hot canonical colours, :func:`..lookahead.value.
encode`, so all colour renamings of a board are one input) plus two planes read off the board itself: which
cells belong to a clickable group, and ``log(1 + size)`` of each cell's group. A group's size decides its points
(``n(n-1)`` or ``(n-2)^2``) but is a connected-component count that 3x3 convolutions would need many layers to
see across a 14-wide board; it is perception of the current board (the env's action mask is computed from the same
groups), not a simulated future.

Body: a stem and ``blocks`` 3x3 conv layers; each layer also adds a per-channel bias computed from the board-wide
mean and max of its input (global pooling), so that every cell sees totals such as bubbles left per colour. Output:
a 1x1 conv, one logit per cell. A move's probability is the sum over its group's cells (see :mod:`.learning`).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from repgym.agents.lookahead.value import encode, input_planes
from repgym.envs.bubble import rules
from repgym.envs.bubble.rules import BubbleConfig

EXTRA_PLANES = 2  # clickable cells, log(1 + group size)


def group_sizes(labels: np.ndarray) -> np.ndarray:
    """``(n, rows, cols) int64``: the size of each cell's group for :func:`rules.label_groups` labels (0 for cells
    outside a group of >= 2)."""
    n = labels.shape[0]
    flat = labels.reshape(n, -1).astype(np.int64)
    cells = flat.shape[1]
    bins = (flat + 1) + (np.arange(n) * (cells + 1))[:, None]  # bin 0 of each board: cells outside groups
    counts = np.bincount(bins.reshape(-1), minlength=n * (cells + 1)).reshape(n, cells + 1)
    sizes = np.take_along_axis(counts, flat + 1, axis=1)
    sizes[flat < 0] = 0
    return sizes.reshape(labels.shape)


def policy_planes(boards: np.ndarray, config: BubbleConfig, labels: np.ndarray | None = None) -> torch.Tensor:
    """Network input ``(n, planes, rows, cols) float32`` for boards ``(n, rows, cols) int8`` (``labels``: their
    :func:`rules.label_groups`, computed when not given)."""
    boards = rules.as_batch(boards)
    if labels is None:
        labels = rules.label_groups(boards, config)
    sizes = group_sizes(labels)
    extra = np.stack([(labels >= 0), np.log1p(sizes)], axis=1).astype(np.float32)
    return torch.cat([encode(boards, config), torch.from_numpy(extra)], dim=1)


class _PooledConv(nn.Module):
    """3x3 conv + ReLU whose output also gets a per-channel bias from the board-wide mean and max of its input."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.pooled = nn.Linear(2 * c_in, c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        context = self.pooled(torch.cat([x.mean(dim=(2, 3)), x.amax(dim=(2, 3))], dim=1))
        return torch.relu(self.conv(x) + context[:, :, None, None])


class PolicyNet(nn.Module):
    """``(n, planes, rows, cols) -> (n, rows * cols)`` logits. Layers ``conv0`` .. ``conv{blocks}`` and
    ``logits`` are named attributes so that :meth:`layers` can hand them to the analyzers."""

    def __init__(self, planes: int, channels: int = 32, blocks: int = 5) -> None:
        super().__init__()
        if planes < 1 or channels < 1 or blocks < 0:
            raise ValueError(f"expected planes >= 1, channels >= 1, blocks >= 0, got {planes}, {channels}, {blocks}")
        self.blocks = blocks
        self.conv0 = _PooledConv(planes, channels)
        for i in range(1, blocks + 1):
            setattr(self, f"conv{i}", _PooledConv(channels, channels))
        self.logits = nn.Conv2d(channels, 1, 1)

    @classmethod
    def for_rules(cls, config: BubbleConfig, channels: int = 32, blocks: int = 5) -> PolicyNet:
        """A network for boards of ``config`` (its input planes: :func:`policy_planes`)."""
        if config.continuous:
            raise ValueError("the distilled policy plays the deterministic variants; the Continuous ones refill "
                             "columns at random, which the one-step teacher cannot label")  # fmt: skip
        return cls(input_planes(config) + EXTRA_PLANES, channels, blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv0(x)
        for i in range(1, self.blocks + 1):
            h = h + getattr(self, f"conv{i}")(h)  # residual: deep stacks train as easily as shallow ones
        return self.logits(h).flatten(1)

    def layers(self) -> dict[str, nn.Module]:
        """The named layers (``conv0`` .. ``conv{blocks}``, ``logits``) whose activations analyzers may read."""
        names = [f"conv{i}" for i in range(self.blocks + 1)] + ["logits"]
        return {name: getattr(self, name) for name in names}
