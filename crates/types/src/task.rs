//! Tasks: the pieces a job is split into, and the leases workers hold on them.

use crate::{JobId, Millis, TaskKey, WorkerId};
use serde::{Deserialize, Serialize};

/// Life cycle of a task (DESIGN 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    /// Waiting for a worker.
    Queued,
    /// Held by a worker under a lease.
    Leased,
    /// Its result was accepted.
    Done,
    /// Failed on every allowed attempt.
    Failed,
}

impl TaskStatus {
    /// The lowercase name used on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Queued => "queued",
            TaskStatus::Leased => "leased",
            TaskStatus::Done => "done",
            TaskStatus::Failed => "failed",
        }
    }

    /// Inverse of [`TaskStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => TaskStatus::Queued,
            "leased" => TaskStatus::Leased,
            "done" => TaskStatus::Done,
            "failed" => TaskStatus::Failed,
            _ => return None,
        })
    }
}

/// One task of a plan, as the kind's planner makes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// Position in the plan.
    pub index: u32,
    /// Kind-specific description (a tile rectangle, a frame range, ...). Kept small: shared
    /// inputs travel as job input blobs.
    pub payload: serde_json::Value,
}

/// The backend's record of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRecord {
    /// Job and index.
    pub key: TaskKey,
    /// Current state.
    pub status: TaskStatus,
    /// The attempt number of the latest lease; 0 before the first lease.
    pub attempt: u32,
    /// Failed attempts so far.
    pub failures: u32,
    /// Holder of the current lease.
    pub worker: Option<WorkerId>,
    /// When the current lease runs out.
    pub lease_expires_ms: Option<Millis>,
    /// Last failure message.
    pub error: Option<String>,
    /// The planner's payload.
    pub payload: serde_json::Value,
}

/// What a worker holds while it runs a task. `attempt` fences results: only the current
/// attempt's result is accepted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    /// Job and index.
    pub key: TaskKey,
    /// The job's kind, so the worker can pick the runner without another lookup.
    pub kind: String,
    /// Attempt number, from 1.
    pub attempt: u32,
    /// The holder.
    pub worker: WorkerId,
    /// When the lease runs out unless renewed.
    pub expires_ms: Millis,
    /// The planner's payload.
    pub payload: serde_json::Value,
}

impl Lease {
    /// The job this lease belongs to.
    pub fn job_id(&self) -> &JobId {
        &self.key.job_id
    }
}
