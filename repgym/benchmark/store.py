"""The leaderboard's SQLite database: one row per benchmark job (env x agent x seed) or submitted human recording.

**Where.** :func:`default_db_path`: ``$REPGYM_DB`` if set, else ``$XDG_DATA_HOME/repgym/leaderboard.sqlite``, else
``~/.local/share/repgym/leaderboard.sqlite``; ``repgym bench --db`` / ``repgym leaderboard --db`` override it.

**Rows.** Each row records what produced its number (env id and constructor arguments, agent and
hyperparameters, seed, training steps, evaluation episodes and protocol), the per-episode returns with their mean
and std, wall time, package version, git commit and date. Aggregates over seeds (IQM with a bootstrap interval,
normalised scores) are computed when the leaderboard is read (:mod:`.table`), never stored: the random and human
references they use change as rows arrive.

**Many writers.** The database runs in WAL mode; every write is one ``BEGIN IMMEDIATE`` transaction with a busy
timeout, retried on ``database is locked``, so worker processes, several ``repgym bench`` runs and a
``repgym leaderboard submit`` can write at once without losing a row. A unique index allows one finished row per
job key, so a resumed or duplicated run cannot add a job twice.

**Claims.** A bench run claims a job (:meth:`LeaderboardStore.claim`) before running it, so that a second run on
the same database skips it instead of doing the work twice. A claim is released when the job's row is written; the
claim of an owner that died (same host, its process gone) or that has not renewed it for a lease is taken over.

**Foreign files.** A file that is not SQLite, an SQLite database of another program, or one written by a newer
schema raises :class:`LeaderboardError` naming the problem; such a file is read only as far as needed to tell, and
never written. Opened with ``read_only=True`` (``repgym leaderboard``), a store never creates, converts or upgrades
a file: a missing or empty one is refused.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import random
import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import repgym
from repgym.benchmark.schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION

ENV_VAR = "REPGYM_DB"
SQLITE_MAGIC = b"SQLite format 3\x00"
JSON_COLUMNS = ("env_kwargs", "hyperparameters", "returns", "learning_curve", "worker")
COLUMNS = (
    "job_key", "status", "kind", "env_id", "env_kwargs", "agent", "hyperparameters", "seed", "train_steps",
    "eval_episodes", "protocol", "returns", "mean", "std", "wall_time_s", "repgym_version", "git_commit",
    "created_utc", "video_path", "checkpoint", "learning_curve", "worker", "suite", "source", "error", "cpu_time_s",
    "success_rate",
)  # fmt: skip
CLAIM_LEASE_S = 600.0  # a claim its owner has not renewed for this long is taken over (the owner is presumed dead)
T = TypeVar("T")


class LeaderboardError(ValueError):
    """The database file cannot be used as a leaderboard (not SQLite, another program's, corrupt, too new)."""


def default_db_path() -> Path:
    """``$REPGYM_DB``, else ``$XDG_DATA_HOME/repgym/leaderboard.sqlite``, else
    ``~/.local/share/repgym/leaderboard.sqlite``."""
    if os.environ.get(ENV_VAR):
        return Path(os.environ[ENV_VAR]).expanduser()
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home).expanduser() / "repgym" / "leaderboard.sqlite"


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the repgym source tree (``+dirty`` when tracked files changed), or None outside a git clone."""
    source = Path(repgym.__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(source), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                              text=True, timeout=5, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=5, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if dirty else head or None


@dataclass(frozen=True)
class ClaimOwner:
    """Who holds a claim: one bench run (``run_id``) in process ``pid`` on ``host``."""

    run_id: str = field(default_factory=lambda: os.urandom(8).hex())
    host: str = field(default_factory=platform.node)
    pid: int = field(default_factory=os.getpid)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _claim_is_stale(host: str, pid: int, renewed: float, lease_s: float) -> bool:
    """A claim whose owner is gone: not renewed within the lease, or held by a dead process of this host."""
    return time.time() - renewed > lease_s or (host == platform.node() and not _pid_alive(pid))


def _is_busy(err: sqlite3.OperationalError) -> bool:
    text = str(err).lower()
    return "locked" in text or "busy" in text


class LeaderboardStore:
    """A leaderboard database (created, or upgraded to :data:`SCHEMA_VERSION`, on open). Use as a context manager.

    Args:
        path: the database file (default :func:`default_db_path`).
        timeout: seconds a write waits for another writer before retrying.
        retries: attempts of one write when the database stays locked.
        read_only: only read: a missing or empty file is refused, and nothing is created, migrated or written.
    """

    def __init__(
        self, path: str | os.PathLike | None = None, timeout: float = 30.0, retries: int = 20, read_only: bool = False
    ) -> None:
        self.path = Path(path).expanduser() if path is not None else default_db_path()
        self.retries = retries
        self.read_only = read_only
        self._check_header()
        if read_only:
            self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", timeout=timeout, uri=True,
                                         isolation_level=None)  # fmt: skip
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        try:
            if read_only:
                self._retry(self._check_readable)
            else:
                self._retry(self._migrate)
                self._retry(lambda: self._conn.execute("PRAGMA journal_mode=WAL"))
        except BaseException:
            self._conn.close()
            raise

    # -- opening ---------------------------------------------------------------------------------------------------

    def _refuse(self, why: str) -> LeaderboardError:
        return LeaderboardError(f"{self.path} {why}; the file was left untouched (use --db or ${ENV_VAR} to choose "
                                "another leaderboard file)")  # fmt: skip

    def _check_header(self) -> None:
        """Refuse a non-empty file that does not start with SQLite's header, before SQLite opens it (read-only: also
        a missing or empty file, which only a writer turns into a leaderboard)."""
        if not self.path.exists():
            if self.read_only:
                raise LeaderboardError(f"no leaderboard at {self.path} yet: run `repgym bench` (or pass --db / set "
                                       f"${ENV_VAR})")  # fmt: skip
            return
        if self.path.is_dir():
            raise self._refuse("is a folder, not a leaderboard database")
        with self.path.open("rb") as f:
            head = f.read(100)
        if not head and self.read_only:
            raise self._refuse("is not a repgym leaderboard (empty file)")
        if head and (len(head) < 100 or not head.startswith(SQLITE_MAGIC)):
            raise self._refuse("is not a repgym leaderboard: not an SQLite database (corrupt, or another file)")

    def _check_owner(self) -> None:
        """Refuse another program's database and a corrupt one, reading only."""
        try:
            app_id = self._conn.execute("PRAGMA application_id").fetchone()[0]
            tables = sorted(r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
            problems = self._conn.execute("PRAGMA quick_check").fetchall() if app_id == APPLICATION_ID else [("ok",)]
        except sqlite3.DatabaseError as err:
            raise self._refuse(f"cannot be read as a leaderboard database ({err})") from None
        if problems != [("ok",)]:
            raise self._refuse(f"is a corrupt leaderboard database (integrity check: {problems[0][0]})")
        if app_id == APPLICATION_ID or (app_id == 0 and not tables):
            return
        listed = ", ".join(tables[:5]) or "none"
        raise self._refuse(f"is an SQLite database of another program (application id {app_id}, tables: {listed}), "
                           "not a repgym leaderboard")  # fmt: skip

    def _migrate(self) -> None:
        """Check that the file is a leaderboard (or empty), then apply the migrations it lacks, in one transaction
        (concurrent openers apply them once). A foreign file is refused before anything is written."""
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Under the write lock, so that no other opener is half-way through creating the schema (read outside
            # it, a new file could show the tables of one moment and the application id of an earlier one).
            self._check_owner()
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_utc TEXT)")
            current = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version").fetchone()[0]
            if current > SCHEMA_VERSION:
                raise LeaderboardError(f"{self.path} has leaderboard schema version {current}, newer than this repgym "
                                       f"reads ({SCHEMA_VERSION}); upgrade repgym")  # fmt: skip
            for version, sql in MIGRATIONS:
                if version > current:
                    for statement in filter(str.strip, sql.split(";")):
                        conn.execute(statement)
                    conn.execute("INSERT INTO schema_version VALUES (?, ?)", (version, _now()))
            if current == 0:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def _check_readable(self) -> None:
        """What :meth:`_migrate` checks, for a reader: a leaderboard of this schema version or an older one."""
        self._check_owner()
        if self._conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
            raise self._refuse("is an empty SQLite database, not a repgym leaderboard")
        current = self.schema_version()
        if current > SCHEMA_VERSION:
            raise LeaderboardError(f"{self.path} has leaderboard schema version {current}, newer than this repgym "
                                   f"reads ({SCHEMA_VERSION}); upgrade repgym")  # fmt: skip

    def _retry(self, fn: Callable[[], T]) -> T:
        """``fn()``, retried with jittered back-off while the database is locked by another writer."""
        for attempt in range(self.retries):
            try:
                return fn()
            except sqlite3.OperationalError as err:
                if not _is_busy(err) or attempt == self.retries - 1:
                    raise
                time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    # -- writing ---------------------------------------------------------------------------------------------------

    def add_result(self, row: dict[str, Any]) -> int | None:
        """Insert one result row (see :data:`COLUMNS`); returns its id, or None when the job already has a finished
        row. ``repgym_version``, ``git_commit`` and ``created_utc`` default to this process's."""
        unknown = set(row) - set(COLUMNS)
        if unknown:
            raise ValueError(f"unknown result columns {sorted(unknown)}; expected some of {COLUMNS}")
        full = {"repgym_version": repgym.__version__, "git_commit": git_commit(), "created_utc": _now(),
                "env_kwargs": {}, "hyperparameters": {}, **row}  # fmt: skip
        names = [c for c in COLUMNS if c in full]
        values = [json.dumps(full[c], sort_keys=True) if c in JSON_COLUMNS and full[c] is not None else full[c]
                  for c in names]  # fmt: skip
        sql = (
            f"INSERT INTO results ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
            "ON CONFLICT (job_key) WHERE status = 'ok' DO NOTHING"
        )

        def insert() -> int | None:
            cursor = self._conn.execute(sql, values)
            return cursor.lastrowid if cursor.rowcount == 1 else None

        return self._transaction(insert)

    def _transaction(self, fn: Callable[[], T]) -> T:
        """``fn()`` inside one ``BEGIN IMMEDIATE`` transaction (retried while another writer holds the lock)."""

        def run() -> T:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                out = fn()
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            return out

        return self._retry(run)

    def claim(self, job_key: str, owner: ClaimOwner, lease_s: float = CLAIM_LEASE_S) -> bool:
        """Take job ``job_key`` for ``owner``: True when it is now theirs, False when it has a finished row or a live
        claim of another run (a dead owner's claim, or one not renewed within ``lease_s`` seconds, is taken over)."""

        def take() -> bool:
            if self._conn.execute("SELECT 1 FROM results WHERE job_key = ? AND status = 'ok'", (job_key,)).fetchone():
                return False
            held = self._conn.execute("SELECT run_id, host, pid, renewed FROM claims WHERE job_key = ?",
                                      (job_key,)).fetchone()  # fmt: skip
            if held is not None and held[0] != owner.run_id and not _claim_is_stale(*held[1:], lease_s):
                return False
            self._conn.execute("INSERT OR REPLACE INTO claims VALUES (?, ?, ?, ?, ?, ?)",
                               (job_key, owner.run_id, owner.host, owner.pid, _now(), time.time()))  # fmt: skip
            return True

        return self._transaction(take)

    def renew_claims(self, owner: ClaimOwner) -> None:
        """Tell other runs that ``owner`` is still working on its claimed jobs (restarts their lease)."""
        self._retry(lambda: self._conn.execute("UPDATE claims SET renewed = ? WHERE run_id = ?",
                                               (time.time(), owner.run_id)))  # fmt: skip

    def release(self, owner: ClaimOwner, job_key: str | None = None) -> None:
        """Drop ``owner``'s claim of ``job_key`` (None: all its claims), so that another run may take the job."""
        sql, args = "DELETE FROM claims WHERE run_id = ?", [owner.run_id]
        if job_key is not None:
            sql, args = sql + " AND job_key = ?", [*args, job_key]
        self._retry(lambda: self._conn.execute(sql, args))

    def claims(self) -> list[dict[str, Any]]:
        """The claims held now: ``job_key``, ``run_id``, ``host``, ``pid``, ``claimed_utc``, ``renewed``."""
        cursor = self._conn.execute("SELECT * FROM claims ORDER BY claimed_utc")
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, values, strict=True)) for values in cursor]

    def set_video(self, row_id: int, path: str | os.PathLike) -> None:
        """Record the video of result ``row_id``."""
        self._retry(lambda: self._conn.execute("UPDATE results SET video_path = ? WHERE id = ?", (str(path), row_id)))

    # -- reading ---------------------------------------------------------------------------------------------------

    def finished_keys(self) -> set[str]:
        """Job keys that have a finished (``ok``) row."""
        return {r[0] for r in self._conn.execute("SELECT job_key FROM results WHERE status = 'ok'")}

    def rows(self, env_ids: Iterable[str] | None = None, status: str | None = "ok") -> list[dict[str, Any]]:
        """Result rows as dicts (JSON columns decoded), oldest first; ``status=None`` for every status."""
        sql, args = "SELECT * FROM results WHERE 1 = 1", []
        if status is not None:
            sql, args = sql + " AND status = ?", [status]
        if env_ids is not None:
            ids = list(env_ids)
            sql += f" AND env_id IN ({', '.join('?' * len(ids))})"
            args += ids
        cursor = self._conn.execute(sql + " ORDER BY id", args)
        names = [d[0] for d in cursor.description]
        out = []
        for values in cursor:
            row = dict(zip(names, values, strict=True))
            for c in JSON_COLUMNS:
                if row[c] is not None:
                    row[c] = json.loads(row[c])
            out.append(row)
        return out

    def schema_version(self) -> int:
        return int(self._conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0])

    def copy_to(self, dest: str | os.PathLike) -> tuple[Path, int]:
        """Write a consistent copy of the whole database to ``dest`` (one file, no WAL beside it); returns its path
        and the result rows it holds. SQLite's online backup: rows that a running ``repgym bench`` adds meanwhile are
        either in the copy or not, never half. ``dest`` is replaced only once the copy is complete; it must not be
        this database, a folder, or a database some process still has open (its WAL or journal beside it)."""
        dest = Path(dest).expanduser()
        if dest.is_dir():
            raise LeaderboardError(f"{dest} is a folder; --copy-to names the file to write")
        if dest.exists() and dest.resolve() == self.path.resolve():
            raise LeaderboardError(f"cannot copy {self.path} onto itself; name another file")
        for suffix in ("-wal", "-shm", "-journal"):
            if Path(f"{dest}{suffix}").exists():
                raise LeaderboardError(f"{dest} is a database in use ({dest.name}{suffix} lies beside it); close it "
                                       "or name another file")  # fmt: skip
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.parent / f".{dest.name}.{os.getpid()}.{random.getrandbits(32):08x}"
        os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))  # an ordinary file: the umask applies
        try:
            target = sqlite3.connect(tmp)
            try:
                self._retry(lambda: self._conn.backup(target))
                target.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file, fit to share or commit
                rows = int(target.execute("SELECT COUNT(*) FROM results").fetchone()[0])
            finally:
                target.close()
            os.replace(tmp, dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return dest, rows

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> LeaderboardStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


__all__ = [
    "CLAIM_LEASE_S",
    "COLUMNS",
    "ENV_VAR",
    "ClaimOwner",
    "LeaderboardError",
    "LeaderboardStore",
    "default_db_path",
    "git_commit",
]
