"""The SQLite store: where it lives, rows round-trip, many writers lose nothing, foreign files are never touched."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from repgym.benchmark import schema, store
from repgym.benchmark.store import ClaimOwner, LeaderboardError, LeaderboardStore, default_db_path


def _row(key: str, status: str = "ok", **extra) -> dict:
    return {"job_key": key, "status": status, "kind": "agent", "env_id": "repgym/Umbrella-v0", "agent": "random",
            "seed": 0, "train_steps": 0, "eval_episodes": 2, "protocol": "deterministic", "returns": [1.0, 3.0],
            "mean": 2.0, "std": 1.0, **extra}  # fmt: skip


def test_default_path_follows_env_vars(monkeypatch, tmp_path):
    monkeypatch.delenv("REPGYM_DB", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_db_path() == tmp_path / "data" / "repgym" / "leaderboard.sqlite"
    monkeypatch.setenv("REPGYM_DB", str(tmp_path / "mine.sqlite"))
    assert default_db_path() == tmp_path / "mine.sqlite"
    with LeaderboardStore() as db:
        assert db.path == tmp_path / "mine.sqlite"
    assert (tmp_path / "mine.sqlite").is_file()


def test_rows_round_trip_with_provenance(tmp_path):
    with LeaderboardStore(tmp_path / "lb.sqlite") as db:
        row_id = db.add_result(_row("a", env_kwargs={"delay": 3}, hyperparameters={"net": [64, 64]},
                                    learning_curve=[[100, 0.5]]))  # fmt: skip
        assert row_id is not None
        (row,) = db.rows()
        assert db.schema_version() == schema.SCHEMA_VERSION
    assert row["env_kwargs"] == {"delay": 3} and row["hyperparameters"] == {"net": [64, 64]}
    assert row["returns"] == [1.0, 3.0] and row["learning_curve"] == [[100, 0.5]]
    assert row["repgym_version"] and row["created_utc"].endswith("+00:00")
    with LeaderboardStore(tmp_path / "lb.sqlite") as db:  # reopening keeps everything
        assert [r["id"] for r in db.rows()] == [row_id]
        assert sqlite3.connect(db.path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_one_finished_row_per_job_but_failures_are_kept(tmp_path):
    with LeaderboardStore(tmp_path / "lb.sqlite") as db:
        assert db.add_result(_row("a", status="failed", error="boom")) is not None
        assert db.add_result(_row("a", status="failed", error="boom again")) is not None
        assert db.add_result(_row("a")) is not None
        assert db.add_result(_row("a")) is None  # a second finished row for the same job is ignored
        assert len(db.rows()) == 1 and len(db.rows(status=None)) == 3
        assert db.finished_keys() == {"a"}
        with pytest.raises(ValueError, match="unknown result columns"):
            db.add_result(_row("b", colour="red"))


def _writer(path: str, worker: int, rows: int, barrier) -> None:
    barrier.wait()  # every process opens the (new) database at the same moment
    with LeaderboardStore(path, timeout=0.05) as db:  # a tiny busy timeout forces the retry path
        for i in range(rows):
            db.add_result(_row(f"w{worker}-{i}", seed=i))


def test_concurrent_writers_lose_no_row(tmp_path):
    path, processes, rows = tmp_path / "lb.sqlite", 4, 25
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(processes)
    workers = [ctx.Process(target=_writer, args=(str(path), w, rows, barrier)) for w in range(processes)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(timeout=120)
    assert [p.exitcode for p in workers] == [0] * processes
    with LeaderboardStore(path) as db:
        keys = [r["job_key"] for r in db.rows()]
        assert db.schema_version() == schema.SCHEMA_VERSION
    assert len(keys) == processes * rows
    assert set(keys) == {f"w{w}-{i}" for w in range(processes) for i in range(rows)}


@pytest.mark.parametrize(
    "content, message",
    [(b"\x00\x13garbage" * 500, "not an SQLite database"), (b"name,score\nalice,3\n", "not an SQLite database")],
)
def test_a_file_that_is_not_sqlite_is_refused_and_untouched(tmp_path, content, message):
    path = tmp_path / "lb.sqlite"
    path.write_bytes(content)
    with pytest.raises(LeaderboardError, match=message) as err:
        LeaderboardStore(path)
    assert "left untouched" in str(err.value)
    assert path.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lb.sqlite"]


def test_another_programs_database_is_refused_and_untouched(tmp_path):
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE invoices (id INTEGER, total REAL)")
    conn.execute("INSERT INTO invoices VALUES (1, 9.5)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(LeaderboardError, match="another program.*invoices"):
        LeaderboardStore(path)
    assert path.read_bytes() == before


def test_a_corrupt_leaderboard_is_refused_and_untouched(tmp_path):
    path = tmp_path / "lb.sqlite"
    with LeaderboardStore(path) as db:
        for i in range(200):
            db.add_result(_row(f"k{i}", returns=[float(i)] * 20))
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    data[page + 8 : 3 * page] = b"\xff" * (2 * page - 8)  # smash pages 2-3 (schema + data), keep the header
    path.write_bytes(bytes(data))
    with pytest.raises(LeaderboardError, match="corrupt|cannot be read"):
        LeaderboardStore(path)
    assert path.read_bytes() == bytes(data)


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "lb.sqlite"
    LeaderboardStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_version VALUES (?, 'future')", (schema.SCHEMA_VERSION + 1,))
    conn.commit()
    conn.close()
    with pytest.raises(LeaderboardError, match="newer than this repgym reads"):
        LeaderboardStore(path)


def test_migrations_apply_once_in_order(tmp_path, monkeypatch):
    path = tmp_path / "lb.sqlite"
    with LeaderboardStore(path) as db:
        db.add_result(_row("old"))
    future = schema.SCHEMA_VERSION + 1
    upgraded = [*schema.MIGRATIONS, (future, "ALTER TABLE results ADD COLUMN note TEXT")]
    monkeypatch.setattr(store, "MIGRATIONS", upgraded)
    monkeypatch.setattr(store, "SCHEMA_VERSION", future)
    for _ in range(2):  # the second open finds nothing left to apply
        with LeaderboardStore(path) as db:
            assert db.schema_version() == future
            assert db.rows()[0]["job_key"] == "old" and "note" in db.rows()[0]
    versions = sqlite3.connect(path).execute("SELECT version FROM schema_version").fetchall()
    assert versions == [(v,) for v in range(1, future + 1)]


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(LeaderboardError, match="folder"):
        LeaderboardStore(Path(tmp_path))


def _exited_pid() -> int:
    """The pid of a process that has already exited (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(done.stdout)


def test_a_claimed_job_is_left_to_its_owner_until_released(tmp_path):
    first, second = ClaimOwner(), ClaimOwner()
    with LeaderboardStore(tmp_path / "lb.sqlite") as db:
        assert db.claim("k", first) and db.claim("k", first)  # taking one's own claim again is fine
        assert not db.claim("k", second)
        assert [(c["job_key"], c["run_id"], c["pid"]) for c in db.claims()] == [("k", first.run_id, os.getpid())]
        db.release(first, "k")
        assert db.claim("k", second)
        db.add_result(_row("done"))
        assert not db.claim("done", first)  # a finished job is never claimed
        db.release(second)
        assert db.claims() == []


def test_claims_of_dead_or_silent_owners_are_taken_over(tmp_path):
    me = ClaimOwner()
    path = tmp_path / "lb.sqlite"
    with LeaderboardStore(path) as db:
        assert db.claim("dead", ClaimOwner(pid=_exited_pid()))  # its process on this host is gone
        assert db.claim("dead", me)
        elsewhere = ClaimOwner(host="another-host", pid=os.getpid())
        assert db.claim("silent", elsewhere) and not db.claim("silent", me)
        db.renew_claims(elsewhere)
        assert not db.claim("silent", me)
    with sqlite3.connect(path) as conn:  # the other host stopped renewing a lease ago
        conn.execute("UPDATE claims SET renewed = renewed - ? WHERE job_key = 'silent'", (store.CLAIM_LEASE_S + 1,))
    with LeaderboardStore(path) as db:
        assert db.claim("silent", me)


def _version_1_database(path: Path, monkeypatch) -> None:
    with monkeypatch.context() as m:
        m.setattr(store, "MIGRATIONS", schema.MIGRATIONS[:1])
        m.setattr(store, "SCHEMA_VERSION", 1)
        with LeaderboardStore(path) as db:
            db.add_result(_row("old"))


def test_an_old_database_is_read_as_it_is_and_upgraded_by_a_writer(tmp_path, monkeypatch):
    path = tmp_path / "lb.sqlite"
    _version_1_database(path, monkeypatch)
    before = path.read_bytes()
    with LeaderboardStore(path, read_only=True) as db:
        assert db.schema_version() == 1 and [r["job_key"] for r in db.rows()] == ["old"]
    assert path.read_bytes() == before
    with LeaderboardStore(path) as db:
        assert db.schema_version() == schema.SCHEMA_VERSION and [r["job_key"] for r in db.rows()] == ["old"]
        assert db.claim("new", ClaimOwner()) and not db.claim("old", ClaimOwner())


def test_reading_never_creates_or_converts_a_file(tmp_path):
    missing, empty = tmp_path / "missing.sqlite", tmp_path / "empty.sqlite"
    with pytest.raises(LeaderboardError, match="no leaderboard at"):
        LeaderboardStore(missing, read_only=True)
    empty.touch()
    with pytest.raises(LeaderboardError, match=r"not a repgym leaderboard \(empty file\)"):
        LeaderboardStore(empty, read_only=True)
    sqlite3.connect(tmp_path / "blank.sqlite").execute("CREATE TABLE t (x)").connection.close()
    sqlite3.connect(tmp_path / "bare.sqlite").execute("VACUUM").connection.close()  # SQLite header, no tables
    for name in ("blank.sqlite", "bare.sqlite"):
        before = (tmp_path / name).read_bytes()
        with pytest.raises(LeaderboardError, match="not a repgym leaderboard|another program"):
            LeaderboardStore(tmp_path / name, read_only=True)
        assert (tmp_path / name).read_bytes() == before
    assert empty.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bare.sqlite", "blank.sqlite", "empty.sqlite"]


def test_a_copy_holds_every_row_of_a_live_database_in_one_file(tmp_path):
    with LeaderboardStore(tmp_path / "lb.sqlite") as db:
        db.add_result(_row("a"))
        db.add_result(_row("b", status="failed", error="boom"))
        assert (tmp_path / "lb.sqlite-wal").exists()  # the rows may sit in the WAL, not yet in the main file
        dest, rows = db.copy_to(tmp_path / "shared" / "copy.sqlite")
        with pytest.raises(LeaderboardError, match="onto itself"):
            db.copy_to(tmp_path / "lb.sqlite")
        with pytest.raises(LeaderboardError, match="is a folder"):
            db.copy_to(tmp_path / "shared")
        with LeaderboardStore(tmp_path / "other.sqlite") as other:  # another database, open and written to
            other.add_result(_row("c"))
            with pytest.raises(LeaderboardError, match=r"in use \(other.sqlite-wal lies beside it\)"):
                db.copy_to(tmp_path / "other.sqlite")
    assert dest == tmp_path / "shared" / "copy.sqlite" and rows == 2
    old_umask = os.umask(0o027)
    try:
        with LeaderboardStore(dest, read_only=True) as copy:
            private, _ = copy.copy_to(tmp_path / "private.sqlite")
    finally:
        os.umask(old_umask)
    assert private.stat().st_mode & 0o777 == 0o640  # the umask decides, as for any new file
    assert not Path(f"{dest}-wal").exists() and sorted(p.name for p in dest.parent.iterdir()) == ["copy.sqlite"]
    with LeaderboardStore(dest, read_only=True) as copy:
        assert [(r["job_key"], r["status"]) for r in copy.rows(status=None)] == [("a", "ok"), ("b", "failed")]
        assert copy.schema_version() == schema.MIGRATIONS[-1][0]
