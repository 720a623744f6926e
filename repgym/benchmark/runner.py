"""Runs a list of benchmark jobs and writes their rows to the leaderboard: in local worker processes (default) or
as Ray tasks on a cluster.

Both backends run the same function (:func:`~repgym.benchmark.jobs.execute_job`), which returns a
row; the driver writes each row as it arrives, so workers need no access to the database (on Ray they may be on
other machines). Jobs whose key already has a finished row are skipped, so a killed run resumes where it stopped.
A job that fails is written as ``failed`` with its error and the others go on; a later run retries it.

Each job is claimed in the database just before it starts (:meth:`LeaderboardStore.claim`), so two runs on one
database share the work instead of both doing all of it; the driver renews its claims while it waits. Local workers
die with their driver, even one killed by SIGKILL (:class:`repgym.worker_pool.TetheredPool`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repgym.benchmark.jobs import JobSpec, execute_job
from repgym.benchmark.store import CLAIM_LEASE_S, ClaimOwner, LeaderboardStore
from repgym.worker_pool import TetheredPool

BACKENDS = ("local", "ray")


@dataclass
class BenchReport:
    """What :func:`run_bench` did."""

    total: int  # jobs asked for
    skipped: int  # already finished in the database
    claimed_elsewhere: int = 0  # skipped: another run had claimed them (or finished them meanwhile)
    ok: int = 0
    failed: int = 0
    wall_time_s: float = 0.0
    errors: list[tuple[JobSpec, str]] = field(default_factory=list)  # (job, first line of its error)


def _init_worker() -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch is imported in this worker


class _Claims:
    """This run's claims on jobs in ``store``: taken before a job starts, released when its row is written, renewed
    while the driver waits so that other runs do not take them over."""

    def __init__(self, store: LeaderboardStore, lease_s: float = CLAIM_LEASE_S) -> None:
        self.store, self.lease_s, self.owner = store, lease_s, ClaimOwner()
        self._renewed = time.monotonic()

    def take(self, job: JobSpec) -> bool:
        return self.store.claim(job.key, self.owner, self.lease_s)

    def release(self, job: JobSpec | None = None) -> None:
        self.store.release(self.owner, None if job is None else job.key)

    def renew_if_due(self) -> None:
        if time.monotonic() - self._renewed >= self.lease_s / 4:
            self.store.renew_claims(self.owner)
            self._renewed = time.monotonic()

    @property
    def wait_s(self) -> float:
        """How long the driver may block before it must renew."""
        return self.lease_s / 4


def _crashed_row(job: JobSpec, why: str) -> dict[str, Any]:
    """A ``failed`` row for a job whose worker died before it could report."""
    return {"job_key": job.key, "kind": "agent", "env_id": job.env_id, "env_kwargs": job.env_kwargs,
            "agent": job.agent, "hyperparameters": job.hyperparameters, "seed": job.seed,
            "train_steps": job.train_steps, "eval_episodes": job.eval_episodes, "protocol": job.protocol,
            "suite": job.suite, "status": "failed", "error": why}  # fmt: skip


def pending_jobs(jobs: Sequence[JobSpec], store: LeaderboardStore | None) -> list[JobSpec]:
    """The jobs without a finished row in ``store`` (None: no database yet, every job), duplicates removed,
    longest (most training steps) first."""
    finished = store.finished_keys() if store is not None else set()
    unique = {job.key: job for job in jobs if job.key not in finished}
    return sorted(unique.values(), key=lambda j: (-j.train_steps, -j.eval_episodes))


def pending_in(jobs: Sequence[JobSpec], path: str | os.PathLike) -> list[JobSpec]:
    """:func:`pending_jobs` against the database at ``path``, read only: a dry run never creates or upgrades it."""
    if not Path(path).exists():
        return pending_jobs(jobs, None)
    with LeaderboardStore(path, read_only=True) as store:
        return pending_jobs(jobs, store)


def run_bench(
    jobs: Sequence[JobSpec],
    store: LeaderboardStore,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    run_dir: str | os.PathLike | None = None,
    progress: bool = True,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> BenchReport:
    """Run the ``jobs`` that ``store`` has not finished and write their rows to it.

    Args:
        backend: ``local`` (worker processes on this machine) or ``ray`` (Ray tasks).
        workers: local worker processes, or CPUs of a Ray instance started here (default: CPU count).
        address: Ray cluster address (``ray.init(address=...)``); None starts a local Ray instance.
        run_dir: where learners' checkpoints and logs go (default: ``runs/`` beside the database).
        progress: show a progress bar (jobs done / total, time left).
        on_row: called with each row after it is written.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if backend == "local" and address is not None:
        raise ValueError("--address is for the ray backend; add --backend ray")
    if backend == "ray":
        _import_ray()  # before any progress bar: a missing Ray is an error up front
    todo = pending_jobs(jobs, store)
    n_workers = max(1, int(workers or os.cpu_count() or 1))
    report = BenchReport(total=len({j.key for j in jobs}), skipped=len({j.key for j in jobs}) - len(todo))
    run_dir = Path(run_dir) if run_dir is not None else store.path.parent / "runs"
    start = time.perf_counter()
    claims = _Claims(store)
    with _Progress(len(todo), progress) as bar:

        def claim(job: JobSpec) -> bool:
            if claims.take(job):
                return True
            report.claimed_elsewhere += 1
            bar.skip()
            return False

        def record(job: JobSpec, row: dict[str, Any]) -> None:
            store.add_result(row)
            claims.release(job)
            if row["status"] == "ok":
                report.ok += 1
            else:
                report.failed += 1
                report.errors.append((job, str(row.get("error", "")).splitlines()[0]))
            bar.advance(job, report.failed)
            if on_row is not None:
                on_row(row)

        try:
            if todo and backend == "local":
                _run_local(todo, run_dir, min(n_workers, len(todo)), claim, record, claims)
            elif todo:
                _run_ray(todo, run_dir, n_workers, address, claim, record, claims)
        finally:
            claims.release()  # jobs still running when interrupted: free for the next run
    report.wall_time_s = time.perf_counter() - start
    return report


def _run_local(todo: list[JobSpec], run_dir: Path, workers: int, claim: Callable, record: Callable,
               claims: _Claims) -> None:  # fmt: skip
    """At most ``workers`` jobs in flight; a worker that dies fails only the jobs then running, and the rest go on
    in a new pool. Ctrl-C ends the workers at once (finished rows are already written)."""
    import multiprocessing

    queue = list(todo)
    while queue:
        before = set(multiprocessing.active_children())
        pool = TetheredPool(workers, initializer=_init_worker)  # its workers die with this process
        try:
            _run_pool(pool, queue, run_dir, workers, claim, record, claims)
        except BaseException:
            for process in set(multiprocessing.active_children()) - before:  # this pool's workers
                process.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        else:
            pool.shutdown()


def _run_pool(pool: ProcessPoolExecutor, queue: list[JobSpec], run_dir: Path, workers: int, claim: Callable,
              record: Callable, claims: _Claims) -> None:  # fmt: skip
    """Feed ``queue`` to ``pool`` (each job once this run has claimed it) until it is empty or the pool breaks."""
    running: dict[Future, JobSpec] = {}
    broken = False
    while (queue or running) and not broken:
        while queue and len(running) < workers:
            job = queue.pop(0)
            if claim(job):
                running[pool.submit(execute_job, job, str(run_dir))] = job
        if not running:
            break
        done, _ = wait(running, timeout=claims.wait_s, return_when=FIRST_COMPLETED)
        claims.renew_if_due()
        for future in done:
            job = running.pop(future)
            try:
                row = future.result()
            except BrokenProcessPool:
                broken = True
                row = _crashed_row(job, "the worker process died while this job ran (crash or out of memory); "
                                        "rerun to retry")  # fmt: skip
            record(job, row)
    for job in running.values():  # in flight when the pool broke: we cannot tell which one crashed it
        record(job, _crashed_row(job, "the worker pool broke while this job ran; rerun to retry"))


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ValueError('the ray backend needs Ray: pip install "repgym[ray]" (or pip install ray)') from None
    return ray


def _run_ray(todo: list[JobSpec], run_dir: Path, workers: int, address: str | None, claim: Callable,
             record: Callable, claims: _Claims) -> None:  # fmt: skip
    """Every job this run claims as a Ray task (one CPU each); a local Ray instance is started when ``address`` is
    None."""
    ray = _import_ray()
    started = not ray.is_initialized()
    if started:
        init: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address is None:
            init["num_cpus"] = workers
        ray.init(address=address, **init)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(execute_job)
        pending = {remote.remote(job, str(run_dir)): job for job in todo if claim(job)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=claims.wait_s)
            claims.renew_if_due()
            if not done:
                continue
            job = pending.pop(done[0])
            try:
                row = ray.get(done[0])
            except ray.exceptions.RayError as err:  # the task's worker died; execute_job itself never raises
                row = _crashed_row(job, f"Ray task failed: {type(err).__name__}: {str(err).splitlines()[0]}")
            record(job, row)
    finally:
        if started:
            ray.shutdown()


class _Progress:
    """A rich progress bar over jobs (done / total, failed, elapsed, time left), or nothing."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled, self._progress, self._task = total, enabled and total > 0, None, None

    def __enter__(self) -> _Progress:
        if self.enabled:
            from rich import progress as rp

            self._progress = rp.Progress(rp.TextColumn("[bold]bench"), rp.BarColumn(), rp.MofNCompleteColumn(),
                                         rp.TextColumn("jobs, {task.fields[failed]} failed"), rp.TimeElapsedColumn(),
                                         rp.TextColumn("left"), rp.TimeRemainingColumn(),
                                         rp.TextColumn("{task.description}"))  # fmt: skip
            self._progress.start()
            self._task = self._progress.add_task("", total=self.total, failed=0)
        return self

    def skip(self) -> None:
        """One job fewer to run (another run claimed it)."""
        if self._progress is not None:
            self.total -= 1
            self._progress.update(self._task, total=self.total)

    def advance(self, job: JobSpec, failed: int) -> None:
        if self._progress is not None:
            label = f"{job.agent} on {job.env_id.split('/')[-1]} seed {job.seed}"
            self._progress.update(self._task, advance=1, failed=failed, description=label)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


__all__ = ["BACKENDS", "BenchReport", "pending_in", "pending_jobs", "run_bench"]
