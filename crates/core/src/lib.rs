//! Tessera's job/task state machine (DESIGN 3) as plain functions over the records in
//! `tessera-types`. No IO and no clock reads: every rule takes `now` explicitly, so both
//! backends apply exactly the same transitions and tests drive time with [`ManualClock`].
//!
//! A backend loads the rows a call touches, applies one of these functions, writes the rows
//! back in one transaction and publishes the events the function pushed.

use std::cmp::Reverse;
use std::sync::atomic::{AtomicU64, Ordering};

pub use tessera_backend::{
    Completion, Failure, JobOutcome, Timing, MAX_ATTEMPTS, MAX_WORKER_FAILURES_PER_JOB,
};
use tessera_types::{Event, JobId, JobRecord, JobStatus, Lease, Millis, TaskRecord, TaskStatus, WorkerId};

/// A source of the current time in milliseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    /// The current time.
    fn now_ms(&self) -> Millis;
}

/// The wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> Millis {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as Millis)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to, for tests.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock reading `start`.
    pub fn new(start: Millis) -> Self {
        ManualClock(AtomicU64::new(start))
    }

    /// Sets the time.
    pub fn set(&self, now: Millis) {
        self.0.store(now, Ordering::SeqCst);
    }

    /// Moves the time forward by `ms` and returns the new time.
    pub fn advance(&self, ms: Millis) -> Millis {
        self.0.fetch_add(ms, Ordering::SeqCst) + ms
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> Millis {
        self.0.load(Ordering::SeqCst)
    }
}

/// A transition that the current state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// Only a queued task can be leased.
    #[error("task {0} is not queued")]
    TaskNotQueued(String),
    /// Tasks of a final job are never leased.
    #[error("job {0} is final")]
    JobFinal(String),
    /// A job is done only once every task is done.
    #[error("job {job} has {done} of {total} tasks done")]
    Incomplete {
        /// The job.
        job: String,
        /// Tasks done.
        done: u32,
        /// Tasks in the job.
        total: u32,
    },
}

/// Reason given in `TaskRequeued` when a failed attempt is retried.
pub const REASON_FAILED: &str = "failed";
/// Reason given in `TaskRequeued` when a lease ran out.
pub const REASON_EXPIRED: &str = "lease expired";
/// Reason given in `TaskRequeued` (and `Worker` `left`) when a worker's heartbeat is gone.
pub const REASON_LOST: &str = "lost";
/// Reason given in `TaskRequeued` when a worker handed its task back.
pub const REASON_RELEASED: &str = "released";

/// True once a lease that runs out at `expires` has run out at `now`.
pub fn lease_expired(expires: Option<Millis>, now: Millis) -> bool {
    expires.is_some_and(|e| e <= now)
}

/// True while a heartbeat written at `last_seen` is younger than the TTL.
pub fn worker_alive(last_seen: Millis, now: Millis, timing: &Timing) -> bool {
    now < last_seen.saturating_add(timing.heartbeat_ttl_ms)
}

/// True while a worker that failed `failures` of a job's tasks may still get that job's tasks.
pub fn worker_may_take(failures: u32) -> bool {
    failures < MAX_WORKER_FAILURES_PER_JOB
}

/// True if `job` may hand out tasks to a worker that runs `kinds`. An empty `kinds` runs
/// nothing: a worker always says what it can do.
pub fn job_leasable(job: &JobRecord, kinds: &[String]) -> bool {
    !job.status.is_final() && kinds.contains(&job.kind)
}

/// Sort key of jobs for leasing: highest priority, then oldest, then id (ids sort by time).
pub fn lease_order_key(job: &JobRecord) -> (Reverse<i32>, Millis, JobId) {
    (Reverse(job.priority), job.created_ms, job.id.clone())
}

/// The `Job` event for `job`'s current state.
pub fn job_event(job: &JobRecord) -> Event {
    Event::Job {
        job_id: job.id.clone(),
        kind: job.kind.clone(),
        status: job.status,
        error: job.error.clone(),
    }
}

/// Leases a queued `task` of `job` to `worker`: the attempt goes up by one, the task is
/// leased until `now + lease_ms`, and a queued job becomes running. The caller has already
/// chosen the task by [`lease_order_key`], [`job_leasable`] and [`worker_may_take`].
pub fn lease(
    job: &mut JobRecord,
    task: &mut TaskRecord,
    worker: &WorkerId,
    now: Millis,
    timing: &Timing,
    events: &mut Vec<Event>,
) -> Result<Lease, TransitionError> {
    if job.status.is_final() {
        return Err(TransitionError::JobFinal(job.id.to_string()));
    }
    if task.status != TaskStatus::Queued {
        return Err(TransitionError::TaskNotQueued(task.key.to_string()));
    }
    let expires = now.saturating_add(timing.lease_ms);
    task.status = TaskStatus::Leased;
    task.attempt += 1;
    task.worker = Some(worker.clone());
    task.lease_expires_ms = Some(expires);
    if job.status == JobStatus::Queued {
        job.status = JobStatus::Running;
        job.updated_ms = now;
        events.push(job_event(job));
    }
    events.push(Event::TaskLeased {
        job_id: job.id.clone(),
        index: task.key.index,
        attempt: task.attempt,
        worker: worker.clone(),
    });
    Ok(Lease {
        key: task.key.clone(),
        kind: job.kind.clone(),
        attempt: task.attempt,
        worker: worker.clone(),
        expires_ms: expires,
        payload: task.payload.clone(),
    })
}

/// True if `lease` is the live lease on `task`: same task, same attempt, same holder, task
/// still leased and job not final. This is the fence every result passes.
pub fn is_current(job: &JobRecord, task: &TaskRecord, lease: &Lease) -> bool {
    !job.status.is_final()
        && task.key == lease.key
        && task.status == TaskStatus::Leased
        && task.attempt == lease.attempt
        && task.worker.as_ref() == Some(&lease.worker)
}

/// Extends a current lease to `now + lease_ms`; false if the lease is no longer current.
pub fn renew(job: &JobRecord, task: &mut TaskRecord, lease: &Lease, now: Millis, timing: &Timing) -> bool {
    if !is_current(job, task, lease) {
        return false;
    }
    task.lease_expires_ms = Some(now.saturating_add(timing.lease_ms));
    true
}

/// Accepts a result if `lease` is current: the task is done and counted. Anything else is
/// [`Completion::Stale`] and changes nothing, so a task's result is accepted at most once.
pub fn complete(
    job: &mut JobRecord,
    task: &mut TaskRecord,
    lease: &Lease,
    now: Millis,
    events: &mut Vec<Event>,
) -> Completion {
    if !is_current(job, task, lease) {
        return Completion::Stale;
    }
    task.status = TaskStatus::Done;
    task.worker = None;
    task.lease_expires_ms = None;
    job.tasks_done += 1;
    job.updated_ms = now;
    events.push(Event::TaskDone {
        job_id: job.id.clone(),
        index: task.key.index,
        done: job.tasks_done,
        total: job.tasks_total,
    });
    Completion::Accepted { done: job.tasks_done, total: job.tasks_total }
}

/// Records a failed attempt if `lease` is current. With attempts left the task is requeued;
/// on the [`MAX_ATTEMPTS`]th failure it is failed and the job goes to error with the task's
/// message. Unless the outcome is [`Failure::Stale`], the caller also adds one to the
/// (job, worker) failure count that [`worker_may_take`] reads.
pub fn fail(
    job: &mut JobRecord,
    task: &mut TaskRecord,
    lease: &Lease,
    error: &str,
    now: Millis,
    events: &mut Vec<Event>,
) -> Failure {
    if !is_current(job, task, lease) {
        return Failure::Stale;
    }
    task.failures += 1;
    task.error = Some(error.to_string());
    task.worker = None;
    task.lease_expires_ms = None;
    if task.failures < MAX_ATTEMPTS {
        task.status = TaskStatus::Queued;
        events.push(Event::TaskRequeued {
            job_id: job.id.clone(),
            index: task.key.index,
            reason: format!("{REASON_FAILED}: {error}"),
        });
        return Failure::Requeued;
    }
    task.status = TaskStatus::Failed;
    events.push(Event::TaskFailed {
        job_id: job.id.clone(),
        index: task.key.index,
        error: error.to_string(),
    });
    job.status = JobStatus::Error;
    job.error = Some(error.to_string());
    job.updated_ms = now;
    events.push(job_event(job));
    Failure::JobFailed
}

/// Puts a leased task back in the queue without counting a failure (expired lease, lost
/// worker, worker leaving). The attempt is left as it is; the next lease raises it, which
/// is what fences the old holder out. Returns false if the task was not leased.
pub fn requeue(task: &mut TaskRecord, reason: &str, events: &mut Vec<Event>) -> bool {
    if task.status != TaskStatus::Leased {
        return false;
    }
    task.status = TaskStatus::Queued;
    task.worker = None;
    task.lease_expires_ms = None;
    events.push(Event::TaskRequeued {
        job_id: task.key.job_id.clone(),
        index: task.key.index,
        reason: reason.to_string(),
    });
    true
}

/// True if a leased task should be reclaimed at `now`: its lease ran out, or its holder's
/// heartbeat is gone (`holder_alive` false).
pub fn should_reclaim(task: &TaskRecord, holder_alive: bool, now: Millis) -> bool {
    task.status == TaskStatus::Leased && (lease_expired(task.lease_expires_ms, now) || !holder_alive)
}

/// A worker hands its current task back (graceful shutdown): requeued, no failure counted.
/// Returns false, changing nothing, if `lease` is not current.
pub fn release(job: &JobRecord, task: &mut TaskRecord, lease: &Lease, events: &mut Vec<Event>) -> bool {
    is_current(job, task, lease) && requeue(task, REASON_RELEASED, events)
}

/// Cancels a job that is not final. Its tasks are left as they are: a final job's tasks are
/// never leased and its leases are no longer current. Returns false if it was already final.
pub fn cancel(job: &mut JobRecord, now: Millis, events: &mut Vec<Event>) -> bool {
    if job.status.is_final() {
        return false;
    }
    job.status = JobStatus::Cancelled;
    job.updated_ms = now;
    events.push(job_event(job));
    true
}

/// Sets a job's final outcome. A final job is left alone (`Ok(false)`); `Done` requires
/// every task done.
pub fn finish(
    job: &mut JobRecord,
    outcome: JobOutcome,
    now: Millis,
    events: &mut Vec<Event>,
) -> Result<bool, TransitionError> {
    if job.status.is_final() {
        return Ok(false);
    }
    match outcome {
        JobOutcome::Done(meta) => {
            if job.tasks_done < job.tasks_total {
                return Err(TransitionError::Incomplete {
                    job: job.id.to_string(),
                    done: job.tasks_done,
                    total: job.tasks_total,
                });
            }
            job.status = JobStatus::Done;
            job.error = None;
            job.output = Some(meta);
        }
        JobOutcome::Error(message) => {
            job.status = JobStatus::Error;
            job.error = Some(message);
        }
    }
    job.updated_ms = now;
    events.push(job_event(job));
    Ok(true)
}

#[cfg(test)]
mod tests;
