"""Every hyperparameter of the distributional DQN agent, in one dataclass with a comment per field."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

HEADS = ("c51", "qr", "expectile", "mean")

# Adam's epsilon as each head's paper set it: C51 (Bellemare et al. 2017), QR-DQN (Dabney et al. 2018) and
# ER-DQN (Rowland et al. 2019) use 0.01 / batch 32; for plain DQN with Adam, Dopamine and Rainbow use 1.5e-4.
PAPER_ADAM_EPS = {"c51": 0.01 / 32, "qr": 0.01 / 32, "expectile": 0.01 / 32, "mean": 1.5e-4}
_TUPLE_FIELDS = ("net_arch", "cnn_channels")


@dataclass
class DQNConfig:
    """Hyperparameters of :class:`~repgym.agents.distributional.agent.DistributionalDQN` (defaults: Atari-scale
    values from the papers; ``benchmarks/dqn_cartpole.py`` shows small-task settings)."""

    # --- head: what the network predicts per action -------------------------------------------------------------
    head: str = "qr"  # "c51" (categorical), "qr" (quantiles), "expectile" (expectiles + imputation), "mean" (DQN)
    n_atoms: int = 51  # c51: atoms of the fixed support
    v_min: float = -10.0  # c51: lowest return on the support
    v_max: float = 10.0  # c51: highest return on the support
    n_quantiles: int = 200  # qr: quantile midpoints tau_i = (2i + 1) / 2N
    kappa: float = 1.0  # qr: Huber threshold of the quantile-Huber loss
    n_expectiles: int = 11  # expectile: asymmetries tau_i = (2i + 1) / 2N; odd, so tau = 0.5 (the mean) is one

    # --- network ---------------------------------------------------------------------------------------------------
    net_arch: tuple[int, ...] = (256, 256)  # hidden widths of the MLP torso (vector observations)
    cnn_channels: tuple[int, ...] = (32, 64, 64)  # conv channels of the CNN torso (boards, planes, pixels)
    cnn_hidden: int = 256  # width of the linear layer after the convolutions
    dueling: bool = False  # separate value and advantage streams (Wang et al. 2016)

    # --- returns ---------------------------------------------------------------------------------------------------
    gamma: float = 0.99  # discount per step
    n_steps: int = 1  # n-step returns: bootstrap after n rewards (fewer at an episode end)
    double_dqn: bool = True  # next action chosen by the online net, evaluated by the target net

    # --- replay ----------------------------------------------------------------------------------------------------
    buffer_size: int = 100_000  # transitions kept (oldest overwritten)
    batch_size: int = 32  # transitions per gradient step
    learning_starts: int = 1_000  # env steps before the first gradient step
    train_freq: int = 4  # env steps between training rounds
    gradient_steps: int = 1  # gradient steps per training round
    augmentation: str | None = None  # name in AUGMENTATIONS applied to sampled batches, e.g. "colours"

    # --- target network --------------------------------------------------------------------------------------------
    target_update_interval: int = 1_000  # env steps between target updates
    tau: float = 1.0  # target <- tau * online + (1 - tau) * target; 1.0 is a hard copy

    # --- optimiser -------------------------------------------------------------------------------------------------
    learning_rate: float = 1e-4  # Adam step size
    adam_eps: float | None = None  # Adam epsilon; None: the head's paper value (PAPER_ADAM_EPS)
    max_grad_norm: float | None = 10.0  # clip the gradient's global L2 norm (None: no clipping)

    # --- exploration -----------------------------------------------------------------------------------------------
    exploration_initial_eps: float = 1.0  # epsilon at step 0
    exploration_final_eps: float = 0.05  # epsilon after the schedule
    exploration_steps: int = 10_000  # env steps over which epsilon falls linearly

    # --- logging ---------------------------------------------------------------------------------------------------
    log_interval: int = 1_000  # env steps between log rows (TensorBoard and CSV)

    def __post_init__(self) -> None:
        for name in _TUPLE_FIELDS:
            setattr(self, name, _int_tuple(name, getattr(self, name)))
        if self.head not in HEADS:
            raise ValueError(f"head must be one of {HEADS}, got {self.head!r}")
        if self.n_expectiles < 3 or self.n_expectiles % 2 == 0:
            raise ValueError(
                f"n_expectiles must be odd and at least 3 (tau = 0.5, the mean, plus a pair), got {self.n_expectiles}"
            )
        if not self.v_min < self.v_max:
            raise ValueError(f"v_min must be below v_max, got v_min={self.v_min}, v_max={self.v_max}")
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")
        if not 0.0 < self.tau <= 1.0:
            raise ValueError(f"tau must be in (0, 1], got {self.tau}")
        for name in ("n_atoms", "n_quantiles"):
            if getattr(self, name) < 2:
                raise ValueError(f"{name} must be at least 2, got {getattr(self, name)}")
        for name in ("n_steps", "batch_size", "buffer_size", "train_freq", "gradient_steps", "target_update_interval",
                     "log_interval"):  # fmt: skip
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        for name in ("exploration_initial_eps", "exploration_final_eps"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> DQNConfig:
        """A config from keyword arguments; an unknown name raises ``ValueError`` listing the known ones."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise ValueError(f"unknown hyperparameter(s) {unknown}; expected some of {sorted(known)}")
        return cls(**kwargs)

    @property
    def optimizer_eps(self) -> float:
        """Adam's epsilon: ``adam_eps`` if set, else the head's paper value."""
        return PAPER_ADAM_EPS[self.head] if self.adam_eps is None else float(self.adam_eps)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values of every field (tuples as lists)."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in dataclasses.fields(self)
        }


def _int_tuple(name: str, value: Any) -> tuple[int, ...]:
    """``(256, 256)`` from a tuple, a list, an int or text such as ``"256,256"`` / ``"[256, 256]"`` (CLI ``--set``)."""
    if isinstance(value, int):
        return (value,)
    if isinstance(value, str):
        value = [v for v in value.strip("[]() ").replace(" ", "").split(",") if v]
    try:
        out = tuple(int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a list of positive ints such as 256,256, got {value!r}") from None
    if not out or min(out) < 1:
        raise ValueError(f"{name} must be a non-empty list of positive ints, got {value!r}")
    return out
