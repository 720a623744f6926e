"""The World Models agent (Ha & Schmidhuber, 2018) behind repgym's agent interface: V (VAE or VQ-VAE) encodes
frames, M (MDN-RNN) carries a memory, C (a linear controller on ``[z, h]``) acts, trained by CMA-ES in the real
env or inside M's dream.

```python
agent = make_agent("world-model", gym.make("repgym/KeyToDoor-v0", obs_mode="pixels"), vae_epochs=5)
agent.learn(20_000)          # random rollouts -> V -> M -> CMA-ES on the controller
action, state = agent.predict(obs, state)   # recurrent: pass the state back (None starts an episode)
```
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from repgym.agents.base import Agent, EnvLike
from repgym.agents.callbacks import as_callback
from repgym.agents.world_model.cma_search import CandidatePool, SearchResult, cma_search
from repgym.agents.world_model.controller import Controller
from repgym.agents.world_model.rollout import RolloutEvaluator, RolloutTask, WorldModel
from repgym.runs import Checkpoint
from repgym.worlds import checkpoint
from repgym.worlds.data import observation_frame, random_policy, run_episode, split_episodes
from repgym.worlds.mdn_rnn import MDNRNN, action_size
from repgym.worlds.progress import progress
from repgym.worlds.training import encode_episodes, stack_frames, train_memory, train_vision
from repgym.worlds.vae import VAE
from repgym.worlds.vqvae import VQVAE


@dataclass
class WorldModelConfig:
    """Hyperparameters of :class:`WorldModelAgent` (World Models' values where they apply)."""

    vision: str = "vae"  # "vae" or "vqvae"; other kinds (gmmvq, feature-vae) come with vision_config
    vision_config: dict[str, Any] | None = None  # a whole V config (checkpoint.build_vision); overrides the V fields
    latent_dim: int = 32  # z size (VAE)
    beta: float = 1.0  # KL weight (beta > 1: beta-VAE)
    channels: int = 32  # width of V's first conv layer
    codebook_size: int = 64  # VQ-VAE codes
    code_dim: int = 8  # VQ-VAE code vector size (z = code_dim * 16)
    hidden: int = 256  # M's LSTM units
    mixtures: int = 5  # Gaussians per latent dimension
    controller_hidden: int = 0  # 0: linear controller
    use_hidden: bool = True  # controller reads [z, h] (False: z only)
    collect_fraction: float = 0.5  # share of learn()'s env steps spent on random rollouts for V and M
    vae_epochs: int = 10
    rnn_epochs: int = 20
    seq_len: int = 32  # M's training windows
    batch_size: int = 64
    lr: float = 1e-3
    popsize: int = 16  # CMA-ES candidates per generation
    sigma0: float = 0.1  # CMA-ES initial step size
    episodes_per_candidate: int = 1
    workers: int = 0  # CMA-ES worker processes (0: score in this process)
    dream: bool = False  # train the controller inside M's dream (real steps only for the rollouts)
    dream_generations: int = 20
    tau: float = 1.0  # dream temperature
    max_episode_steps: int | None = None  # cap on rollout / dream episode length (None: the env's own)
    select: str = "best"  # final controller: "best" candidate seen or the CMA-ES "mean"


class WorldModelAgent(Agent):
    """V + M + C with the repgym agent interface; see the module docstring.

    ``learn(total_timesteps)``: the first call spends ``collect_fraction`` of the steps (all of them with
    ``dream=True``) on random rollouts, trains V for ``vae_epochs`` and M for ``rnn_epochs``, then runs CMA-ES on
    the controller with the remaining steps in the real env (or ``dream_generations`` generations in the dream).
    Later calls continue CMA-ES from where it stopped. ``num_timesteps`` counts real env steps only.
    """

    name = "world-model"
    # V sees a 64x64 frame of whatever the env shows (the observation or its render()), so only actions must match.
    checked_spaces = ("action",)

    def __init__(self, env: EnvLike, seed: int | None = 0, env_kwargs: dict[str, Any] | None = None, **hp: Any):
        unknown = set(hp) - {f.name for f in fields(WorldModelConfig)}
        if unknown:
            raise ValueError(f"unknown world-model hyperparameters {sorted(unknown)}; "
                             f"expected some of {[f.name for f in fields(WorldModelConfig)]}")  # fmt: skip
        self.config = WorldModelConfig(**hp)
        vc = self.config.vision_config
        if vc is not None and vc.get("kind") != self.config.vision:
            raise ValueError(f"vision_config is for a {vc.get('kind')!r} model, but vision is {self.config.vision!r}")
        if vc is None and self.config.vision not in ("vae", "vqvae"):
            raise ValueError(f"vision must be 'vae' or 'vqvae' (others need vision_config), got {self.config.vision!r}")
        if self.config.select not in ("best", "mean"):
            raise ValueError(f"select must be 'best' or 'mean', got {self.config.select!r}")
        self._use_env(env, env_kwargs)
        if isinstance(self.env, gym.vector.VectorEnv):
            raise ValueError("the world-model agent plays a single env; pass gym.make(...), not a vector env")
        self.seed = seed
        self.num_timesteps = 0
        self.trained_world = False
        self.search: SearchResult | None = None
        with self._torch_rng():
            self._build_networks()

    def _build_networks(self) -> None:
        c = self.config
        self.vision: VAE | VQVAE = (
            checkpoint.build_vision(c.vision_config) if c.vision_config is not None
            else VAE(c.latent_dim, c.beta, c.channels) if c.vision == "vae"
            else VQVAE(c.codebook_size, c.code_dim, c.channels)
        )  # fmt: skip
        categorical = (
            {"positions": self.vision.positions, "codebook_size": self.vision.codebook_size}
            if self.vision.discrete else {}
        )  # fmt: skip
        actions = action_size(self.env.action_space)
        self.memory = MDNRNN(self.vision.latent_dim, actions, c.hidden, c.mixtures, **categorical)
        self.world = WorldModel(self.vision, self.memory, self.env.action_space, self.config.use_hidden)
        self.controller = Controller(self.world.feature_dim, self.env.action_space, self.config.controller_hidden)

    # -- learning -------------------------------------------------------------------------------------------------
    def learn(self, total_timesteps: int, callback: Any = None, progress_bar: bool = False) -> WorldModelAgent:
        if total_timesteps < 1:
            raise ValueError(f"total_timesteps must be >= 1, got {total_timesteps}")
        with self._torch_rng():  # V's sampling draws from torch: on the agent's own generator
            return self._learn(total_timesteps, callback, progress_bar)

    def _learn(self, total_timesteps: int, callback: Any, progress_bar: bool) -> WorldModelAgent:
        c = self.config
        cb = as_callback(callback, False)
        cb.on_training_start(self, total_timesteps)
        budget = total_timesteps
        if not self.trained_world:
            collect = total_timesteps if c.dream else max(1, int(total_timesteps * c.collect_fraction))
            episodes = self._collect(collect, progress_bar)
            budget -= sum(len(e) for e in episodes)
            self._train_world(episodes, progress_bar)
            if not cb.on_step(self):  # the callback stopped training after V and M
                cb.on_training_end(self)
                return self
        if c.dream:
            self.train_controller(generations=c.dream_generations, show_progress=progress_bar, callback=cb)
        elif budget > 0:
            self.train_controller(steps=budget, show_progress=progress_bar, callback=cb)
        cb.on_training_end(self)
        return self

    def _collect(self, steps: int, show: bool) -> list:
        """Random-policy episodes until ``steps`` env steps (the last episode is cut at the budget)."""
        self.env.action_space.seed(self.seed)
        act = random_policy(self.env.action_space)
        episodes, used, base = [], 0, (self.seed or 0) * 100_003
        while used < steps:
            limit = steps - used
            if self.config.max_episode_steps is not None:
                limit = min(limit, self.config.max_episode_steps)
            episodes.append(run_episode(self.env, act, base + len(episodes), limit))
            used += len(episodes[-1])
        self.num_timesteps += used
        return episodes

    def _train_world(self, episodes: list, show: bool) -> None:
        c = self.config
        seed = self.seed or 0
        train, val = split_episodes(episodes, 0.1)
        self.vision_history = train_vision(self.vision, stack_frames(train), stack_frames(val), c.vae_epochs,
                                           c.batch_size, c.lr, seed=seed, show_progress=show)  # fmt: skip
        enc_train = encode_episodes(self.vision, train, self.env.action_space)
        enc_val = encode_episodes(self.vision, val, self.env.action_space)
        self.memory_history = train_memory(self.memory, enc_train, enc_val, c.rnn_epochs, c.seq_len,
                                           min(c.batch_size, 32), c.lr, seed=seed, show_progress=show)  # fmt: skip
        encoded = enc_train + enc_val
        self.starts = torch.stack([e.codes[0] if e.codes is not None else e.z[0] for e in encoded]).numpy()
        self.longest_episode = max(len(e) for e in episodes)
        self.trained_world = True

    def rollout_task(self, mode: str, tau: float | None = None) -> RolloutTask:
        """The picklable description of this agent's V + M + C for CMA-ES workers."""
        c = self.config
        if mode == "real" and self.env_spec is None:
            raise ValueError("real-env CMA-ES needs an env made by gymnasium.make (workers rebuild it from its id)")
        max_steps = c.max_episode_steps
        if mode == "dream" and max_steps is None:  # dreams need a cap: M may never predict the end
            max_steps = getattr(self, "longest_episode", None) or getattr(self.env.spec, "max_episode_steps", None)
        return RolloutTask(
            mode, (self.vision.config, self.vision.state_dict()), (self.memory.config, self.memory.state_dict()),
            self.controller.config, self.env_spec, c.episodes_per_candidate, max_steps,
            c.tau if tau is None else tau, getattr(self, "starts", None), c.use_hidden,
        )  # fmt: skip

    def train_controller(
        self,
        generations: int | None = None,
        steps: int | None = None,
        dream: bool | None = None,
        tau: float | None = None,
        show_progress: bool = False,
        callback: Any = None,
    ) -> SearchResult:
        """Run CMA-ES on the controller for ``generations`` more generations and/or ``steps`` more env steps
        (real env, counted in ``num_timesteps``) or dream steps, continuing any earlier search; the controller
        then holds the best candidate (or the mean, ``select="mean"``). ``dream``/``tau`` default to the config."""
        c = self.config
        if not self.trained_world:
            raise ValueError("train V and M first (learn(), or from_world() with trained models)")
        if generations is None and steps is None:
            raise ValueError("give generations= or steps= (or both) to bound the search")
        for name, value in (("generations", generations), ("steps", steps)):
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1 (or None), got {value}")
        dream = c.dream if dream is None else dream
        mode = "dream" if dream else "real"
        cb = as_callback(callback, False)
        score_tau = (c.tau if tau is None else float(tau)) if dream else None
        # the best candidate only carries over when it was scored the same way (real, or dream at this tau)
        if self.search is None:
            x0 = self.controller.get_flat()
            start = SearchResult(x0, c.sigma0, x0.copy(), -np.inf, mode=mode, tau=score_tau)
        else:
            start = self.search.rescored(mode, score_tau)
        done_gens, done_steps = start.generations, start.steps
        task_spec = self.rollout_task(mode, tau)
        with progress(show_progress) as bar, CandidatePool(RolloutEvaluator, (task_spec,), c.workers) as pool:
            by_gens = generations is not None
            task = bar.add_task(f"CMA-ES ({mode})", total=generations if by_gens else steps, info="")

            def after(result: SearchResult) -> bool:
                new = result.history[-1]["steps"] - (result.history[-2]["steps"] if len(result.history) > 1 else 0)
                if not dream:
                    self.num_timesteps += int(new)
                done = result.generations - done_gens if by_gens else result.steps - done_steps
                info = f"best {result.best_fitness:.3g}  mean {result.history[-1]['mean_fitness']:.3g}"
                bar.update(task, completed=done, info=info)
                self.search = result
                # the controller follows the search, so a callback that saves the agent saves what it would play
                self.controller.set_flat(result.best if c.select == "best" else result.mean)
                return bool(cb.on_step(self))  # False stops the search (repgym callbacks contract)

            self.search = cma_search(
                pool, self.controller.get_flat(), c.sigma0, done_gens + generations if by_gens else 10**9,
                c.popsize, self.seed or 0, start, done_steps + steps if steps is not None else None, after,
            )  # fmt: skip
        self.select(c.select)
        return self.search

    def select(self, which: str) -> None:
        """Play the search's best-scoring candidate (``"best"``) or its distribution mean (``"mean"``) from now on:
        with noisy fitness the best candidate is partly the luckiest, the mean is not. Needs a search."""
        if which not in ("best", "mean"):
            raise ValueError(f"select must be 'best' or 'mean', got {which!r}")
        if self.search is None:
            raise ValueError("no controller search yet: train_controller() first")
        self.config.select = which
        self.controller.set_flat(self.search.best if which == "best" else self.search.mean)

    @classmethod
    def from_world(
        cls,
        env: EnvLike,
        vision: VAE | VQVAE,
        memory: MDNRNN,
        starts: np.ndarray,
        longest_episode: int | None = None,
        seed: int | None = 0,
        env_kwargs: dict[str, Any] | None = None,
        num_timesteps: int = 0,
        **hp: Any,
    ) -> WorldModelAgent:
        """An agent around already trained V and M (e.g. from ``repgym world train-vae`` / ``train-rnn``), ready
        for :meth:`train_controller`; ``starts`` are encoded real first frames (z, or codes for a VQ-VAE).
        ``num_timesteps``: real env steps already spent (collecting V and M's data), where the count starts."""
        vc, mc = vision.config, memory.config
        arch = {"vision": vc["kind"], "hidden": mc["hidden"], "mixtures": mc["mixtures"], "channels": vc["channels"]}
        if vc["kind"] == "vae":
            arch.update(latent_dim=vc["latent_dim"], beta=vc["beta"])
        elif vc["kind"] == "vqvae":
            arch.update(codebook_size=vc["codebook_size"], code_dim=vc["code_dim"])
        else:  # the newer kinds (mixture VQ, feature-space VAE) travel as their whole config
            arch.update(vision_config=vc)
        agent = cls(env, seed=seed, env_kwargs=env_kwargs, **{**hp, **arch})
        if agent.vision.config != vc or agent.memory.config != mc:
            raise ValueError(f"V/M configs {vc}, {mc} do not match what the agent builds: "
                             f"{agent.vision.config}, {agent.memory.config}")  # fmt: skip
        agent.vision.load_state_dict(vision.state_dict())
        agent.memory.load_state_dict(memory.state_dict())
        agent.vision.eval(), agent.memory.eval()
        agent.starts, agent.longest_episode, agent.trained_world = np.asarray(starts), longest_episode, True
        agent.num_timesteps = int(num_timesteps)
        return agent

    # -- acting ---------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def predict(
        self,
        observation: np.ndarray,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = True,
        action_masks: np.ndarray | None = None,
    ) -> tuple[np.ndarray, Any]:
        """Action(s) for one frame or a batch, and M's next state ``(h, c)`` (each ``(1, B, hidden)``) to pass back
        on the next call; ``state=None`` or ``episode_start`` (``(B,) bool``) starts an episode.

        Frames come from the observation when it is a picture (or a dict with ``"pixels"``), else from
        ``self.env.render()`` like in :meth:`learn`: the observation must then be the current one of ``self.env``."""
        frames, single = self._frames(observation)
        batch = len(frames)
        self.world.reset(batch)
        if state is not None:
            h, cell = (torch.as_tensor(np.asarray(s), dtype=torch.float32).clone() for s in state)
            if episode_start is not None:
                keep = torch.as_tensor(~np.asarray(episode_start, bool).reshape(batch), dtype=torch.float32)
                h, cell = h * keep[None, :, None], cell * keep[None, :, None]
            self.world.state, self.world.h = (h, cell), h[0]
        actions = self.world.act(self.controller, frames)
        new_state = tuple(s.numpy().copy() for s in self.world.state)
        return (actions[0] if single else actions), new_state

    def frame(self, observation: Any) -> np.ndarray:
        """The 64x64 picture the agent sees for an env observation."""
        return observation_frame(observation, self.env)

    def _frames(self, observation: Any) -> tuple[np.ndarray, bool]:
        """``(frames (B, 64, 64, 3), single)`` for one observation or a batch, through :meth:`frame`."""
        pixels = observation["pixels"] if isinstance(observation, dict) and "pixels" in observation else observation
        arr = np.asarray(pixels) if isinstance(pixels, np.ndarray | list | tuple) else None
        if arr is not None and arr.ndim == 4 and arr.shape[-1] in (3, 4):  # a batch of pictures
            return np.stack([self.frame(o) for o in arr]), False
        if arr is not None and arr.ndim == 3 and arr.shape[-1] in (3, 4):  # one picture
            return self.frame(arr)[None], True
        shape = getattr(arr, "shape", None)
        if self.env.render_mode != "rgb_array":
            raise ValueError(
                f"the world-model agent needs pixel observations (got shape {shape}): make the env with "
                'obs_mode="pixels", or with render_mode="rgb_array" so that its render() is the frame'
            )
        space_shape = getattr(self.env.observation_space, "shape", None)
        if arr is not None and space_shape and arr.shape[1:] == tuple(space_shape) and len(arr) > 1:
            raise ValueError(f"a batch of {len(arr)} non-picture observations cannot be rendered; pass them one by "
                             "one from the agent's own env, or use pixel observations")  # fmt: skip
        single = not (arr is not None and space_shape and arr.shape == (1, *space_shape))
        return self.frame(observation)[None], single

    def latent_modules(self) -> dict[str, torch.nn.Module]:
        """V's conv encoder, the latent z, M's LSTM (``lstm.h``/``lstm.c`` are its state) and the controller."""
        return {"encoder": self.vision.encoder, "z": self.vision.z, "lstm": self.memory.lstm,
                "controller": self.controller.net}  # fmt: skip

    # -- checkpoint hooks (see repgym.agents.base) ------------------------------------------------------------------
    def _save_hyperparameters(self) -> dict[str, Any]:
        return asdict(self.config)

    def _save_meta(self) -> dict[str, Any]:
        s = self.search
        return {
            "trained_world": self.trained_world, "longest_episode": getattr(self, "longest_episode", None),
            "search": None if s is None else {"sigma": s.sigma, "best_fitness": s.best_fitness,
                                              "generations": s.generations, "steps": s.steps, "history": s.history,
                                              "mode": s.mode, "tau": s.tau},
        }  # fmt: skip

    def _save_tensors(self) -> dict[str, Any]:
        tensors: dict[str, Any] = {"vision": self.vision.state_dict(), "memory": self.memory.state_dict(),
                                   "controller": self.controller.state_dict()}  # fmt: skip
        if self.search is not None:
            tensors["search_mean"], tensors["search_best"] = (torch.as_tensor(self.search.mean),
                                                              torch.as_tensor(self.search.best))  # fmt: skip
        if getattr(self, "starts", None) is not None:
            tensors["starts"] = torch.as_tensor(self.starts)
        return tensors

    def _restore(self, checkpoint: Checkpoint) -> None:
        meta, tensors = checkpoint.meta, checkpoint.tensors()
        self.vision.load_state_dict(tensors["vision"])
        self.memory.load_state_dict(tensors["memory"])
        self.controller.load_state_dict(tensors["controller"])
        self.trained_world = bool(meta.get("trained_world", False))
        if "starts" in tensors:
            self.starts = tensors["starts"].numpy()
        self.longest_episode = meta.get("longest_episode")
        s = meta.get("search")
        if s is not None:
            self.search = SearchResult(tensors["search_mean"].numpy(), s["sigma"], tensors["search_best"].numpy(),
                                       s["best_fitness"], s["generations"], s["steps"], s["history"],
                                       s.get("mode"), s.get("tau"))  # fmt: skip


def load_world_model(vision_dir: str | os.PathLike, memory_dir: str | os.PathLike) -> tuple[VAE | VQVAE, MDNRNN]:
    """V and M from their checkpoint folders (written by ``repgym world train-vae`` / ``train-rnn``)."""
    vision, _ = checkpoint.load_vision(vision_dir)
    memory, _ = checkpoint.load_memory(memory_dir)
    return vision, memory
