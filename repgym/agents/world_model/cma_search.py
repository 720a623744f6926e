"""CMA-ES over controller parameters (the ``cma`` package), candidates scored in parallel worker processes.

Workers are started with the ``spawn`` method (no inherited locks or threads, the same on every OS) and each
builds its evaluator once (``factory(*args)``, e.g. loading the world model and making the env). A worker that
dies — a segfault, ``os._exit``, the OOM killer — breaks the pool, and the search raises
:class:`WorkerCrashed` at once instead of waiting for a result that will never come; an exception inside a
worker is re-raised in the parent with the worker's traceback.

All candidates of a generation are scored on the same episode seeds (common random numbers), so they are ranked
on the same starting states.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import Any

import cma
import numpy as np

from repgym.worker_pool import TetheredPool

Evaluator = Callable[[np.ndarray, int], tuple[float, int]]  # (params, seed) -> (fitness, env steps)

_EVALUATOR: Evaluator | None = None


class WorkerCrashed(RuntimeError):
    """A CMA-ES worker process died while the search was waiting on it."""


def _init_worker(factory: Callable[..., Evaluator], args: tuple) -> None:
    global _EVALUATOR
    _EVALUATOR = factory(*args)


def _evaluate(params: np.ndarray, seed: int) -> tuple[float, int]:
    return _EVALUATOR(params, seed)


@dataclass
class SearchResult:
    """Where a search ended: the distribution ``mean`` and ``sigma``, the best candidate seen and its fitness,
    generations run, env steps spent and a per-generation ``history`` (mean/best/worst fitness, sigma, steps).
    ``mode``/``tau`` record where ``best_fitness`` was scored (``"real"``, or ``"dream"`` at temperature ``tau``):
    scores from elsewhere are not comparable, see :meth:`rescored`."""

    mean: np.ndarray
    sigma: float
    best: np.ndarray
    best_fitness: float
    generations: int = 0
    steps: int = 0
    history: list[dict[str, float]] = field(default_factory=list)
    mode: str | None = None
    tau: float | None = None

    def rescored(self, mode: str, tau: float | None) -> SearchResult:
        """This search continued under ``mode``/``tau``: kept as is when they match, else with the best candidate
        forgotten (its fitness was scored elsewhere; the mean, sigma and counts carry on)."""
        if (self.mode, self.tau) == (mode, tau):
            return self
        return replace(self, best=np.array(self.mean, float), best_fitness=-np.inf, mode=mode, tau=tau,
                       history=list(self.history))  # fmt: skip


class CandidatePool:
    """Scores candidate vectors with ``factory(*args)`` in ``workers`` spawned processes (in this process when
    ``workers == 0``). Use as a context manager so the processes are shut down."""

    def __init__(self, factory: Callable[..., Evaluator], args: tuple = (), workers: int = 0) -> None:
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.workers = workers
        self._local: Evaluator | None = factory(*args) if workers == 0 else None
        self._pool: TetheredPool | None = None
        if workers > 0:
            self._pool = TetheredPool(workers, initializer=_init_worker, initargs=(factory, args))

    def evaluate(self, candidates: list[np.ndarray], seed: int) -> list[tuple[float, int]]:
        """``[(fitness, steps)]`` per candidate, all on episode seed ``seed``."""
        if self._pool is None:
            return [self._local(np.asarray(c), seed) for c in candidates]
        futures = [self._pool.submit(_evaluate, np.asarray(c), seed) for c in candidates]
        try:
            return [f.result() for f in futures]
        except BrokenProcessPool as err:
            self.close()
            raise WorkerCrashed(
                f"a CMA-ES worker process died while scoring candidates ({err}); its own output above says why"
            ) from err

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> CandidatePool:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def cma_search(
    pool: CandidatePool,
    x0: np.ndarray,
    sigma0: float = 0.1,
    generations: int = 10,
    popsize: int | None = None,
    seed: int = 0,
    start: SearchResult | None = None,
    max_steps: int | None = None,
    callback: Callable[[SearchResult], Any] | None = None,
) -> SearchResult:
    """Maximise fitness with CMA-ES until ``generations`` generations in total (counting ``start``'s) or
    ``max_steps`` env steps in total.

    Args:
        x0, sigma0: initial mean and step size (ignored when resuming from ``start``, whose mean and sigma are
            used; the covariance then starts again from the identity).
        popsize: candidates per generation (default: cma's ``4 + 3 ln(n)``).
        seed: seeds CMA-ES sampling and the episode seeds (generation g plays seeds ``seed + 1000 * g ...``).
        callback: called with the running result after every generation (e.g. to save a checkpoint); returning
            False (not None) stops the search there.
    """
    result = start or SearchResult(np.asarray(x0, float), float(sigma0), np.asarray(x0, float), -np.inf)
    if result.mean.size < 2:
        raise ValueError("CMA-ES needs at least 2 parameters")
    options: dict[str, Any] = {"seed": int(seed) + result.generations + 1, "verbose": -9}
    if popsize is not None:
        options["popsize"] = int(popsize)
    es = cma.CMAEvolutionStrategy(result.mean, result.sigma, options)
    while result.generations < generations and (max_steps is None or result.steps < max_steps):
        candidates = es.ask()
        scored = pool.evaluate(candidates, seed + 1000 * (result.generations + 1))
        fitness = np.array([f for f, _ in scored])
        es.tell(candidates, (-fitness).tolist())  # cma minimises
        top = int(np.argmax(fitness))
        if fitness[top] > result.best_fitness:
            result.best, result.best_fitness = np.asarray(candidates[top]), float(fitness[top])
        result.generations += 1
        result.steps += int(sum(s for _, s in scored))
        result.mean, result.sigma = np.asarray(es.mean), float(es.sigma)
        result.history.append({"generation": result.generations, "mean_fitness": float(fitness.mean()),
                               "best_fitness": float(fitness[top]), "worst_fitness": float(fitness.min()),
                               "sigma": result.sigma, "steps": result.steps})  # fmt: skip
        if callback is not None and callback(result) is False:
            break
    return result
