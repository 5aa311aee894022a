//! The database schema and its migrations, versioned by `PRAGMA user_version`.

use crate::Ctx;
use rusqlite::Connection;
use tessera_backend::{BackendError, Result};

/// Migrations in order; migration `i` takes the schema from version `i` to `i + 1`.
/// Append new ones, never edit old ones: databases in the field have run them.
const MIGRATIONS: &[&str] = &[
    // 1: jobs, tasks, per-(job, worker) failure counts, workers.
    "CREATE TABLE jobs (
        id          TEXT PRIMARY KEY,
        kind        TEXT NOT NULL,
        name        TEXT,
        priority    INTEGER NOT NULL,
        status      TEXT NOT NULL,
        error       TEXT,
        created_ms  INTEGER NOT NULL,
        updated_ms  INTEGER NOT NULL,
        tasks_total INTEGER NOT NULL,
        tasks_done  INTEGER NOT NULL,
        output      TEXT,
        doc         TEXT NOT NULL
    );
    -- Lease order over the jobs that can still hand out work.
    CREATE INDEX jobs_lease_order ON jobs (priority DESC, created_ms, id)
        WHERE status IN ('queued', 'running');
    CREATE INDEX jobs_created ON jobs (created_ms, id);
    CREATE TABLE tasks (
        job_id           TEXT NOT NULL,
        idx              INTEGER NOT NULL,
        status           TEXT NOT NULL,
        attempt          INTEGER NOT NULL,
        failures         INTEGER NOT NULL,
        worker           TEXT,
        lease_expires_ms INTEGER,
        error            TEXT,
        payload          TEXT NOT NULL,
        PRIMARY KEY (job_id, idx)
    ) WITHOUT ROWID;
    -- The first queued task of a job, without touching its done or leased ones.
    CREATE INDEX tasks_queued ON tasks (job_id, idx) WHERE status = 'queued';
    -- Expired leases and a lost worker's leases, for reclaim.
    CREATE INDEX tasks_lease_expiry ON tasks (lease_expires_ms) WHERE status = 'leased';
    CREATE INDEX tasks_lease_worker ON tasks (worker) WHERE status = 'leased';
    CREATE TABLE worker_failures (
        job_id   TEXT NOT NULL,
        worker   TEXT NOT NULL,
        failures INTEGER NOT NULL,
        PRIMARY KEY (job_id, worker)
    ) WITHOUT ROWID;
    CREATE TABLE workers (
        id           TEXT PRIMARY KEY,
        last_seen_ms INTEGER NOT NULL,
        online       INTEGER NOT NULL,
        info         TEXT NOT NULL
    );",
];

/// The schema version this build writes.
pub(crate) const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

/// Brings the database up to [`SCHEMA_VERSION`], one transaction per migration, and refuses
/// a database written by a newer build.
pub(crate) fn migrate(conn: &mut Connection) -> Result<()> {
    let version: u32 =
        conn.query_row("PRAGMA user_version", [], |r| r.get(0)).ctx("reading schema version")?;
    if version > SCHEMA_VERSION {
        return Err(BackendError::Storage(format!(
            "database schema version {version} is newer than this build's {SCHEMA_VERSION}"
        )));
    }
    for (from, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction().ctx("beginning migration")?;
        tx.execute_batch(sql).ctx(&format!("migrating schema to version {}", from + 1))?;
        tx.pragma_update(None, "user_version", from as u32 + 1).ctx("setting schema version")?;
        tx.commit().ctx("committing migration")?;
        tracing::info!(version = from + 1, "database schema migrated");
    }
    Ok(())
}
