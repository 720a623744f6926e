"""Return decomposition (RUDDER, Arjona-Medina et al. 2019): the return predictor's loss, the redistributed reward,
and the table of redistributed transitions the Q-learner replays.

The predictor reads an episode's observation-action pairs and predicts its return ``G`` after every step: ``g_t``.
Trained on whole episodes to predict ``G`` at every step (and, weighted, at the last), ``g_t`` approximates the
expected return given the history up to step ``t``, so it jumps at the steps that decide the outcome. The
redistributed reward is

    r~_t = g_t - g_{t-1}  (g_{-1} = 0),  plus  G - g_{T-1}  at the last step,

so an episode's redistributed rewards sum to its return (return-equivalent: the optimal policies are unchanged) while
the expected future redistributed reward after the decisive step is about zero: the Q-learner no longer has to carry
value across the delay. What the predictor cannot foresee (the umbrella game's random distractors) stays at the end.

With ``predict_remaining`` the network predicts only the return still to come, ``f_t``, and ``g_t = R_t + f_t`` with
``R_t`` the rewards received up to and including step ``t``; the redistributed reward is then ``r_t + f_t -
f_{t-1}``: each reward where it was received, plus the change in what is still expected. The return's noise that
has already been received leaves the predictor's targets (Umbrella at delay 320: the distractors' standard deviation
is 18 against an outcome of +-1), and near the end the targets are the outcome alone, from which the memory can
learn to carry the decisive step across the delay (at delay 10 it does; at 320 an LSTM alone did not, and the
running maximum of ``memory_pool`` did on one seed of three: README).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from repgym.agents.credit.episodes import Episode
from repgym.agents.credit.networks import ReturnPredictor


class PaddedEpisodes(NamedTuple):
    """Episodes padded to the longest: ``obs`` ``(B, T, *obs_shape)`` (the final observations left out), ``actions``
    ``(B, T)``, ``valid`` ``(B, T)`` bool, ``lengths`` ``(B,)``, ``returns`` ``(B,)`` float32 and ``received``
    ``(B, T)`` float32, the rewards received up to and including each step (the return past an episode's end)."""

    obs: torch.Tensor
    actions: torch.Tensor
    valid: torch.Tensor
    lengths: torch.Tensor
    returns: torch.Tensor
    received: torch.Tensor


def pad_episodes(episodes: list[Episode], device: torch.device) -> PaddedEpisodes:
    """``episodes`` as one padded batch (padding repeats nothing: zeros, which the LSTM reads only after the end)."""
    lengths = np.array([len(e) for e in episodes])
    longest = int(lengths.max())
    first = episodes[0].obs
    obs = np.zeros((len(episodes), longest, *first.shape[1:]), first.dtype)
    actions = np.zeros((len(episodes), longest), np.int64)
    rewards = np.zeros((len(episodes), longest), np.float64)
    for i, episode in enumerate(episodes):
        obs[i, : len(episode)] = episode.obs[:-1]
        actions[i, : len(episode)] = episode.actions
        rewards[i, : len(episode)] = episode.rewards
    valid = np.arange(longest)[None, :] < lengths[:, None]
    returns = np.array([e.episode_return for e in episodes], np.float32)
    received = np.cumsum(rewards, axis=1).astype(np.float32)
    arrays = (obs, actions, valid, lengths, returns, received)
    return PaddedEpisodes(*(torch.as_tensor(a, device=device) for a in arrays))


def predict_returns(predictor: ReturnPredictor, batch: PaddedEpisodes) -> tuple[torch.Tensor, torch.Tensor]:
    """The return predictions ``g`` ``(B, T)`` of whole episodes (the rewards received so far added when the
    predictor predicts what remains) and its memory ``(B, T, hidden)``."""
    predictions, memory, _ = predictor(batch.obs, batch.actions)
    if predictor.predicts_remaining:
        predictions = predictions + batch.received
    return predictions, memory


def remaining_targets(predictions: torch.Tensor, batch: PaddedEpisodes, lam: float) -> torch.Tensor:
    """``(B, T)`` targets for ``g_t`` bootstrapped from the predictor's own (detached) predictions of what remains,
    ``f_t = g_t - R_t``: ``R_t`` plus the lambda-return ``y_t = r_{t+1} + (1 - lam) f_{t+1} + lam y_{t+1}`` with
    ``y = 0`` from the last step on (nothing remains after it), as TD(lambda) forms value targets. At ``lam = 1`` it
    is the episode's return; below, each step's target carries the rewards still to come only with weights
    ``lam ** k``, so far fewer of Umbrella's distractors, and the rest from the next steps' predictions."""
    steps = torch.arange(predictions.shape[1], device=predictions.device)
    before_last = steps[None, :] < (batch.lengths[:, None] - 1)
    remaining = (predictions.detach() - batch.received) * before_last
    rewards = torch.diff(batch.received, dim=1, prepend=torch.zeros_like(batch.received[:, :1]))
    # y_t = sum over k > t of lam ** (k - t - 1) * (r_k + (1 - lam) f_k): one reverse discounted sum, as a matmul
    # (f_k is 0 from the last step on, and r_k is 0 past the end)
    gaps = steps[:, None] - steps[None, :] - 1  # [k, t] = k - t - 1
    discount = torch.where(gaps >= 0, lam ** gaps.clamp(min=0).to(predictions.dtype), 0.0)
    after = (rewards + (1.0 - lam) * remaining) @ discount
    return batch.received + after


def predictor_errors(
    predictions: torch.Tensor,
    batch: PaddedEpisodes,
    final_step_weight: float,
    by_remaining: bool = False,
    lam: float = 1.0,
) -> torch.Tensor:
    """``(B,)`` loss per episode: the mean squared error of ``g_t`` against the return over its steps, plus
    ``final_step_weight`` times the squared error at its last step. ``by_remaining`` (a predictor of what remains)
    weights step ``t``'s error by the inverse of its target's variance when every reward still to come adds the
    same noise, ``1 / (1 + sum_{j < n} lam ** 2j)`` with ``n`` the steps after ``t`` (``1 / (n + 1)`` at ``lam =
    1``), normalised over the episode, so that the clean targets of the last steps are not drowned by the noisy
    early ones; ``lam < 1`` bootstraps the targets (:func:`remaining_targets`). Its final-step weight goes to the
    step before the last, whose target is the last reward (after the last step nothing remains: that prediction's
    target is 0 whatever happened, and weighting it taught nothing)."""
    if by_remaining and lam < 1.0:
        targets = remaining_targets(predictions, batch, lam)
    else:
        targets = batch.returns[:, None]
    errors = (predictions - targets) ** 2 * batch.valid
    if by_remaining:
        after = (batch.lengths[:, None] - 1 - torch.arange(errors.shape[1], device=errors.device)[None, :]).clamp(min=0)
        noise = after.to(errors.dtype) if lam >= 1.0 else (1.0 - lam ** (2.0 * after.to(errors.dtype))) / (1.0 - lam**2)
        weights = batch.valid / (1.0 + noise)
        every_step = (errors * weights).sum(dim=1) / weights.sum(dim=1)
    else:
        every_step = errors.sum(dim=1) / batch.lengths
    last_step = (batch.lengths - (2 if by_remaining else 1)).clamp(min=0)
    last = errors.gather(1, last_step[:, None]).squeeze(1)
    return every_step + final_step_weight * last


def redistribute(predictions: torch.Tensor, credit: torch.Tensor, batch: PaddedEpisodes) -> torch.Tensor:
    """``(B, T)`` redistributed rewards: the per-step ``credit`` (``g_t - g_{t-1}``) plus, at each episode's last
    step, the return the predictor left unexplained (``G - g_{T-1}``); 0 past an episode's end."""
    last = (batch.lengths - 1)[:, None]
    unexplained = batch.returns - predictions.gather(1, last).squeeze(1)
    rewards = credit * batch.valid
    return rewards.scatter_add(1, last, unexplained[:, None])


class Transitions(NamedTuple):
    """Every stored transition with its redistributed reward, as numpy arrays over ``N`` transitions.

    ``obs`` ``(M, *obs_shape)`` and ``memory`` ``(M, hidden)`` hold every stored observation and the predictor's
    LSTM state before acting on it (``M`` = transitions + episodes); ``index``/``next_index`` ``(N,)`` point into them;
    ``reward`` ``(N,)`` float32; ``terminal`` ``(N,)`` bool (an episode's last step: nothing is bootstrapped, since
    its whole return has been paid by then); ``action`` ``(N,)``; ``mask`` ``(M, A)`` bool or None."""

    obs: np.ndarray
    memory: np.ndarray
    mask: np.ndarray | None
    index: np.ndarray
    next_index: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    terminal: np.ndarray


@torch.no_grad()
def redistributed_transitions(
    episodes: list[Episode],
    predictor: ReturnPredictor,
    device: torch.device,
    final_step_weight: float,
    chunk: int = 256,
    lam: float = 1.0,
) -> tuple[Transitions, np.ndarray]:
    """Run the predictor over every episode (``chunk`` at a time) and return their transitions with redistributed
    rewards and memories, and each episode's predictor loss ``(E,)`` (:func:`predictor_errors`)."""
    obs_parts, memory_parts, rewards, errors = [], [], [], []
    for first in range(0, len(episodes), chunk):
        part = episodes[first : first + chunk]
        batch = pad_episodes(part, device)
        predictions, memory = predict_returns(predictor, batch)
        shaped = redistribute(predictions, predictor.credit(predictions), batch).cpu().numpy()
        memory = memory.cpu().numpy()
        by_remaining = predictor.predicts_remaining
        errors.append(predictor_errors(predictions, batch, final_step_weight, by_remaining, lam).cpu().numpy())
        for i, episode in enumerate(part):
            steps = len(episode)
            # the memory before acting at t: zeros at the start, then the LSTM output after each step
            memory_parts.append(np.concatenate([np.zeros((1, memory.shape[2]), np.float32), memory[i, :steps]]))
            obs_parts.append(episode.obs)
            rewards.append(shaped[i, :steps])
    lengths = np.array([len(e) for e in episodes])
    starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])  # where each episode's observations begin
    index = np.concatenate([start + np.arange(n) for start, n in zip(starts, lengths, strict=True)])
    terminal = np.zeros(len(index), bool)
    terminal[np.cumsum(lengths) - 1] = True
    masks = None if episodes[0].masks is None else np.concatenate([e.masks for e in episodes])
    table = Transitions(np.concatenate(obs_parts), np.concatenate(memory_parts).astype(np.float32), masks, index,
                        index + 1, np.concatenate([e.actions for e in episodes]),
                        np.concatenate(rewards).astype(np.float32), terminal)  # fmt: skip
    return table, np.concatenate(errors)
