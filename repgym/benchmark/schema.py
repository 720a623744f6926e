"""The leaderboard database's schema, as an ordered list of migrations.

Version ``n`` of the schema is reached by applying migrations ``1..n`` in order; the table ``schema_version`` holds
one row per applied migration. A new column or index is a new migration appended here (never an edit of an old
one), so every database, however old, upgrades the same way. ``PRAGMA application_id`` marks the file as a repgym
leaderboard, which tells it apart from any other SQLite database.
"""

from __future__ import annotations

APPLICATION_ID = 0x52475942  # "RGYB"

MIGRATIONS: list[tuple[int, str]] = [
    (
        1,
        """
        CREATE TABLE results (
            id              INTEGER PRIMARY KEY,
            job_key         TEXT NOT NULL,          -- hash of env, env config, agent, hp, seed, steps, protocol
            status          TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
            kind            TEXT NOT NULL CHECK (kind IN ('agent', 'human')),
            env_id          TEXT NOT NULL,
            env_kwargs      TEXT NOT NULL,          -- JSON object, constructor arguments
            agent           TEXT NOT NULL,          -- registry / baseline name, or human:<name>
            hyperparameters TEXT NOT NULL,          -- JSON object
            seed            INTEGER,
            train_steps     INTEGER,                -- NULL for people
            eval_episodes   INTEGER,
            protocol        TEXT NOT NULL,          -- deterministic | epsilon=<e> | human
            returns         TEXT,                   -- JSON list, one return per evaluation episode
            mean            REAL,
            std             REAL,
            wall_time_s     REAL,
            repgym_version  TEXT NOT NULL,
            git_commit      TEXT,
            created_utc     TEXT NOT NULL,
            video_path      TEXT,
            checkpoint      TEXT,
            learning_curve  TEXT,                   -- JSON [[env step, mean training episode return], ...]
            worker          TEXT,                   -- JSON: host, pid, Ray node and task ids
            suite           TEXT,
            source          TEXT,                   -- a human row's recording file
            error           TEXT                    -- a failed job's error and traceback tail
        );
        -- One finished result per job: a resumed or concurrent run cannot add a duplicate.
        CREATE UNIQUE INDEX results_one_ok_per_job ON results (job_key) WHERE status = 'ok';
        CREATE INDEX results_by_env ON results (env_id, status);
        """,
    ),
    (
        2,
        """
        -- A job a running `repgym bench` has taken: other runs skip it until its row is written, its owner dies or
        -- the lease lapses (see LeaderboardStore.claim).
        CREATE TABLE claims (
            job_key     TEXT PRIMARY KEY,
            run_id      TEXT NOT NULL,              -- one bench run (a random id)
            host        TEXT NOT NULL,
            pid         INTEGER NOT NULL,           -- the driver process of that run
            claimed_utc TEXT NOT NULL,
            renewed     REAL NOT NULL               -- unix time of the owner's last renewal
        );
        CREATE INDEX claims_by_run ON claims (run_id);
        """,
    ),
    (
        3,
        """
        -- CPU seconds of the job's process and the processes it waited for (training and evaluation together):
        -- what a budget costs, unlike wall time on a shared machine. NULL for rows written before it and for people.
        ALTER TABLE results ADD COLUMN cpu_time_s REAL;
        """,
    ),
    (
        4,
        """
        -- Fraction of the evaluation episodes that ended with the env's info["success"] (or "is_success"), NULL
        -- where the env reports no success, for people, and for rows written before it.
        ALTER TABLE results ADD COLUMN success_rate REAL;
        """,
    ),
]

SCHEMA_VERSION = MIGRATIONS[-1][0]
