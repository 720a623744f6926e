"""The Ray backend: the same jobs as Ray tasks on a local Ray instance, rows in the same database.

CI installs Ray (.ci/run); elsewhere this test is skipped when Ray is not installed."""

from __future__ import annotations

import os

import pytest

from repgym.benchmark import JobSpec, LeaderboardStore, run_bench

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'repgym[ray]'); CI installs it")


def test_jobs_run_as_ray_tasks_and_land_in_the_database(tmp_path):
    jobs = [JobSpec("repgym/Umbrella-v0", agent, seed=s, eval_episodes=3) for agent in ("random", "optimal")
            for s in range(2)]  # fmt: skip
    jobs.append(JobSpec("repgym/Umbrella-v0", "random", seed=0, env_kwargs={"delay": -1}))  # fails inside Ray
    with LeaderboardStore(tmp_path / "lb.sqlite") as db:
        db.add_result({**_local_row(jobs[0])})  # one job already finished: Ray must skip it
        report = run_bench(jobs, db, backend="ray", workers=2, progress=False)
        assert (report.skipped, report.ok, report.failed) == (1, 3, 1)
        rows = [r for r in db.rows(status=None) if r["worker"] and "ray_task_id" in r["worker"]]
    assert len(rows) == 4
    assert all(r["worker"]["pid"] != os.getpid() and r["worker"]["ray_task_id"] for r in rows)
    assert len({r["worker"]["ray_task_id"] for r in rows}) == 4
    assert not ray.is_initialized()  # the instance run_bench started is shut down again


def _local_row(job: JobSpec) -> dict:
    from repgym.benchmark.jobs import execute_job

    return execute_job(job, "unused")
