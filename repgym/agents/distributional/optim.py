"""Optimiser plumbing: a network's parameters and gradients in two flat buffers, and Adam over them.

For the small networks of classic-control tasks a CPU gradient step costs more in per-tensor and per-call overhead
than in arithmetic. With every parameter (and gradient) a view into one flat tensor, zeroing, norm clipping, the
Adam update and the target network's update are each a handful of operations on one tensor, whatever the number of
layers.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def flatten_parameters(module: nn.Module, with_grads: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Move ``module``'s parameters into one flat tensor and (``with_grads``) give each a gradient view into a
    second one.

    Returns ``(params, grads)``, both ``(n_parameters,)`` (``grads`` None without gradients); each parameter's
    ``.data`` and ``.grad`` are views into them, so in-place changes on either side are seen on the other
    (``load_state_dict`` copies in place too), and ``backward`` accumulates into ``grads``.
    """
    tensors = list(module.parameters())
    if not tensors:
        raise ValueError(f"{type(module).__name__} has no parameters")
    params = torch.cat([p.detach().reshape(-1) for p in tensors])
    grads = torch.zeros_like(params) if with_grads else None
    offset = 0
    for p in tensors:
        n = p.numel()
        p.data = params[offset : offset + n].view_as(p)
        if grads is not None:
            p.grad = grads[offset : offset + n].view_as(p)
        offset += n
    return params, grads


class FlatAdam:
    """Adam (Kingma & Ba 2015), with torch.optim.Adam's exact update, on flat ``params`` and ``grads``
    (:func:`flatten_parameters`), with global-norm gradient clipping."""

    def __init__(
        self,
        params: torch.Tensor,
        grads: torch.Tensor,
        lr: float,
        eps: float,
        betas: tuple[float, float] = (0.9, 0.999),
    ) -> None:
        self.params, self.grads = params, grads
        self.lr, self.eps, self.betas = float(lr), float(eps), (float(betas[0]), float(betas[1]))
        self.exp_avg = torch.zeros_like(params)
        self.exp_avg_sq = torch.zeros_like(params)
        self.steps = 0

    def zero_grad(self) -> None:
        """Zero every gradient (the parameters' ``.grad`` views stay in place)."""
        self.grads.zero_()

    def clip_grad_norm_(self, max_norm: float) -> float:
        """Scale the gradients so their global L2 norm is at most ``max_norm``; returns the norm before clipping
        (reading it synchronises with the device, which costs nothing on a CPU)."""
        norm = float(torch.linalg.vector_norm(self.grads))
        if norm > max_norm:
            self.grads.mul_(max_norm / (norm + 1e-6))
        return norm

    @torch.no_grad()
    def step(self) -> None:
        """One Adam update: moments, bias correction, ``params -= lr * m_hat / (sqrt(v_hat) + eps)``."""
        beta1, beta2 = self.betas
        self.steps += 1
        self.exp_avg.lerp_(self.grads, 1 - beta1)
        self.exp_avg_sq.mul_(beta2).addcmul_(self.grads, self.grads, value=1 - beta2)
        bias_correction1 = 1 - beta1**self.steps
        bias_correction2 = 1 - beta2**self.steps
        denom = self.exp_avg_sq.sqrt().div_(math.sqrt(bias_correction2)).add_(self.eps)
        self.params.addcdiv_(self.exp_avg, denom, value=-self.lr / bias_correction1)

    def state_dict(self) -> dict[str, torch.Tensor | int | float | tuple[float, float]]:
        return {"exp_avg": self.exp_avg, "exp_avg_sq": self.exp_avg_sq, "steps": self.steps, "lr": self.lr,
                "eps": self.eps, "betas": self.betas}  # fmt: skip

    def load_state_dict(self, state: dict) -> None:
        if state["exp_avg"].shape != self.exp_avg.shape:
            raise ValueError(f"optimizer state holds {state['exp_avg'].numel()} parameters, expected "
                             f"{self.exp_avg.numel()}")  # fmt: skip
        self.exp_avg.copy_(state["exp_avg"])
        self.exp_avg_sq.copy_(state["exp_avg_sq"])
        self.steps = int(state["steps"])
        self.lr, self.eps, self.betas = float(state["lr"]), float(state["eps"]), tuple(state["betas"])
