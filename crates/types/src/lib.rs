//! Tessera's shared vocabulary. Every other crate speaks in these types; nothing here does IO.

pub mod event;
pub mod ids;
pub mod job;
pub mod limits;
pub mod scene;
pub mod task;
pub mod worker;
pub mod ws;

pub use event::Event;
pub use ids::{JobId, TaskKey, WorkerId};
pub use job::{JobDoc, JobRecord, JobStatus, OutputMeta};
pub use limits::Limits;
pub use task::{Lease, TaskRecord, TaskSpec, TaskStatus};
pub use worker::WorkerInfo;

/// Milliseconds since the Unix epoch; every timestamp in Tessera's records uses it.
pub type Millis = u64;

/// A validation failure that names the offending field and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    /// Dotted path of the field, e.g. `scene.shapes[2].radius`.
    pub field: String,
    /// What was wrong and what was expected.
    pub message: String,
}

impl FieldError {
    /// Builds an error for `field` with a human-readable `message`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }

    /// Prefixes the field path, used when a nested validator reports up.
    pub fn within(mut self, parent: &str) -> Self {
        self.field = if self.field.is_empty() {
            parent.to_string()
        } else if self.field.starts_with('[') {
            format!("{parent}{}", self.field)
        } else {
            format!("{parent}.{}", self.field)
        };
        self
    }
}
