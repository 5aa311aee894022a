//! The embedded backend (DESIGN 1): job and task state in SQLite (WAL) under a data
//! directory, blobs as files beside it, events on an in-process broadcast channel.
//!
//! Every call runs on tokio's blocking pool and holds one connection behind a mutex, so calls
//! are serialised and the async runtime never waits on disk. A call loads the rows it
//! touches, applies the transition rules of `tessera-core`, writes the rows back in one
//! transaction and publishes the resulting events before releasing the mutex, so events
//! come out in commit order.

mod blobs;
mod schema;

use async_trait::async_trait;
use blobs::BlobStore;
use bytes::Bytes;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tessera_backend::{
    Backend, BackendError, Completion, Failure, JobOutcome, NewJob, Result, Timing,
    MAX_WORKER_FAILURES_PER_JOB,
};
use tessera_core as rules;
use tessera_types::job::blob_key;
use tessera_types::{
    Event, JobId, JobRecord, JobStatus, Lease, Millis, TaskKey, TaskRecord, TaskStatus, WorkerId, WorkerInfo,
};
use tokio::sync::broadcast;

/// Name of the database file inside the data directory.
pub const DB_FILE: &str = "tessera.db";
/// Events buffered per subscriber before a slow one sees `Lagged`.
const EVENT_CAPACITY: usize = 4096;
/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Maps a rusqlite error to [`BackendError::Storage`] with what was being done.
trait Ctx<T> {
    /// Adds `context` to the error.
    fn ctx(self, context: &str) -> Result<T>;
}

impl<T> Ctx<T> for rusqlite::Result<T> {
    fn ctx(self, context: &str) -> Result<T> {
        self.map_err(|e| BackendError::Storage(format!("{context}: {e}")))
    }
}

/// The embedded SQLite backend.
#[derive(Clone)]
pub struct SqliteBackend {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Mutex<Connection>,
    blobs: BlobStore,
    timing: Timing,
    events: broadcast::Sender<Event>,
    dir: PathBuf,
}

impl std::fmt::Debug for SqliteBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteBackend").field("dir", &self.inner.dir).finish_non_exhaustive()
    }
}

impl SqliteBackend {
    /// Opens (creating if needed) the backend in `data_dir`: database `tessera.db` in WAL
    /// mode and blobs under `blobs/`, migrating the schema to the current version.
    pub fn open(data_dir: &Path, timing: Timing) -> Result<Self> {
        std::fs::create_dir_all(data_dir)
            .map_err(|e| BackendError::Storage(format!("creating data dir {}: {e}", data_dir.display())))?;
        let blobs = BlobStore::open(data_dir.join("blobs"))?;
        let db = data_dir.join(DB_FILE);
        let mut conn = Connection::open(&db).ctx(&format!("opening {}", db.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT).ctx("setting busy timeout")?;
        let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0)).ctx("enabling wal")?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(BackendError::Storage(format!("journal mode is {mode}, not wal")));
        }
        // WAL + NORMAL loses at most the last commits on power loss, never on a process
        // crash, and never corrupts the database.
        conn.pragma_update(None, "synchronous", "NORMAL").ctx("setting synchronous")?;
        schema::migrate(&mut conn)?;
        tracing::info!(dir = %data_dir.display(), "sqlite backend opened");
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        Ok(SqliteBackend {
            inner: Arc::new(Inner {
                conn: Mutex::new(conn),
                blobs,
                timing,
                events,
                dir: data_dir.to_path_buf(),
            }),
        })
    }

    /// The data directory this backend lives in.
    pub fn data_dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Runs `f` on the blocking pool with the connection locked; on success publishes the
    /// events `f` collected, still under the lock, so subscribers see commit order.
    async fn with_conn<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner, &mut Connection, &mut Vec<Event>) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            // A panic inside a transaction rolled it back when the transaction dropped, so
            // a poisoned lock still guards a consistent connection.
            let mut conn = inner.conn.lock().unwrap_or_else(|p| p.into_inner());
            let mut events = Vec::new();
            let out = f(&inner, &mut conn, &mut events)?;
            for ev in events {
                let _ = inner.events.send(ev);
            }
            Ok(out)
        })
        .await
        .map_err(|e| BackendError::Storage(format!("backend task failed: {e}")))?
    }

    /// Runs `f` on the blocking pool without the connection (blob IO).
    async fn blocking<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> Result<T> + Send + 'static,
    {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || f(&inner))
            .await
            .map_err(|e| BackendError::Storage(format!("backend task failed: {e}")))?
    }
}

/// Job columns in the order [`job_from_row`] reads them.
const JOB_COLS: &str = "id, kind, name, priority, status, error, created_ms, updated_ms, \
                        tasks_total, tasks_done, output, doc";
/// The same without the document, for transitions that never touch it (it can be large).
const JOB_COLS_LIGHT: &str = "id, kind, name, priority, status, error, created_ms, updated_ms, \
                              tasks_total, tasks_done, output, NULL";
/// Task columns in the order [`task_from_row`] reads them.
const TASK_COLS: &str = "job_id, idx, status, attempt, failures, worker, lease_expires_ms, error, payload";

fn corrupt(what: &str, value: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("invalid {what} {value:?}").into(),
    )
}

fn json_col<T: serde::de::DeserializeOwned>(text: &str) -> rusqlite::Result<T> {
    serde_json::from_str(text)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e)))
}

fn job_from_row(r: &Row<'_>) -> rusqlite::Result<JobRecord> {
    let status: String = r.get(4)?;
    let output: Option<String> = r.get(10)?;
    let doc: Option<String> = r.get(11)?;
    Ok(JobRecord {
        id: JobId(r.get(0)?),
        kind: r.get(1)?,
        name: r.get(2)?,
        priority: r.get(3)?,
        status: JobStatus::parse(&status).ok_or_else(|| corrupt("job status", &status))?,
        error: r.get(5)?,
        created_ms: r.get::<_, i64>(6)? as Millis,
        updated_ms: r.get::<_, i64>(7)? as Millis,
        tasks_total: r.get(8)?,
        tasks_done: r.get(9)?,
        output: output.as_deref().map(json_col).transpose()?,
        doc: doc.as_deref().map(json_col).transpose()?.unwrap_or(serde_json::Value::Null),
    })
}

fn task_from_row(r: &Row<'_>) -> rusqlite::Result<TaskRecord> {
    let status: String = r.get(2)?;
    let payload: String = r.get(8)?;
    Ok(TaskRecord {
        key: TaskKey { job_id: JobId(r.get(0)?), index: r.get(1)? },
        status: TaskStatus::parse(&status).ok_or_else(|| corrupt("task status", &status))?,
        attempt: r.get(3)?,
        failures: r.get(4)?,
        worker: r.get::<_, Option<String>>(5)?.map(WorkerId),
        lease_expires_ms: r.get::<_, Option<i64>>(6)?.map(|v| v as Millis),
        error: r.get(7)?,
        payload: json_col(&payload)?,
    })
}

/// A job without its document, or `None`.
fn load_job_light(conn: &Connection, id: &JobId) -> Result<Option<JobRecord>> {
    conn.prepare_cached(&format!("SELECT {JOB_COLS_LIGHT} FROM jobs WHERE id = ?1"))
        .and_then(|mut s| s.query_row([id.as_str()], job_from_row).optional())
        .ctx("loading job")
}

fn load_task(conn: &Connection, key: &TaskKey) -> Result<Option<TaskRecord>> {
    conn.prepare_cached(&format!("SELECT {TASK_COLS} FROM tasks WHERE job_id = ?1 AND idx = ?2"))
        .and_then(|mut s| s.query_row(params![key.job_id.as_str(), key.index], task_from_row).optional())
        .ctx("loading task")
}

/// Loads the job and task a lease names; `None` if either is gone.
fn load_pair(conn: &Connection, key: &TaskKey) -> Result<Option<(JobRecord, TaskRecord)>> {
    let Some(job) = load_job_light(conn, &key.job_id)? else {
        return Ok(None);
    };
    Ok(load_task(conn, key)?.map(|t| (job, t)))
}

/// Writes the fields of a job that transitions change (never the document).
fn save_job(conn: &Connection, job: &JobRecord) -> Result<()> {
    let output = job.output.as_ref().map(|o| serde_json::to_string(o).expect("output serialises"));
    conn.prepare_cached(
        "UPDATE jobs SET status = ?2, error = ?3, updated_ms = ?4, tasks_done = ?5, output = ?6 \
         WHERE id = ?1",
    )
    .and_then(|mut s| {
        s.execute(params![
            job.id.as_str(),
            job.status.as_str(),
            job.error,
            job.updated_ms as i64,
            job.tasks_done,
            output
        ])
    })
    .ctx("saving job")?;
    Ok(())
}

/// Writes the fields of a task that transitions change (never the payload).
fn save_task(conn: &Connection, task: &TaskRecord) -> Result<()> {
    conn.prepare_cached(
        "UPDATE tasks SET status = ?3, attempt = ?4, failures = ?5, worker = ?6, \
         lease_expires_ms = ?7, error = ?8 WHERE job_id = ?1 AND idx = ?2",
    )
    .and_then(|mut s| {
        s.execute(params![
            task.key.job_id.as_str(),
            task.key.index,
            task.status.as_str(),
            task.attempt,
            task.failures,
            task.worker.as_ref().map(|w| w.as_str()),
            task.lease_expires_ms.map(|v| v as i64),
            task.error,
        ])
    })
    .ctx("saving task")?;
    Ok(())
}

fn begin(conn: &mut Connection) -> Result<rusqlite::Transaction<'_>> {
    // IMMEDIATE takes the write lock up front, so a read-then-write never has to upgrade.
    conn.transaction_with_behavior(TransactionBehavior::Immediate).ctx("beginning transaction")
}

/// Keys of leased tasks held by `worker`.
fn leased_by(conn: &Connection, worker: &str) -> Result<Vec<TaskKey>> {
    let mut s = conn
        .prepare_cached("SELECT job_id, idx FROM tasks WHERE status = 'leased' AND worker = ?1")
        .ctx("listing leases")?;
    let rows = s
        .query_map([worker], |r| Ok(TaskKey { job_id: JobId(r.get(0)?), index: r.get(1)? }))
        .ctx("listing leases")?;
    rows.collect::<rusqlite::Result<Vec<_>>>().ctx("listing leases")
}

fn transition_conflict(e: rules::TransitionError) -> BackendError {
    BackendError::Conflict(e.to_string())
}

#[async_trait]
impl Backend for SqliteBackend {
    async fn create_job(&self, job: NewJob) -> Result<()> {
        let NewJob { record, tasks, inputs } = job;
        if tasks.len() != record.tasks_total as usize
            || tasks.iter().enumerate().any(|(i, t)| t.index as usize != i)
        {
            return Err(BackendError::Conflict(format!(
                "job {} plans {} tasks but its indices do not run 0..{}",
                record.id, record.tasks_total, record.tasks_total
            )));
        }
        // Input bytes hit the disk before the lock is taken; they become visible under their
        // keys only after the duplicate check, just before the job row commits.
        let staged = self
            .blocking(move |inner| {
                inputs
                    .into_iter()
                    .map(|(name, data)| {
                        let key = blob_key::job_input(&record.id, &name);
                        inner.blobs.path_of(&key)?;
                        Ok((key, inner.blobs.stage(&data)?))
                    })
                    .collect::<Result<Vec<_>>>()
                    .map(|staged| (record, tasks, staged))
            })
            .await?;
        let (record, tasks, staged) = staged;
        self.with_conn(move |inner, conn, events| {
            let tx = begin(conn)?;
            let exists = tx
                .query_row("SELECT 1 FROM jobs WHERE id = ?1", [record.id.as_str()], |_| Ok(()))
                .optional()
                .ctx("checking job id")?;
            if exists.is_some() {
                return Err(BackendError::Conflict(format!("job {} already exists", record.id)));
            }
            let doc = serde_json::to_string(&record.doc).expect("json value serialises");
            let output = record.output.as_ref().map(|o| serde_json::to_string(o).expect("output serialises"));
            tx.execute(
                &format!(
                    "INSERT INTO jobs ({JOB_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
                ),
                params![
                    record.id.as_str(),
                    record.kind,
                    record.name,
                    record.priority,
                    record.status.as_str(),
                    record.error,
                    record.created_ms as i64,
                    record.updated_ms as i64,
                    record.tasks_total,
                    record.tasks_done,
                    output,
                    doc
                ],
            )
            .ctx("inserting job")?;
            {
                let mut insert = tx
                    .prepare_cached(
                        "INSERT INTO tasks (job_id, idx, status, attempt, failures, payload) \
                         VALUES (?1, ?2, 'queued', 0, 0, ?3)",
                    )
                    .ctx("preparing task insert")?;
                for t in &tasks {
                    let payload = serde_json::to_string(&t.payload).expect("json value serialises");
                    insert.execute(params![record.id.as_str(), t.index, payload]).ctx("inserting task")?;
                }
            }
            for (key, blob) in staged {
                inner.blobs.commit(blob, &key)?;
            }
            tx.commit().ctx("committing job")?;
            tracing::info!(job_id = %record.id, kind = %record.kind, tasks = tasks.len(), "job created");
            events.push(rules::job_event(&record));
            Ok(())
        })
        .await
    }

    async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>> {
        let id = id.clone();
        self.with_conn(move |_, conn, _| {
            conn.prepare_cached(&format!("SELECT {JOB_COLS} FROM jobs WHERE id = ?1"))
                .and_then(|mut s| s.query_row([id.as_str()], job_from_row).optional())
                .ctx("loading job")
        })
        .await
    }

    async fn list_jobs(&self, limit: usize) -> Result<Vec<JobRecord>> {
        self.with_conn(move |_, conn, _| {
            let mut s = conn
                .prepare_cached(&format!(
                    "SELECT {JOB_COLS} FROM jobs ORDER BY created_ms DESC, id DESC LIMIT ?1"
                ))
                .ctx("listing jobs")?;
            let rows =
                s.query_map([limit.min(i64::MAX as usize) as i64], job_from_row).ctx("listing jobs")?;
            rows.collect::<rusqlite::Result<Vec<_>>>().ctx("listing jobs")
        })
        .await
    }

    async fn active_jobs(&self) -> Result<Vec<JobRecord>> {
        self.with_conn(move |_, conn, _| {
            let mut s = conn
                .prepare_cached(&format!(
                    "SELECT {JOB_COLS} FROM jobs WHERE status IN ('queued', 'running') \
                     ORDER BY created_ms, id"
                ))
                .ctx("listing active jobs")?;
            let rows = s.query_map([], job_from_row).ctx("listing active jobs")?;
            rows.collect::<rusqlite::Result<Vec<_>>>().ctx("listing active jobs")
        })
        .await
    }

    async fn list_tasks(&self, id: &JobId) -> Result<Vec<TaskRecord>> {
        let id = id.clone();
        self.with_conn(move |_, conn, _| {
            let mut s = conn
                .prepare_cached(&format!("SELECT {TASK_COLS} FROM tasks WHERE job_id = ?1 ORDER BY idx"))
                .ctx("listing tasks")?;
            let rows = s.query_map([id.as_str()], task_from_row).ctx("listing tasks")?;
            rows.collect::<rusqlite::Result<Vec<_>>>().ctx("listing tasks")
        })
        .await
    }

    async fn get_task(&self, key: &TaskKey) -> Result<Option<TaskRecord>> {
        let key = key.clone();
        self.with_conn(move |_, conn, _| load_task(conn, &key)).await
    }

    async fn cancel_job(&self, id: &JobId, now: Millis) -> Result<bool> {
        let id = id.clone();
        self.with_conn(move |_, conn, events| {
            let tx = begin(conn)?;
            let mut job =
                load_job_light(&tx, &id)?.ok_or_else(|| BackendError::NotFound(format!("job {id}")))?;
            if !rules::cancel(&mut job, now, events) {
                return Ok(false);
            }
            save_job(&tx, &job)?;
            tx.commit().ctx("committing cancel")?;
            tracing::info!(job_id = %id, "job cancelled");
            Ok(true)
        })
        .await
    }

    async fn finish_job(&self, id: &JobId, outcome: JobOutcome, now: Millis) -> Result<bool> {
        let id = id.clone();
        self.with_conn(move |_, conn, events| {
            let tx = begin(conn)?;
            let mut job =
                load_job_light(&tx, &id)?.ok_or_else(|| BackendError::NotFound(format!("job {id}")))?;
            if !rules::finish(&mut job, outcome, now, events).map_err(transition_conflict)? {
                return Ok(false);
            }
            save_job(&tx, &job)?;
            tx.commit().ctx("committing finish")?;
            tracing::info!(job_id = %id, status = job.status.as_str(), "job finished");
            Ok(true)
        })
        .await
    }

    async fn lease_task(&self, worker: &WorkerId, kinds: &[String], now: Millis) -> Result<Option<Lease>> {
        let worker = worker.clone();
        let kinds = kinds.to_vec();
        self.with_conn(move |inner, conn, events| {
            if kinds.is_empty() {
                return Ok(None);
            }
            let tx = begin(conn)?;
            let barred: HashSet<String> = {
                let mut s = tx
                    .prepare_cached(
                        "SELECT job_id FROM worker_failures WHERE worker = ?1 AND failures >= ?2",
                    )
                    .ctx("reading worker failures")?;
                let rows = s
                    .query_map(params![worker.as_str(), MAX_WORKER_FAILURES_PER_JOB], |r| r.get(0))
                    .ctx("reading worker failures")?;
                rows.collect::<rusqlite::Result<_>>().ctx("reading worker failures")?
            };
            // Walk active jobs in lease order (a partial index serves it) and take the first
            // queued task of the first eligible one (another partial index): the cost grows
            // with active jobs, never with tasks.
            let candidates: Vec<(String, String)> = {
                let mut s = tx
                    .prepare_cached(
                        "SELECT id, kind FROM jobs WHERE status IN ('queued', 'running') \
                         ORDER BY priority DESC, created_ms, id",
                    )
                    .ctx("listing active jobs")?;
                let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).ctx("listing active jobs")?;
                rows.collect::<rusqlite::Result<_>>().ctx("listing active jobs")?
            };
            let mut first_queued = tx
                .prepare_cached(
                    "SELECT idx FROM tasks WHERE job_id = ?1 AND status = 'queued' ORDER BY idx LIMIT 1",
                )
                .ctx("finding a queued task")?;
            let mut chosen = None;
            for (job_id, kind) in candidates {
                if !kinds.contains(&kind) || barred.contains(&job_id) {
                    continue;
                }
                let idx: Option<u32> =
                    first_queued.query_row([&job_id], |r| r.get(0)).optional().ctx("finding a queued task")?;
                if let Some(index) = idx {
                    chosen = Some(TaskKey { job_id: JobId(job_id), index });
                    break;
                }
            }
            drop(first_queued);
            let Some(key) = chosen else { return Ok(None) };
            let (mut job, mut task) = load_pair(&tx, &key)?
                .ok_or_else(|| BackendError::Storage(format!("task {key} vanished")))?;
            debug_assert!(rules::job_leasable(&job, &kinds));
            let lease = rules::lease(&mut job, &mut task, &worker, now, &inner.timing, events)
                .map_err(transition_conflict)?;
            save_task(&tx, &task)?;
            save_job(&tx, &job)?;
            tx.commit().ctx("committing lease")?;
            tracing::debug!(job_id = %key.job_id, task_id = key.index, worker = %worker, attempt = lease.attempt, "task leased");
            Ok(Some(lease))
        })
        .await
    }

    async fn renew_lease(&self, lease: &Lease, now: Millis) -> Result<bool> {
        let lease = lease.clone();
        self.with_conn(move |inner, conn, _| {
            let tx = begin(conn)?;
            let Some((job, mut task)) = load_pair(&tx, &lease.key)? else {
                return Ok(false);
            };
            if !rules::renew(&job, &mut task, &lease, now, &inner.timing) {
                return Ok(false);
            }
            save_task(&tx, &task)?;
            tx.commit().ctx("committing renew")?;
            Ok(true)
        })
        .await
    }

    async fn complete_task(&self, lease: &Lease, result: Bytes, now: Millis) -> Result<Completion> {
        let lease = lease.clone();
        // Write and fsync the result before taking the lock; only the rename happens under it.
        let staged = self.blocking(move |inner| inner.blobs.stage(&result)).await?;
        self.with_conn(move |inner, conn, events| {
            let tx = begin(conn)?;
            let Some((mut job, mut task)) = load_pair(&tx, &lease.key)? else {
                return Ok(Completion::Stale);
            };
            let outcome = rules::complete(&mut job, &mut task, &lease, now, events);
            if outcome == Completion::Stale {
                tracing::debug!(job_id = %lease.key.job_id, task_id = lease.key.index, worker = %lease.worker, attempt = lease.attempt, "stale result dropped");
                return Ok(outcome);
            }
            // Blob first: a crash before the commit leaves the task leased and the blob
            // rewritten by the retry with the same bytes (DESIGN 4), never a done task
            // without its result.
            inner.blobs.commit(staged, &blob_key::task_result(&lease.key.job_id, lease.key.index))?;
            save_task(&tx, &task)?;
            save_job(&tx, &job)?;
            tx.commit().ctx("committing result")?;
            tracing::debug!(job_id = %lease.key.job_id, task_id = lease.key.index, worker = %lease.worker, "task done");
            Ok(outcome)
        })
        .await
    }

    async fn fail_task(&self, lease: &Lease, error: &str, now: Millis) -> Result<Failure> {
        let lease = lease.clone();
        let error = error.to_string();
        self.with_conn(move |_, conn, events| {
            let tx = begin(conn)?;
            let Some((mut job, mut task)) = load_pair(&tx, &lease.key)? else {
                return Ok(Failure::Stale);
            };
            let outcome = rules::fail(&mut job, &mut task, &lease, &error, now, events);
            if outcome == Failure::Stale {
                return Ok(outcome);
            }
            tx.execute(
                "INSERT INTO worker_failures (job_id, worker, failures) VALUES (?1, ?2, 1) \
                 ON CONFLICT (job_id, worker) DO UPDATE SET failures = failures + 1",
                params![lease.key.job_id.as_str(), lease.worker.as_str()],
            )
            .ctx("counting worker failure")?;
            save_task(&tx, &task)?;
            save_job(&tx, &job)?;
            tx.commit().ctx("committing failure")?;
            tracing::warn!(job_id = %lease.key.job_id, task_id = lease.key.index, worker = %lease.worker, attempt = lease.attempt, error = %error, outcome = ?outcome, "task attempt failed");
            Ok(outcome)
        })
        .await
    }

    async fn release_task(&self, lease: &Lease, _now: Millis) -> Result<()> {
        let lease = lease.clone();
        self.with_conn(move |_, conn, events| {
            let tx = begin(conn)?;
            let Some((job, mut task)) = load_pair(&tx, &lease.key)? else { return Ok(()) };
            if rules::release(&job, &mut task, &lease, events) {
                save_task(&tx, &task)?;
                tx.commit().ctx("committing release")?;
                tracing::debug!(job_id = %lease.key.job_id, task_id = lease.key.index, worker = %lease.worker, "task released");
            }
            Ok(())
        })
        .await
    }

    async fn reclaim(&self, now: Millis) -> Result<Vec<TaskKey>> {
        self.with_conn(move |inner, conn, events| {
            let tx = begin(conn)?;
            let workers: Vec<(String, i64, bool)> = {
                let mut s = tx
                    .prepare_cached("SELECT id, last_seen_ms, online FROM workers")
                    .ctx("listing workers")?;
                let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).ctx("listing workers")?;
                rows.collect::<rusqlite::Result<_>>().ctx("listing workers")?
            };
            let dead: HashSet<String> = workers
                .iter()
                .filter(|(_, seen, _)| !rules::worker_alive(*seen as Millis, now, &inner.timing))
                .map(|(id, _, _)| id.clone())
                .collect();
            let mut keys: Vec<TaskKey> = {
                let mut s = tx
                    .prepare_cached(
                        "SELECT job_id, idx FROM tasks WHERE status = 'leased' AND lease_expires_ms <= ?1",
                    )
                    .ctx("listing expired leases")?;
                let rows = s
                    .query_map([now as i64], |r| Ok(TaskKey { job_id: JobId(r.get(0)?), index: r.get(1)? }))
                    .ctx("listing expired leases")?;
                rows.collect::<rusqlite::Result<_>>().ctx("listing expired leases")?
            };
            for w in &dead {
                keys.extend(leased_by(&tx, w)?);
            }
            keys.sort();
            keys.dedup();
            let mut reclaimed = Vec::new();
            for key in keys {
                let Some(mut task) = load_task(&tx, &key)? else { continue };
                let holder_alive = task.worker.as_ref().is_none_or(|w| !dead.contains(w.as_str()));
                if !rules::should_reclaim(&task, holder_alive, now) {
                    continue;
                }
                let reason = if holder_alive { rules::REASON_EXPIRED } else { rules::REASON_LOST };
                let holder = task.worker.clone();
                rules::requeue(&mut task, reason, events);
                save_task(&tx, &task)?;
                tracing::info!(job_id = %key.job_id, task_id = key.index, worker = ?holder.as_ref().map(|w| w.as_str()), reason, "lease reclaimed");
                reclaimed.push(key);
            }
            for (id, _, online) in &workers {
                if *online && dead.contains(id) {
                    tx.execute("UPDATE workers SET online = 0 WHERE id = ?1", [id]).ctx("marking worker offline")?;
                    tracing::warn!(worker = %id, "worker lost");
                    events.push(Event::Worker {
                        worker: WorkerId(id.clone()),
                        change: "left".into(),
                        reason: Some(rules::REASON_LOST.into()),
                    });
                }
            }
            tx.commit().ctx("committing reclaim")?;
            Ok(reclaimed)
        })
        .await
    }

    async fn heartbeat(&self, info: &WorkerInfo, now: Millis) -> Result<()> {
        let mut info = info.clone();
        info.last_seen_ms = now;
        self.with_conn(move |_, conn, events| {
            let tx = begin(conn)?;
            let online: Option<bool> = tx
                .query_row("SELECT online FROM workers WHERE id = ?1", [info.id.as_str()], |r| r.get(0))
                .optional()
                .ctx("reading worker")?;
            let json = serde_json::to_string(&info).expect("worker info serialises");
            tx.execute(
                "INSERT INTO workers (id, last_seen_ms, online, info) VALUES (?1, ?2, 1, ?3) \
                 ON CONFLICT (id) DO UPDATE SET last_seen_ms = ?2, online = 1, info = ?3",
                params![info.id.as_str(), now as i64, json],
            )
            .ctx("writing heartbeat")?;
            tx.commit().ctx("committing heartbeat")?;
            if online != Some(true) {
                tracing::info!(worker = %info.id, hostname = %info.hostname, "worker joined");
                events.push(Event::Worker { worker: info.id.clone(), change: "joined".into(), reason: None });
            }
            Ok(())
        })
        .await
    }

    async fn workers(&self, now: Millis) -> Result<Vec<WorkerInfo>> {
        self.with_conn(move |inner, conn, _| {
            let mut s = conn
                .prepare_cached("SELECT last_seen_ms, info FROM workers ORDER BY id")
                .ctx("listing workers")?;
            let rows = s
                .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
                .ctx("listing workers")?;
            let mut out = Vec::new();
            for row in rows {
                let (seen, json) = row.ctx("listing workers")?;
                if rules::worker_alive(seen as Millis, now, &inner.timing) {
                    out.push(json_col::<WorkerInfo>(&json).ctx("decoding worker")?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn remove_worker(&self, id: &WorkerId, reason: &str, _now: Millis) -> Result<()> {
        let id = id.clone();
        let reason = reason.to_string();
        self.with_conn(move |_, conn, events| {
            let tx = begin(conn)?;
            for key in leased_by(&tx, id.as_str())? {
                if let Some(mut task) = load_task(&tx, &key)? {
                    if rules::requeue(&mut task, rules::REASON_RELEASED, events) {
                        save_task(&tx, &task)?;
                    }
                }
            }
            let known =
                tx.execute("DELETE FROM workers WHERE id = ?1", [id.as_str()]).ctx("removing worker")?;
            tx.commit().ctx("committing worker removal")?;
            if known > 0 {
                tracing::info!(worker = %id, reason = %reason, "worker left");
                events.push(Event::Worker { worker: id, change: "left".into(), reason: Some(reason) });
            }
            Ok(())
        })
        .await
    }

    async fn queue_depth(&self) -> Result<u64> {
        self.with_conn(move |_, conn, _| {
            conn.prepare_cached(
                "SELECT COUNT(*) FROM tasks t JOIN jobs j ON j.id = t.job_id \
                 WHERE t.status = 'queued' AND j.status IN ('queued', 'running')",
            )
            .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
            .map(|n| n as u64)
            .ctx("counting queued tasks")
        })
        .await
    }

    async fn job_counts(&self) -> Result<Vec<(JobStatus, u64)>> {
        self.with_conn(move |_, conn, _| {
            let mut stmt = conn
                .prepare_cached("SELECT status, COUNT(*) FROM jobs GROUP BY status")
                .ctx("counting jobs")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
                .ctx("counting jobs")?;
            let mut out = Vec::new();
            for row in rows {
                let (status, n) = row.ctx("counting jobs")?;
                let status = JobStatus::parse(&status)
                    .ok_or_else(|| BackendError::Storage(format!("unknown job status {status:?}")))?;
                out.push((status, n as u64));
            }
            Ok(out)
        })
        .await
    }

    async fn put_blob(&self, key: &str, data: Bytes) -> Result<()> {
        let key = key.to_string();
        self.blocking(move |inner| inner.blobs.put(&key, &data)).await
    }

    async fn get_blob(&self, key: &str) -> Result<Option<Bytes>> {
        let key = key.to_string();
        self.blocking(move |inner| Ok(inner.blobs.get(&key)?.map(Bytes::from))).await
    }

    async fn publish(&self, event: Event) -> Result<()> {
        // Through the connection lock, so a published event is ordered with the state events.
        self.with_conn(move |_, _, events| {
            events.push(event);
            Ok(())
        })
        .await
    }

    fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    fn timing(&self) -> Timing {
        self.inner.timing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hot queries must be served by indexes, never by scanning every task.
    #[test]
    fn hot_queries_use_indexes() {
        let dir = std::env::temp_dir().join(format!("tessera-plan-{}", std::process::id()));
        let b = SqliteBackend::open(&dir, Timing::default()).unwrap();
        let conn = b.inner.conn.lock().unwrap();
        let plan = |sql: &str| -> String {
            let mut s = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let rows = s.query_map([], |r| r.get::<_, String>(3)).unwrap();
            rows.map(|r| r.unwrap()).collect::<Vec<_>>().join("; ")
        };
        let queued =
            plan("SELECT idx FROM tasks WHERE job_id = 'x' AND status = 'queued' ORDER BY idx LIMIT 1");
        assert!(queued.contains("tasks_queued"), "{queued}");
        let jobs = plan(
            "SELECT id, kind FROM jobs WHERE status IN ('queued', 'running') \
             ORDER BY priority DESC, created_ms, id",
        );
        assert!(jobs.contains("jobs_lease_order") && !jobs.contains("TEMP B-TREE"), "{jobs}");
        let expired = plan("SELECT job_id, idx FROM tasks WHERE status = 'leased' AND lease_expires_ms <= 5");
        assert!(expired.contains("tasks_lease_expiry"), "{expired}");
        let by_worker = plan("SELECT job_id, idx FROM tasks WHERE status = 'leased' AND worker = 'w'");
        assert!(by_worker.contains("tasks_lease_worker"), "{by_worker}");
        drop(conn);
        drop(b);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
