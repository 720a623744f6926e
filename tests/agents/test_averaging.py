"""Polyak averaging of weights (repgym.agents.averaging): the update rule, and that gradients never reach the copy."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from repgym.agents.averaging import average_into, averaged_copy


def test_average_moves_a_fixed_fraction_toward_the_trained_weights() -> None:
    torch.manual_seed(0)
    trained = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    average = averaged_copy(trained)
    start = [p.clone() for p in average.parameters()]
    assert not any(p.requires_grad for p in average.parameters())
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(1.0)
        trained[1].running_mean.fill_(5.0)
    average_into(average, trained, keep=0.75)
    for before, now in zip(start, average.parameters(), strict=True):
        torch.testing.assert_close(now, before + 0.25)  # 0.75 * w + 0.25 * (w + 1)
    assert torch.equal(average[1].running_mean, torch.full((4,), 5.0))  # buffers are copied, not averaged
    average_into(average, trained, keep=0.0)
    for mine, theirs in zip(average.parameters(), trained.parameters(), strict=True):
        assert torch.equal(mine, theirs)
    with pytest.raises(ValueError, match=r"keep must be in \[0, 1\)"):
        average_into(average, trained, keep=1.5)
