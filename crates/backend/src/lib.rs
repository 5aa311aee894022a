//! The backend contract (DESIGN 1, 3): queue, job and task state, worker liveness, blobs and
//! events. The embedded SQLite backend and the Redis backend implement it with the same
//! semantics, which [`conformance`] checks with one test body for both.

pub mod conformance;

use async_trait::async_trait;
use bytes::Bytes;
use tessera_types::{
    Event, JobId, JobRecord, JobStatus, Lease, Millis, OutputMeta, TaskKey, TaskRecord, TaskSpec, WorkerId,
    WorkerInfo,
};

/// Errors a backend can return. Callers treat every one as "try again later" except
/// [`BackendError::NotFound`] and [`BackendError::Conflict`].
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The job, task or blob does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// The operation does not fit the current state (e.g. creating a job id twice).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The store failed (disk, connection, corrupt row).
    #[error("storage error: {0}")]
    Storage(String),
}

/// Shorthand for backend results.
pub type Result<T> = std::result::Result<T, BackendError>;

/// A job to create: its record (status `queued`, counts set) and its planned tasks.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// The record as it should be stored.
    pub record: JobRecord,
    /// The plan; indices run 0..len.
    pub tasks: Vec<TaskSpec>,
    /// Input blobs shared by the tasks, stored under `blob_key::job_input(id, name)`.
    pub inputs: Vec<(String, Bytes)>,
}

/// Outcome of handing in a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// The result was stored; `done` of `total` tasks are now done.
    Accepted {
        /// Tasks done, this one included.
        done: u32,
        /// Tasks in the job.
        total: u32,
    },
    /// The lease was not the current one (expired and reclaimed, job cancelled, or a
    /// duplicate): the result was dropped.
    Stale,
}

/// Outcome of reporting a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The task went back to the queue for another attempt.
    Requeued,
    /// The task used its last attempt; the task is `failed` and the job `error`.
    JobFailed,
    /// The lease was not current; nothing changed.
    Stale,
}

/// Final outcome of a job, set by the coordinator once it has assembled (or failed to).
#[derive(Debug, Clone, PartialEq)]
pub enum JobOutcome {
    /// Output assembled and stored under `blob_key::job_output`.
    Done(OutputMeta),
    /// Assembly failed.
    Error(String),
}

/// How long things live, in milliseconds. Shared by both backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// A lease runs out this long after it was granted or renewed.
    pub lease_ms: Millis,
    /// A heartbeat older than this marks its worker offline.
    pub heartbeat_ttl_ms: Millis,
}

impl Default for Timing {
    fn default() -> Self {
        Timing { lease_ms: 30_000, heartbeat_ttl_ms: 6_000 }
    }
}

/// Attempts a task gets before it is `failed` (DESIGN 3).
pub const MAX_ATTEMPTS: u32 = 3;
/// Failures of one job's tasks after which a worker gets no more of that job's tasks.
pub const MAX_WORKER_FAILURES_PER_JOB: u32 = 3;

/// The store behind a farm. Every method is atomic on its own; `now` is passed in so tests
/// can drive time.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Stores a new job, its tasks (all `queued`, attempt 0) and its input blobs, atomically,
    /// and publishes a `Job` event with status `queued`. An id that exists already, or a plan
    /// whose indices do not run `0..tasks_total`, is a [`BackendError::Conflict`].
    async fn create_job(&self, job: NewJob) -> Result<()>;

    /// A job by id.
    async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>>;

    /// Jobs, newest first, at most `limit`.
    async fn list_jobs(&self, limit: usize) -> Result<Vec<JobRecord>>;

    /// Jobs not in a final state (queued or running), oldest first: what a restarting
    /// coordinator must finish.
    async fn active_jobs(&self) -> Result<Vec<JobRecord>>;

    /// A job's tasks by index (empty for an unknown job).
    async fn list_tasks(&self, id: &JobId) -> Result<Vec<TaskRecord>>;

    /// One task, or None when the job or index does not exist.
    async fn get_task(&self, key: &TaskKey) -> Result<Option<TaskRecord>>;

    /// Cancels a queued or running job: queued tasks will never be leased, live leases stop
    /// renewing and their results are dropped. Returns false if the job was already final.
    /// Publishes a `Job` event. An unknown job is [`BackendError::NotFound`].
    async fn cancel_job(&self, id: &JobId, now: Millis) -> Result<bool>;

    /// Sets a running job's final outcome. A job already final is left as it is (returns
    /// false), so two coordinators finishing the same job is harmless. Publishes a `Job` event.
    /// `Done` while some task is not done is a [`BackendError::Conflict`]; an unknown job is
    /// [`BackendError::NotFound`].
    async fn finish_job(&self, id: &JobId, outcome: JobOutcome, now: Millis) -> Result<bool>;

    /// Leases the next queued task to `worker`: highest job priority first, then oldest job,
    /// then lowest index; skipping jobs that are final, whose kind is not in `kinds`, or for
    /// which this worker already failed [`MAX_WORKER_FAILURES_PER_JOB`] tasks (an empty `kinds`
    /// leases nothing). Increments the attempt, moves a queued job to running (publishing a
    /// `Job` event first) and publishes `TaskLeased`. Concurrent calls never lease one task
    /// twice.
    async fn lease_task(&self, worker: &WorkerId, kinds: &[String], now: Millis) -> Result<Option<Lease>>;

    /// Extends a lease. Returns false if the lease is no longer current (expired and
    /// reclaimed, job cancelled): the worker should stop the task.
    async fn renew_lease(&self, lease: &Lease, now: Millis) -> Result<bool>;

    /// Hands in a result. Accepted only from the current attempt of a leased task of a
    /// non-final job; stored under `blob_key::task_result`, task `done`, `TaskDone` published.
    async fn complete_task(&self, lease: &Lease, result: Bytes, now: Millis) -> Result<Completion>;

    /// Reports a failed attempt. With attempts left the task is requeued (`TaskRequeued`);
    /// after [`MAX_ATTEMPTS`] failures it is failed (`TaskFailed`, then `Job` error with the
    /// task's message). Each accepted failure also counts against the (job, worker) pair.
    async fn fail_task(&self, lease: &Lease, error: &str, now: Millis) -> Result<Failure>;

    /// Gives a task back without counting a failure (graceful shutdown at a deadline).
    async fn release_task(&self, lease: &Lease, now: Millis) -> Result<()>;

    /// Requeues every leased task whose lease has expired or whose worker's heartbeat is
    /// older than the TTL, publishing `TaskRequeued` for each and `Worker` `left` (reason
    /// `lost`) for workers that went silent. Returns the requeued tasks, sorted. Reclaiming
    /// counts no failure and leaves the attempt as it is (the next lease raises it). A worker
    /// that never sent a heartbeat is judged by its lease expiry alone.
    async fn reclaim(&self, now: Millis) -> Result<Vec<TaskKey>>;

    /// Writes a worker's heartbeat (its `last_seen_ms` becomes `now`). The first one, and the
    /// first after the worker was declared lost, publishes `Worker` `joined`.
    async fn heartbeat(&self, info: &WorkerInfo, now: Millis) -> Result<()>;

    /// Workers whose heartbeat is younger than the TTL.
    async fn workers(&self, now: Millis) -> Result<Vec<WorkerInfo>>;

    /// A worker leaves on purpose: its leases are released and `Worker` `left` is published
    /// with the reason.
    async fn remove_worker(&self, id: &WorkerId, reason: &str, now: Millis) -> Result<()>;

    /// Number of tasks waiting to be leased, over all non-final jobs.
    async fn queue_depth(&self) -> Result<u64>;

    /// Number of jobs in each state; states without jobs may be left out.
    async fn job_counts(&self) -> Result<Vec<(JobStatus, u64)>>;

    /// Stores a blob, replacing any with the same key.
    async fn put_blob(&self, key: &str, data: Bytes) -> Result<()>;

    /// A blob by key.
    async fn get_blob(&self, key: &str) -> Result<Option<Bytes>>;

    /// Publishes an event to every subscriber (of every coordinator sharing the backend).
    async fn publish(&self, event: Event) -> Result<()>;

    /// A stream of every event published from now on. Slow subscribers may miss events
    /// (`Lagged`) and must then re-read state from the backend.
    fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event>;

    /// Timings in force.
    fn timing(&self) -> Timing;
}
