"""Benchmark runner and leaderboard: agents and people on the same games under the same recorded protocol.

```python
from repgym.benchmark import LeaderboardStore, build_entries, make_jobs, run_bench, to_markdown
with LeaderboardStore() as store:                      # ~/.local/share/repgym/leaderboard.sqlite or $REPGYM_DB
    run_bench(make_jobs("quick", envs=["Umbrella-v0"]), store, backend="local")
    print(to_markdown(build_entries(store.rows())))
```

Modules: :mod:`.store` (SQLite, schema in :mod:`.schema`), :mod:`.jobs` (one job), :mod:`.suites` (which jobs),
:mod:`.runner` (local processes or Ray), :mod:`.table` and :mod:`.scoring` (entries, IQM, bootstrap, normalised
scores), :mod:`.export` (rich, Markdown, CSV, HTML), :mod:`.submit` (human recordings), :mod:`.video` (MP4s),
:mod:`.baselines` (random and the families' baseline policies).
"""

from repgym.benchmark.export import export, print_table, to_csv, to_html, to_markdown
from repgym.benchmark.jobs import JobSpec, execute_job
from repgym.benchmark.runner import BenchReport, run_bench
from repgym.benchmark.store import LeaderboardError, LeaderboardStore, default_db_path
from repgym.benchmark.suites import SUITES, make_jobs
from repgym.benchmark.table import Entry, build_entries

__all__ = [
    "SUITES",
    "BenchReport",
    "Entry",
    "JobSpec",
    "LeaderboardError",
    "LeaderboardStore",
    "build_entries",
    "default_db_path",
    "execute_job",
    "export",
    "make_jobs",
    "print_table",
    "run_bench",
    "to_csv",
    "to_html",
    "to_markdown",
]
