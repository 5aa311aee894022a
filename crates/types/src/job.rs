//! Jobs: the document a user submits and the record the backend keeps.

use crate::{JobId, Millis};
use serde::{Deserialize, Serialize};

/// Life cycle of a job (DESIGN 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Accepted, no task leased yet.
    Queued,
    /// At least one task has been leased.
    Running,
    /// Every task done and the output assembled.
    Done,
    /// A task failed for good, or assembly failed; `error` says why.
    Error,
    /// Cancelled by a user.
    Cancelled,
}

impl JobStatus {
    /// Done, error and cancelled are final: nothing moves a job out of them.
    pub fn is_final(self) -> bool {
        matches!(self, JobStatus::Done | JobStatus::Error | JobStatus::Cancelled)
    }

    /// The lowercase name used on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Error => "error",
            JobStatus::Cancelled => "cancelled",
        }
    }

    /// Inverse of [`JobStatus::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "queued" => JobStatus::Queued,
            "running" => JobStatus::Running,
            "done" => JobStatus::Done,
            "error" => JobStatus::Error,
            "cancelled" => JobStatus::Cancelled,
            _ => return None,
        })
    }
}

/// What a user submits (DESIGN 2.5): a `kind`, optional `priority` and `name`, and the
/// kind's own fields, which the kind validates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobDoc {
    /// Which job kind: `render`, `zip`, ...
    pub kind: String,
    /// Higher runs first; default 0.
    #[serde(default)]
    pub priority: i32,
    /// A label for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Every other field, handed to the kind.
    #[serde(flatten)]
    pub body: serde_json::Map<String, serde_json::Value>,
}

/// The finished output of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputMeta {
    /// File name offered on download.
    pub filename: String,
    /// Its MIME type.
    pub mime: String,
    /// Size in bytes.
    pub size: u64,
}

/// The backend's record of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Its id.
    pub id: JobId,
    /// Its kind.
    pub kind: String,
    /// Optional label.
    pub name: Option<String>,
    /// Scheduling priority; higher first.
    pub priority: i32,
    /// Current state.
    pub status: JobStatus,
    /// Why it failed, for `error`.
    pub error: Option<String>,
    /// When it was submitted.
    pub created_ms: Millis,
    /// When its state last changed.
    pub updated_ms: Millis,
    /// Number of tasks in its plan.
    pub tasks_total: u32,
    /// Number of tasks whose result has been accepted.
    pub tasks_done: u32,
    /// The validated job document, as the kind normalised it.
    pub doc: serde_json::Value,
    /// Set once the job is done.
    pub output: Option<OutputMeta>,
}

/// Blob keys, so both backends and every crate name blobs alike.
pub mod blob_key {
    use crate::JobId;

    /// A job's input blob by name (e.g. the scene), shared by all its tasks.
    pub fn job_input(job: &JobId, name: &str) -> String {
        format!("job/{job}/in/{name}")
    }

    /// The accepted result of task `index`.
    pub fn task_result(job: &JobId, index: u32) -> String {
        format!("job/{job}/task/{index}")
    }

    /// The assembled output file.
    pub fn job_output(job: &JobId) -> String {
        format!("job/{job}/out")
    }
}
