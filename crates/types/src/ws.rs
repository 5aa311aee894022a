//! WebSocket messages (DESIGN 2.3): what clients send and what the server pushes.

use crate::{JobId, JobStatus};
use serde::{Deserialize, Serialize};

/// A client's request. Unknown actions are refused with an `error` message.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum ClientMsg {
    /// Seed 000's render request: a scene plus the optional fields of a render job document.
    Render {
        /// The scene, validated by the render kind.
        scene: serde_json::Value,
        /// Optional render-job fields (`tiles`, `tile_size`, `format`, `priority`, `name`).
        #[serde(flatten)]
        rest: serde_json::Map<String, serde_json::Value>,
    },
    /// Seed 000's request for a ZIP of every finished render.
    ZipOutputs {},
    /// Any job document.
    Submit {
        /// The document.
        job: serde_json::Value,
    },
    /// Receive a job's events, or every job's with `"all"`.
    Subscribe {
        /// A job id or `all`.
        job_id: String,
    },
    /// Cancel a job.
    Cancel {
        /// The job.
        job_id: String,
    },
}

/// A tile's pixel rectangle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rect {
    /// Left column.
    pub x: u32,
    /// Top row.
    pub y: u32,
    /// Width in pixels.
    pub w: u32,
    /// Height in pixels.
    pub h: u32,
}

/// A server message; every one carries a `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    /// Sent on connect.
    Hello {
        /// Server version.
        version: String,
        /// Workers online.
        workers: usize,
    },
    /// A job's state.
    Job {
        /// Which job.
        job_id: JobId,
        /// Its kind.
        kind: String,
        /// Its state.
        status: JobStatus,
        /// Why, for `error`.
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Progress: tasks done over total.
    Progress {
        /// Which job.
        job_id: JobId,
        /// 0–100.
        percent: f64,
        /// For people.
        message: String,
        /// Tasks done.
        done: u32,
        /// Tasks in the job.
        total: u32,
    },
    /// A finished tile.
    Tile {
        /// Which job.
        job_id: JobId,
        /// Task index.
        index: u32,
        /// Pixel rectangle in the full image.
        rect: Rect,
        /// Full image width, so a client can size its canvas from any tile.
        width: u32,
        /// Full image height.
        height: u32,
        /// URL of the tile as PNG (8-bit sRGB).
        url: String,
    },
    /// The job's output.
    Result {
        /// Which job.
        job_id: JobId,
        /// File name.
        filename: String,
        /// MIME type.
        mime: String,
        /// Download URL.
        url: String,
        /// The file in base64, for seed 000's client; omitted above the inline limit.
        #[serde(skip_serializing_if = "Option::is_none")]
        data_base64: Option<String>,
    },
    /// What was wrong with a request.
    Error {
        /// Names the field and what was expected.
        message: String,
        /// The job concerned, when there is one.
        #[serde(skip_serializing_if = "Option::is_none")]
        job_id: Option<JobId>,
    },
}
