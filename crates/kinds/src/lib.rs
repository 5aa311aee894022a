//! Job kinds (DESIGN 7): each kind is one module behind [`JobKind`] — validate and plan a
//! submitted document, run one task on a worker, assemble the results on the coordinator.
//! The coordinator and worker reach kinds only through [`Registry`].

pub mod render;
pub mod scene_schema;
pub mod zip;

use async_trait::async_trait;
use bytes::Bytes;
use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tessera_backend::{Backend, BackendError};
use tessera_types::ws::Rect;
use tessera_types::{FieldError, JobDoc, JobId, JobRecord, Limits, TaskSpec};

/// Why a kind refused a document or a task failed.
#[derive(Debug, thiserror::Error)]
pub enum KindError {
    /// The submitted document is invalid; the error names the field.
    #[error(transparent)]
    Invalid(#[from] FieldError),
    /// The job kind is not known.
    #[error("kind: unknown job kind {0:?}; expected one of {1}")]
    UnknownKind(String, String),
    /// A task's input or result is malformed (a bug or a corrupt blob, not user error).
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// The task itself failed.
    #[error("task failed: {0}")]
    Task(String),
    /// The backend failed while planning.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// What a kind's planner produces from a valid document.
#[derive(Debug, Clone)]
pub struct Planned {
    /// The normalised document stored in the job record (small: big inputs go in `inputs`).
    pub doc: serde_json::Value,
    /// The tasks, indexed from 0.
    pub tasks: Vec<TaskSpec>,
    /// Input blobs shared by the tasks, by name.
    pub inputs: Vec<(String, Bytes)>,
}

/// What planning may look at besides the document.
pub struct PlanCtx<'a> {
    /// The id the job will get.
    pub job_id: &'a JobId,
    /// Limits in force.
    pub limits: &'a Limits,
    /// The backend, for kinds that refer to other jobs (zip).
    pub backend: &'a dyn Backend,
}

/// One task as a worker runs it.
pub struct TaskRun<'a> {
    /// The job.
    pub job_id: &'a JobId,
    /// The task's index.
    pub index: u32,
    /// The planner's payload.
    pub payload: &'a serde_json::Value,
    /// The blobs named by [`JobKind::task_inputs`], by key.
    pub inputs: &'a HashMap<String, Bytes>,
    /// Set when the lease is lost or the job cancelled; long tasks should stop early.
    pub cancel: &'a AtomicBool,
}

/// A job's finished output file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    /// Download file name.
    pub filename: String,
    /// MIME type.
    pub mime: String,
    /// The file.
    pub bytes: Vec<u8>,
}

/// Accumulates a job's task results on the coordinator as they land.
pub trait Assembler: Send {
    /// Takes one accepted task result. Adding the same index twice is harmless (duplicate
    /// deliveries carry identical bytes).
    fn add(&mut self, index: u32, payload: &serde_json::Value, data: &[u8]) -> Result<(), KindError>;
    /// An 8-bit PNG of the output so far, for visual kinds.
    fn preview_png(&self) -> Result<Option<Vec<u8>>, KindError>;
    /// Builds the output once every task has been added.
    fn finish(&mut self) -> Result<Output, KindError>;
}

/// One job kind.
#[async_trait]
pub trait JobKind: Send + Sync + 'static {
    /// The `kind` field that selects it.
    fn name(&self) -> &'static str;

    /// Validates a document and splits it into tasks.
    async fn plan(&self, doc: &JobDoc, ctx: PlanCtx<'_>) -> Result<Planned, KindError>;

    /// Blob keys a task needs fetched before it runs.
    fn task_inputs(&self, job_id: &JobId, payload: &serde_json::Value) -> Vec<String>;

    /// Runs one task (on a worker thread, inside the worker's thread pool) and returns its
    /// result bytes.
    fn run_task(&self, run: TaskRun<'_>) -> Result<Vec<u8>, KindError>;

    /// A fresh assembler for a job.
    fn assembler(&self, job: &JobRecord) -> Result<Box<dyn Assembler>, KindError>;

    /// An 8-bit PNG of one task's result, for visual kinds (the tiles a browser draws).
    fn tile_png(
        &self,
        job: &JobRecord,
        payload: &serde_json::Value,
        data: &[u8],
    ) -> Result<Option<Vec<u8>>, KindError> {
        let _ = (job, payload, data);
        Ok(None)
    }

    /// The pixel rectangle a task covers, for visual kinds, read from its payload alone so a
    /// client can be told where a tile goes without the assembler.
    fn tile_rect(&self, payload: &serde_json::Value) -> Option<Rect> {
        let _ = payload;
        None
    }

    /// Image size for visual kinds, so a client can size its canvas.
    fn dimensions(&self, job: &JobRecord) -> Option<(u32, u32)> {
        let _ = job;
        None
    }
}

/// Every job kind the build knows, by name.
#[derive(Clone)]
pub struct Registry {
    kinds: Arc<Vec<Arc<dyn JobKind>>>,
}

impl Registry {
    /// Every kind of this build.
    pub fn standard() -> Self {
        Registry { kinds: Arc::new(vec![Arc::new(render::RenderKind::default()), Arc::new(zip::ZipKind)]) }
    }

    /// A registry of exactly these kinds (tests, embedders with their own kinds).
    pub fn new(kinds: Vec<Arc<dyn JobKind>>) -> Self {
        Registry { kinds: Arc::new(kinds) }
    }

    /// The kind called `name`.
    pub fn get(&self, name: &str) -> Result<&Arc<dyn JobKind>, KindError> {
        self.kinds
            .iter()
            .find(|k| k.name() == name)
            .ok_or_else(|| KindError::UnknownKind(name.to_string(), self.names().join(", ")))
    }

    /// Names of every kind.
    pub fn names(&self) -> Vec<String> {
        self.kinds.iter().map(|k| k.name().to_string()).collect()
    }
}

/// Reads a kind's own fields from a document's body, naming the field on error.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(doc: &JobDoc) -> Result<T, FieldError> {
    let value = serde_json::Value::Object(doc.body.clone());
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let msg = e.into_inner().to_string();
        // Unknown and missing fields are reported at the top level; serde names them in its
        // message, which is what users need.
        let field = if path != "." {
            path
        } else {
            msg.split('`').nth(1).map(str::to_string).unwrap_or_else(|| doc.kind.clone())
        };
        FieldError::new(field, msg)
    })
}
