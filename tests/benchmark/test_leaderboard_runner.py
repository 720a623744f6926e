"""Suites and the runner: every env gets its baselines, jobs run in workers, failures are kept, reruns resume."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import IO

import pytest
from leaderboard_helpers import idle_worker, slow_jobs

from repgym.benchmark import JobSpec, LeaderboardStore, make_jobs, run_bench
from repgym.benchmark.jobs import execute_job
from repgym.benchmark.store import ClaimOwner
from repgym.envs.registry import all_envs


def test_quick_suite_covers_every_registered_env_with_its_baselines():
    jobs = make_jobs("quick")
    agents_by_env: dict[str, set[str]] = {}
    for job in jobs:
        agents_by_env.setdefault(job.env_id, set()).add(job.agent)
    assert set(agents_by_env) == {e.id for e in all_envs()}
    assert all("random" in agents for agents in agents_by_env.values())
    assert {"size-weighted", "greedy", "sb3-maskable-ppo"} <= agents_by_env["repgym/BubbleBreaker-v0"]
    assert {"optimal", "sb3-ppo", "qr-dqn"} <= agents_by_env["repgym/KeyToDoor-v0"]
    assert "lookahead" in agents_by_env["repgym/SameGame-v0"]  # only where it can play: Bubble Breaker / SameGame
    assert "lookahead" not in agents_by_env["repgym/KeyToDoor-v0"] | agents_by_env["repgym/TwoLinkReach-v0"]
    named = make_jobs("quick", agents=["lookahead"], seeds=1)  # naming it does not send it where it cannot play
    assert {j.env_id for j in named} == {e.id for e in all_envs() if "Bubble" in e.id or "SameGame" in e.id}
    assert "sb3-ppo" in agents_by_env["repgym/TwoLinkReach-v0"]
    assert len({j.key for j in jobs}) == len(jobs)
    experts = [j for j in jobs if j.agent == "expert"]
    assert {j.seed for j in experts} == {0}  # the expert is a reference: one seed
    games = {e.id for e in all_envs() if "Reach" not in e.id and "Thrower" not in e.id}  # bubble and delayed games
    assert games <= {j.env_id for j in experts}  # (physics bodies too, once their experts exist)
    others = [j for j in jobs if j.agent != "expert" and not j.agent.startswith("zoo:")]
    assert Counter(j.seed for j in others)[0] == len(others) // 3  # 3 seeds each


def test_quick_suite_evaluates_each_shipped_agent_beside_the_references_of_its_config():
    from repgym.agents.zoo import read_zoo

    jobs = make_jobs("quick")
    for entry in read_zoo():
        mine = [j for j in jobs if j.agent == entry.ref]
        assert len(mine) == 1 and mine[0].train_steps == entry.train_steps and mine[0].seed == 0
        config = [j.agent for j in jobs if (j.env_id, j.env_kwargs) == (mine[0].env_id, mine[0].env_kwargs)]
        assert {"random", "expert"} <= set(config)
    key_to_door = next(j for j in jobs if j.agent == "zoo:qr-keytodoor-d5")
    assert key_to_door.env_kwargs == {"delay": 5}  # a config of its own, the default one stays {}
    reach = next(j for j in jobs if j.agent == "zoo:sac-reach")
    assert reach.env_kwargs == {}  # its recorded arguments are the registered ones: the env's default config
    only = make_jobs("quick", agents=["zoo:sac-reach"])
    assert [(j.agent, j.env_id) for j in only] == [("zoo:sac-reach", "repgym/TwoLinkReach-v0")]
    with pytest.raises(ValueError, match="unknown agent 'zoo:nope'"):
        make_jobs("quick", agents=["zoo:nope"])


def test_reference_suite_runs_every_tuned_entry_at_its_budget_on_the_delays_asked_for():
    from repgym.agents.hyperparams import all_entries
    from repgym.runs.env_spec import canonical_kwargs

    jobs = make_jobs("reference")
    configs = {(j.env_id, tuple(sorted(j.env_kwargs.items()))) for j in jobs}
    for game in ("KeyToDoor", "Umbrella"):
        assert (f"repgym/{game}-v0", (("delay", 0),)) in configs
        assert (f"repgym/{game}-v0", (("delay", 5),)) in configs
        assert (f"repgym/{game}-v0", ()) in configs  # delay 20 is the default: one name for the config
    assert {("repgym/LaggedControl-v0", (("delay", 0),)), ("repgym/LaggedControl-v0", (("delay", 3),)),
            ("repgym/HiddenSequence-v0", ())} <= configs  # fmt: skip
    for entry in all_entries():
        if not entry.env_id.startswith("repgym/") or entry.env_config.get("rows") == 8:
            continue  # the suite runs the registered boards, not the 8x8 study board
        config = canonical_kwargs(entry.env_id, entry.env_kwargs)
        runs = [j for j in jobs if (j.env_id, j.env_kwargs, j.agent) == (entry.env_id, config, entry.agent)
                and j.train_steps == entry.n_timesteps and j.hyperparameters == entry.hyperparameters]  # fmt: skip
        assert sorted(j.seed for j in runs) == [0, 1, 2, 3, 4], entry.label
        assert {j.num_envs for j in runs} == {entry.n_envs} and {j.eval_episodes for j in runs} == {30}
        beside = {j.agent for j in jobs if (j.env_id, j.env_kwargs) == (runs[0].env_id, runs[0].env_kwargs)}
        assert "random" in beside, entry.label  # every config a learner runs on has its references
    baselines_only = make_jobs("reference", envs=["KeyToDoor-v0"], agents=["random"], seeds=1)
    assert all(j.env_kwargs.get("obs_mode") != "pixels" for j in baselines_only)  # no learner asked: no pixel config
    pixels = [j for j in jobs if j.agent == "world-model"]
    assert {j.env_kwargs.get("obs_mode") for j in pixels} == {"pixels"}  # the entry's own env arguments
    assert len({j.key for j in jobs}) == len(jobs)


def test_naming_tuned_agents_in_the_reference_suite_selects_their_entries_and_nothing_at_a_guessed_budget():
    jobs = make_jobs("reference", envs=["SameGame-v0", "Thrower-v0"], agents=["distill", "sb3-sac"])
    plays = {(j.env_id, j.agent, j.train_steps) for j in jobs}
    assert plays == {("repgym/SameGame-v0", "distill", 150_000), ("repgym/Thrower-v0", "sb3-sac", 60_000)}
    assert len(jobs) == 10  # 5 seeds each; no SAC on the discrete board, no distill on the thrower
    untuned = make_jobs("reference", envs=["Umbrella-v0"], agents=["c51-dqn"], seeds=1)
    assert {(j.agent, j.train_steps) for j in untuned} == {("c51-dqn", 10_000)}  # no entry anywhere: still added
    assert len(untuned) == 3  # at each of the suite's delays


def test_a_shipped_agent_job_evaluates_it_and_refuses_another_config(tmp_path):
    row = execute_job(JobSpec("repgym/KeyToDoor-v0", "zoo:qr-keytodoor-d5", 0, 30_000, eval_episodes=3,
                              env_kwargs={"delay": 5}), tmp_path)  # fmt: skip
    assert row["status"] == "ok" and row["checkpoint"] == "zoo:qr-keytodoor-d5" and len(row["returns"]) == 3
    assert not any(tmp_path.iterdir())  # evaluated, never trained
    wrong = execute_job(JobSpec("repgym/KeyToDoor-v0", "zoo:qr-keytodoor-d5", 0, 30_000, eval_episodes=1), tmp_path)
    assert wrong["status"] == "failed"
    assert (
        "zoo:qr-keytodoor-d5 was trained on repgym/KeyToDoor-v0(delay=5); the job asks for repgym/KeyToDoor-v0"
        in (wrong["error"])
    )


def test_env_arguments_reach_every_job_and_an_env_that_rejects_them_is_named():
    jobs = make_jobs("quick", envs=["KeyToDoor-v0"], agents=["random"], seeds=1, env_kwargs={"delay": 5})
    assert [(j.env_id, j.env_kwargs) for j in jobs] == [("repgym/KeyToDoor-v0", {"delay": 5})]
    assert jobs[0].key != make_jobs("quick", envs=["KeyToDoor-v0"], agents=["random"], seeds=1)[0].key
    with pytest.raises(ValueError, match="repgym/TwoLinkReach-v0 does not take the env arguments"):
        make_jobs("quick", envs=["KeyToDoor-v0", "TwoLinkReach-v0"], env_kwargs={"delay": 5})


def test_job_filters_and_their_errors():
    jobs = make_jobs("quick", envs=["Umbrella-v0"], agents=["random", "optimal"], seeds=2)
    assert sorted((j.agent, j.seed) for j in jobs) == [("optimal", 0), ("optimal", 1), ("random", 0), ("random", 1)]
    assert make_jobs("quick", envs=["SameGame-v0"], agents=["tabu-colour"], seeds=1)[0].agent == "tabu-colour"
    with pytest.raises(ValueError, match="unknown env 'Nope-v0'"):
        make_jobs("quick", envs=["Nope-v0"])
    with pytest.raises(ValueError, match="unknown agent 'alphago'"):
        make_jobs("quick", agents=["alphago"])
    eps = make_jobs("quick", envs=["Umbrella-v0"], agents=["random"], seeds=1, epsilon=0.05)
    assert (jobs[0].agent, jobs[0].seed) == ("random", 0)
    assert eps[0].protocol == "epsilon=0.05" and eps[0].key != jobs[0].key
    with pytest.raises(ValueError, match="epsilon"):
        make_jobs("quick", epsilon=2.0)
    with pytest.raises(ValueError, match="unknown suite"):
        make_jobs("medium")


def test_job_key_covers_the_protocol_but_not_the_suite():
    base = JobSpec("repgym/Umbrella-v0", "random", seed=0)
    assert base.key == JobSpec("repgym/Umbrella-v0", "random", seed=0, suite="full").key
    others = [JobSpec("repgym/Umbrella-v0", "random", seed=1), JobSpec("repgym/Umbrella-v0", "random", 0, epsilon=0.05),
              JobSpec("repgym/Umbrella-v0", "random", 0, eval_episodes=11),
              JobSpec("repgym/Umbrella-v0", "random", 0, env_kwargs={"delay": 3})]  # fmt: skip
    assert len({base.key, *(o.key for o in others)}) == 5
    assert JobSpec("repgym/Umbrella-v0", "qr-dqn", 0, 100, num_envs=1).key == JobSpec("repgym/Umbrella-v0", "qr-dqn",
                                                                                       0, 100).key  # fmt: skip
    assert JobSpec("repgym/Umbrella-v0", "qr-dqn", 0, 100, num_envs=4).key != JobSpec("repgym/Umbrella-v0", "qr-dqn",
                                                                                       0, 100).key  # fmt: skip
    assert base.entry_key == others[0].entry_key  # seeds of one entry


def test_a_failing_job_is_recorded_and_the_rest_go_on(tmp_path):
    jobs = [JobSpec("repgym/Umbrella-v0", "optimal", seed=s, eval_episodes=3) for s in range(2)]
    jobs.append(JobSpec("repgym/Umbrella-v0", "random", seed=0, env_kwargs={"delay": -1}))
    with LeaderboardStore(tmp_path / "lb.sqlite") as db:
        report = run_bench(jobs, db, workers=2, progress=False)
        assert (report.ok, report.failed, report.skipped) == (2, 1, 0)
        (failed,) = db.rows(status="failed")
        assert "delay" in failed["error"] and failed["env_kwargs"] == {"delay": -1}
        rows = db.rows()
        assert all(r["worker"]["pid"] != os.getpid() for r in rows)  # ran in worker processes
        assert all(len(r["returns"]) == 3 and r["protocol"] == "deterministic" for r in rows)
        again = run_bench(jobs, db, workers=2, progress=False)  # finished jobs are skipped, the failed one retried
        assert (again.ok, again.failed, again.skipped) == (0, 1, 2)


def test_a_worker_that_dies_fails_only_its_own_job(tmp_path):
    crash = JobSpec("leaderboard_helpers:Crash-v0", "random", seed=0)  # os._exit in the worker, like a segfault
    jobs = [crash, *(JobSpec("repgym/Umbrella-v0", "random", seed=s, eval_episodes=2) for s in range(2))]
    with LeaderboardStore(tmp_path / "lb.sqlite") as db:
        report = run_bench(jobs, db, workers=1, progress=False)
        assert (report.ok, report.failed) == (2, 1)
        (failed,) = db.rows(status="failed")
    assert failed["env_id"] == crash.env_id and "worker process died" in failed["error"]


def test_baselines_play_with_masks_and_the_optimal_policy_beats_random():
    rows = {a: execute_job(JobSpec("repgym/KeyToDoor-v0", a, seed=0, eval_episodes=5), "unused")
            for a in ("random", "optimal")}  # fmt: skip
    assert rows["optimal"]["status"] == rows["random"]["status"] == "ok"
    assert rows["optimal"]["mean"] > rows["random"]["mean"]
    always_random = execute_job(JobSpec("repgym/KeyToDoor-v0", "optimal", 0, eval_episodes=5, epsilon=1.0), "unused")
    assert always_random["protocol"] == "epsilon=1" and always_random["mean"] < rows["optimal"]["mean"]
    greedy = execute_job(JobSpec("repgym/BubbleBreaker-v0", "greedy", 0, eval_episodes=2,
                                 env_kwargs={"rows": 5, "cols": 5, "colours": 3}), "unused")  # fmt: skip
    assert greedy["status"] == "ok" and greedy["mean"] > 0
    wrong = execute_job(JobSpec("repgym/Umbrella-v0", "greedy", 0), "unused")
    assert wrong["status"] == "failed" and "cannot play" in wrong["error"]


def test_a_learner_trains_and_records_its_learning_curve(tmp_path):
    hp = {"net_arch": [16], "learning_starts": 50, "buffer_size": 500, "exploration_steps": 100, "n_quantiles": 8,
          "log_interval": 50, "target_update_interval": 50}  # fmt: skip
    row = execute_job(JobSpec("repgym/Umbrella-v0", "qr-dqn", seed=0, train_steps=200, eval_episodes=2,
                              env_kwargs={"delay": 2}, hyperparameters=hp), tmp_path)  # fmt: skip
    assert row["status"] == "ok", row.get("error")
    assert row["learning_curve"] and row["learning_curve"][-1][0] == 200
    assert os.path.isfile(os.path.join(row["checkpoint"], "agent.json"))
    assert row["cpu_time_s"] > 0  # training costs CPU; the row says how much (wall time depends on the load)


_RUN = """
import sys
sys.path.insert(0, sys.argv[2])
from leaderboard_helpers import slow_jobs
from repgym.benchmark import LeaderboardStore, run_bench
if __name__ == "__main__":
    with LeaderboardStore(sys.argv[1]) as db:
        run_bench(slow_jobs(), db, workers=1, progress=False)
"""


def test_a_killed_run_resumes_without_duplicates(tmp_path):
    script, db_path = tmp_path / "run.py", tmp_path / "lb.sqlite"
    script.write_text(_RUN)
    jobs = slow_jobs()
    with LeaderboardStore(db_path) as db:
        here = str(Path(__file__).parent)
        proc = subprocess.Popen([sys.executable, str(script), str(db_path), here], start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while len(db.finished_keys()) < 3 and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(0.02)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)  # the driver and its worker process, mid-run
            proc.wait()
        finished_at_kill = len(db.finished_keys())
        assert 3 <= finished_at_kill < len(jobs), "the run must be killed part-way"
        report = run_bench(jobs, db, workers=1, progress=False)
        assert report.skipped == finished_at_kill and report.ok == len(jobs) - finished_at_kill
        keys = [r["job_key"] for r in db.rows()]
    assert len(keys) == len(set(keys)) == len(jobs)


_HANG = """
import sys
sys.path.insert(0, sys.argv[2])
from repgym.benchmark import JobSpec, LeaderboardStore, run_bench
if __name__ == "__main__":
    with LeaderboardStore(sys.argv[1]) as db:
        run_bench([JobSpec("leaderboard_helpers:Hang-v0", "random", seed=0)], db, workers=1, progress=False)
"""


def _running(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie waiting to be reaped does not)."""
    if not Path("/proc").is_dir():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _reaches_end(stream: IO[str], timeout: float) -> bool:
    """Read ``stream`` to its end, waiting at most ``timeout`` seconds: a pipe ends once every process holding its
    write end has exited."""
    reader = threading.Thread(target=stream.read, daemon=True)
    reader.start()
    reader.join(timeout)
    return not reader.is_alive()


def test_workers_exit_when_the_driver_is_killed(tmp_path):
    script, db_path = tmp_path / "run.py", tmp_path / "lb.sqlite"
    script.write_text(_HANG)
    here = str(Path(__file__).parent)
    driver = subprocess.Popen([sys.executable, str(script), str(db_path), here], stdout=subprocess.PIPE, text=True)
    worker = None
    try:
        line = driver.stdout.readline()  # the worker prints its pid once the job has started in it
        worker = int(line.split()[-1])
        with LeaderboardStore(db_path) as db:
            assert [c["pid"] for c in db.claims()] == [driver.pid]  # the driver claimed the job before running it
        driver.kill()
        driver.wait()
        assert _reaches_end(driver.stdout, timeout=60), "a process still holds the driver's stdout"
        assert not _running(worker)
    finally:
        if driver.poll() is None:
            driver.kill()
        if worker is not None and _running(worker):
            os.kill(worker, signal.SIGKILL)


def test_a_worker_exits_when_its_lifeline_closes():
    context = multiprocessing.get_context("spawn")
    lifeline, keep_alive = context.Pipe(duplex=False)
    worker = context.Process(target=idle_worker, args=(lifeline,))
    worker.start()
    lifeline.close()
    keep_alive.close()  # what the driver's death does to the pipe, wherever PR_SET_PDEATHSIG does not exist
    worker.join(timeout=60)
    assert worker.exitcode == 1


def test_a_job_another_run_has_claimed_is_left_to_it(tmp_path):
    jobs = [JobSpec("repgym/Umbrella-v0", "random", seed=s, eval_episodes=2) for s in range(3)]
    other = ClaimOwner()  # a live run (this process) that has taken the first job
    with LeaderboardStore(tmp_path / "lb.sqlite") as db:
        assert db.claim(jobs[0].key, other)
        report = run_bench(jobs, db, workers=1, progress=False)
        assert (report.ok, report.claimed_elsewhere, report.skipped) == (2, 1, 0)
        assert {r["seed"] for r in db.rows()} == {1, 2}
        assert [c["run_id"] for c in db.claims()] == [other.run_id]  # the run released its own claims


def test_two_runs_on_one_database_share_the_jobs(tmp_path):
    jobs = slow_jobs()[:8]
    reports = []

    def bench() -> None:
        with LeaderboardStore(tmp_path / "lb.sqlite") as db:
            reports.append(run_bench(jobs, db, workers=1, progress=False))

    runs = [threading.Thread(target=bench) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    assert sum(r.ok for r in reports) == len(jobs)  # every job ran once, in one of the runs
    assert sum(r.claimed_elsewhere + r.skipped for r in reports) == len(jobs)
    with LeaderboardStore(tmp_path / "lb.sqlite") as db:
        assert len(db.rows()) == len(jobs) and db.claims() == []


def test_a_missing_ray_is_an_error_before_anything_runs(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with LeaderboardStore(tmp_path / "lb.sqlite") as store:
        with pytest.raises(ValueError, match="the ray backend needs Ray"):
            run_bench(make_jobs("quick", envs=["Umbrella-v0"], agents=["random"], seeds=1), store, backend="ray")
        assert store.rows(status=None) == []  # not even a failed row
