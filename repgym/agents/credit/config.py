"""Every hyperparameter of the RUDDER agent, in one dataclass with a comment per field."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from repgym.agents.averaging import check_keep
from repgym.agents.distributional.config import HEADS, DQNConfig, _int_tuple

_TUPLE_FIELDS = ("encoder_arch", "cnn_channels", "q_arch")


@dataclass
class RudderConfig:
    """Hyperparameters of :class:`~repgym.agents.credit.agent.RudderAgent`: a return predictor (LSTM) whose
    prediction differences are the reward, and a DQN-style Q-learner that learns from them."""

    # --- observation encoders (one in the return predictor, one in the Q-network) --------------------------------
    encoder_arch: tuple[int, ...] = (64,)  # hidden widths of the MLP encoder (vector observations)
    cnn_channels: tuple[int, ...] = (16, 32, 32)  # conv channels of the CNN encoder (pixels, boards)
    cnn_hidden: int = 128  # width of the linear layer after the convolutions

    # --- return predictor (Arjona-Medina et al. 2019) ----------------------------------------------------------
    lstm_hidden: int = 64  # units of the LSTM that reads (observation, action) pairs
    forget_bias: float = 0.0  # added to the LSTM's forget-gate bias at initialisation: b keeps sigmoid(b) of the
    #                           memory per step at first (5: 0.993, a half-life of about 100 steps), so a long delay
    #                           is bridged before the gates have learnt to (0: PyTorch's initialisation)
    memory_pool: bool = False  # the prediction also reads a running maximum over the episode of the predictor's
    #                            (observation, action) features: an event seen once is held for any delay and a
    #                            late error trains the step that set it directly (an LSTM alone did not carry the
    #                            Umbrella choice across 320 steps); False: the LSTM's output alone
    predict_remaining: bool = False  # the predictor predicts the return still to come after each step and the
    #                                  rewards received so far are added from the episode, not predicted: noise
    #                                  rewards already seen (Umbrella's distractors) leave its targets, and those
    #                                  of the last steps are the outcome alone, weighted up in its loss by
    #                                  1 / (steps still to come + 1) (False: it predicts the whole return)
    predictor_lambda: float = 1.0  # with predict_remaining, the lambda of the predictor's targets: 1, the return
    #                                still to come as it came; below, TD(lambda) targets bootstrapped from its own
    #                                predictions of the next steps, which carry far less of the noise rewards still
    #                                to come (Umbrella 320: a standard deviation of 18 at the choice step)
    predictor_lr: float = 3e-3  # Adam step size of the return predictor
    predictor_batch: int = 16  # whole episodes per predictor gradient step
    predictor_updates: int = 4  # predictor gradient steps after each finished episode
    final_step_weight: float = 1.0  # extra weight of the last step's error (the main RUDDER loss) over the
    #                                 every-step error (the auxiliary loss that moves predictions early)
    predictor_averaging: float = 0.99  # the acting predictor's weights <- this * theirs + (1 - this) * the trained
    #                                    one's after each step (Polyak averaging; 0: act with the trained one)
    lesson_priority: float = 1.0  # episodes are replayed to the predictor with probability ~ (error + 0.01) ** this
    #                               (0: uniform); rare outcomes (a door opened) keep being shown until predicted
    episode_capacity: int = 50_000  # transitions of whole episodes kept (oldest episodes dropped first); 64x64
    #                                 pixels take 12 KB each, held twice while the replay table is rebuilt
    refresh_interval: int = 500  # env steps between recomputing every stored episode's redistributed reward and
    #                              memory with the current predictor (checked when an episode ends)
    max_grad_norm: float | None = 10.0  # clip both networks' gradient L2 norms (None: no clipping)

    # --- Q-learner (a DQN on the redistributed reward; heads from repgym.agents.distributional) ----------------
    head: str = "mean"  # "mean" (DQN), "qr", "c51" or "expectile": the distributional agent's heads
    n_quantiles: int = 32  # qr: quantiles per action
    n_atoms: int = 51  # c51: atoms of the fixed support
    v_min: float = -10.0  # c51: lowest return on the support
    v_max: float = 10.0  # c51: highest return on the support
    n_expectiles: int = 11  # expectile: expectiles per action (odd)
    memory_input: bool = True  # the Q-network also reads the predictor's LSTM state (memory for hidden state)
    q_arch: tuple[int, ...] = (64,)  # hidden widths after the Q-network's encoder (and memory)
    gamma: float = 0.9  # discount of the redistributed reward: the credit already sits near its cause
    double_dqn: bool = True  # next action chosen by the online net, evaluated by the target net
    batch_size: int = 64  # transitions per Q gradient step
    learning_starts: int = 1_000  # env steps before the first Q gradient step
    train_freq: int = 4  # env steps between Q training rounds
    gradient_steps: int = 1  # Q gradient steps per round
    target_update_interval: int = 500  # env steps between target-network copies
    learning_rate: float = 1e-3  # Adam step size of the Q-network
    q_averaging: float = 0.995  # greedy actions come from a running average of the Q-network's weights, <- this *
    #                             theirs + (1 - this) * the trained one's after each Q step (0: the trained one);
    #                             the trained one's greedy policy swings between Q steps (KeyToDoor delay 20: 23% to
    #                             100% success from one 1k-step stretch to the next), the average's far less
    adam_eps: float | None = None  # Adam epsilon of the Q-network; None: the head's paper value

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
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must be in (0, 1], got {self.gamma}")
        for name in ("lstm_hidden", "cnn_hidden", "predictor_batch", "predictor_updates", "episode_capacity",
                     "refresh_interval", "batch_size", "train_freq", "gradient_steps", "target_update_interval",
                     "exploration_steps", "log_interval"):  # fmt: skip
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("learning_starts",):
            if int(getattr(self, name)) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        for name in ("predictor_lr", "learning_rate"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if not np.isfinite(self.forget_bias):
            raise ValueError(f"forget_bias must be finite, got {self.forget_bias}")
        for name in ("final_step_weight", "lesson_priority"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if not 0.0 <= self.predictor_lambda <= 1.0:
            raise ValueError(f"predictor_lambda must be in [0, 1], got {self.predictor_lambda}")
        if self.predictor_lambda < 1.0 and not self.predict_remaining:
            raise ValueError("predictor_lambda < 1 needs predict_remaining=True (it bootstraps what remains)")
        for name in ("exploration_initial_eps", "exploration_final_eps"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("predictor_averaging", "q_averaging"):
            check_keep(name, getattr(self, name))
        self.dqn_config()  # the head's own checks (n_expectiles odd, v_min < v_max...)

    @classmethod
    def from_kwargs(cls, **kwargs: Any) -> RudderConfig:
        """A config from keyword arguments; an unknown name raises ``ValueError`` listing the known ones."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise ValueError(f"unknown hyperparameter(s) {unknown}; expected some of {sorted(known)}")
        return cls(**kwargs)

    def dqn_config(self) -> DQNConfig:
        """The distributional agent's config for the same head and encoder: what its heads, torsos and Adam epsilon
        are built from, so the Q-learner reuses them rather than copies them."""
        return DQNConfig(head=self.head, n_atoms=self.n_atoms, v_min=self.v_min, v_max=self.v_max,
                         n_quantiles=self.n_quantiles, n_expectiles=self.n_expectiles, net_arch=self.encoder_arch,
                         cnn_channels=self.cnn_channels, cnn_hidden=self.cnn_hidden, gamma=self.gamma,
                         learning_rate=self.learning_rate, adam_eps=self.adam_eps)  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values of every field (tuples as lists)."""
        return {
            f.name: list(v) if isinstance(v := getattr(self, f.name), tuple) else v for f in dataclasses.fields(self)
        }
