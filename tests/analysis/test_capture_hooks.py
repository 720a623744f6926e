"""Activation capture on conv, linear and recurrent modules, and the verified forward path."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from repgym.analysis.capture import capture_activations
from repgym.analysis.forward_path import trace_forward_path


class ConvNet(nn.Module):
    """conv -> relu -> (functional flatten) -> linear -> relu -> linear; plus an unused module."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(4 * 5 * 5, 8)
        self.act = nn.ReLU()
        self.head = nn.Linear(8, 3)
        self.unused = nn.Linear(3, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.relu(self.conv(x))
        return self.head(self.act(self.fc(h.flatten(1))))


class RecurrentNet(nn.Module):
    """An LSTM over a sequence (time-major, batch second) followed by a linear read-out."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(3, 5, num_layers=2)
        self.gru = nn.GRU(3, 4, batch_first=True)
        self.out = nn.Linear(5, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # x: (batch, time, 3)
        seq, (h, c) = self.lstm(x.transpose(0, 1))
        self.gru(x)
        return self.out(seq[-1])


def _runner(model: nn.Module):
    def run(obs: np.ndarray) -> torch.Tensor:
        return model(torch.as_tensor(obs, dtype=torch.float32))

    return run


def test_capture_conv_and_linear_layouts() -> None:
    torch.manual_seed(0)
    model = ConvNet()
    obs = np.random.default_rng(0).normal(size=(37, 2, 5, 5)).astype(np.float32)
    modules = dict(model.named_children())
    cap = capture_activations(modules, _runner(model), obs, batch_size=10)
    assert cap.activations["conv"].shape == (37, 4, 5, 5)  # (n, channels, H, W)
    assert cap.activations["fc"].shape == (37, 8)
    with torch.no_grad():
        expected = model.relu(model.conv(torch.as_tensor(obs))).numpy()
    np.testing.assert_allclose(cap.activations["relu"], expected, rtol=1e-6)
    assert "unused" in cap.skipped and "unused" not in cap.activations
    assert [c.name for c in cap.calls] == ["conv", "relu", "fc", "act", "head"]
    assert cap.last_module() == "head" and cap.flat("conv").shape == (37, 100)


def test_capture_lstm_and_gru_tuple_outputs_batch_second() -> None:
    torch.manual_seed(1)
    model = RecurrentNet()
    obs = np.random.default_rng(1).normal(size=(11, 7, 3)).astype(np.float32)  # 7 time steps
    cap = capture_activations(dict(model.named_children()), _runner(model), obs, batch_size=4)
    assert cap.activations["lstm"].shape == (11, 5, 7)  # (n, hidden, time): batch found on axis 1
    assert cap.activations["lstm.h"].shape == (11, 5, 2)  # (n, hidden, layers)
    assert cap.activations["lstm.c"].shape == (11, 5, 2)
    assert cap.activations["gru"].shape == (11, 4, 7) and cap.activations["gru.h"].shape == (11, 4, 1)
    assert cap.is_main("lstm") and not cap.is_main("lstm.h") and cap.parts["lstm.c"] == "lstm"
    with torch.no_grad():
        seq, (h, _) = model.lstm(torch.as_tensor(obs).transpose(0, 1))
    np.testing.assert_allclose(cap.activations["lstm"], seq.permute(1, 2, 0).numpy(), rtol=1e-6)
    np.testing.assert_allclose(cap.activations["lstm.h"], h.permute(1, 2, 0).numpy(), rtol=1e-6)


def test_forward_path_is_verified_and_reproduces_the_output() -> None:
    torch.manual_seed(2)
    model = ConvNet()
    obs = np.random.default_rng(2).normal(size=(16, 2, 5, 5)).astype(np.float32)
    cap = capture_activations(dict(model.named_children()), _runner(model), obs)
    path = trace_forward_path(cap.calls)
    assert path is not None and path.names == ["conv", "relu", "fc", "act", "head"]
    assert path.shapes[2] == (100,)  # the functional flatten became a reshape
    x = torch.as_tensor(obs)
    with torch.no_grad():
        np.testing.assert_allclose(path.as_module()(x).numpy(), model(x).numpy(), rtol=1e-6)
    np.testing.assert_array_equal(path.inputs(_runner(model), obs).numpy(), obs)


def test_forward_path_stops_at_a_skip_connection() -> None:
    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(4, 4)
            self.b = nn.Linear(4, 4)
            self.head = nn.Linear(4, 2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.a(x)
            return self.head(h + self.b(h))  # head's input is no module's output

    torch.manual_seed(3)
    model = Residual()
    obs = np.random.default_rng(3).normal(size=(8, 4)).astype(np.float32)
    cap = capture_activations(dict(model.named_children()), _runner(model), obs)
    path = trace_forward_path(cap.calls)
    assert path is not None and path.names == ["head"]


def test_capture_rejects_bad_input() -> None:
    model = ConvNet()
    with pytest.raises(ValueError, match="non-empty batch"):
        capture_activations(dict(model.named_children()), _runner(model), np.zeros((0, 2, 5, 5)))
    with pytest.raises(ValueError, match="latent_modules"):
        capture_activations({}, _runner(model), np.zeros((2, 2, 5, 5)))
