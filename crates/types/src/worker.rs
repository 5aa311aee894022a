//! What a worker tells the farm about itself on every heartbeat.

use crate::{Millis, WorkerId};
use serde::{Deserialize, Serialize};

/// A worker's heartbeat record. Metrics grow with the monitoring issue; unknown fields
/// default so old and new nodes can share one backend.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct WorkerInfo {
    /// Its id.
    pub id: WorkerId,
    /// The host it runs on.
    pub hostname: String,
    /// Worker threads it renders with.
    pub threads: u32,
    /// Free-form tags (`blender`, `gpu`, ...).
    pub tags: Vec<String>,
    /// Job kinds it can run.
    pub kinds: Vec<String>,
    /// Tessera version.
    pub version: String,
    /// When the worker started.
    pub started_ms: Millis,
    /// When this heartbeat was written.
    pub last_seen_ms: Millis,
    /// Tasks it finished.
    pub tasks_done: u64,
    /// Tasks that failed on it.
    pub tasks_failed: u64,
    /// The task it is running, as `job/index`.
    pub current_task: Option<String>,
    /// CPU use, 0–100, whole machine.
    pub cpu_percent: f32,
    /// Memory used and total, bytes.
    pub mem_used: u64,
    /// Total memory, bytes.
    pub mem_total: u64,
}
