//! State changes the backend publishes; the coordinator turns them into WebSocket messages.

use crate::{JobId, JobStatus, WorkerId};
use serde::{Deserialize, Serialize};

/// One state change. Every job or task transition produces one (DESIGN 3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A job changed state.
    Job {
        /// Which job.
        job_id: JobId,
        /// Its kind.
        kind: String,
        /// Its new state.
        status: JobStatus,
        /// Why, for `error`.
        error: Option<String>,
    },
    /// A task was leased to a worker.
    TaskLeased {
        /// Which job.
        job_id: JobId,
        /// Which task.
        index: u32,
        /// Attempt number.
        attempt: u32,
        /// Holder.
        worker: WorkerId,
    },
    /// A task's result was accepted.
    TaskDone {
        /// Which job.
        job_id: JobId,
        /// Which task.
        index: u32,
        /// Tasks of the job done so far, this one included.
        done: u32,
        /// Tasks in the job.
        total: u32,
    },
    /// A task went back to the queue (failure with attempts left, expired lease, lost worker).
    TaskRequeued {
        /// Which job.
        job_id: JobId,
        /// Which task.
        index: u32,
        /// Why.
        reason: String,
    },
    /// A task failed for good.
    TaskFailed {
        /// Which job.
        job_id: JobId,
        /// Which task.
        index: u32,
        /// The last error.
        error: String,
    },
    /// A worker joined or left.
    Worker {
        /// Which worker.
        worker: WorkerId,
        /// `joined` or `left`.
        change: String,
        /// Reason given when leaving (`shutdown`, `lost`, ...).
        reason: Option<String>,
    },
}

impl Event {
    /// The job the event concerns, if any.
    pub fn job_id(&self) -> Option<&JobId> {
        match self {
            Event::Job { job_id, .. }
            | Event::TaskLeased { job_id, .. }
            | Event::TaskDone { job_id, .. }
            | Event::TaskRequeued { job_id, .. }
            | Event::TaskFailed { job_id, .. } => Some(job_id),
            Event::Worker { .. } => None,
        }
    }
}
