//! State shared by every handler: the backend, the kinds, the config, the live assemblers and
//! the hub that fans server messages out to WebSocket clients.

use crate::error::ApiError;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use tessera_backend::{Backend, NewJob};
use tessera_kinds::{Assembler, PlanCtx, Registry};
use tessera_types::ws::ServerMsg;
use tessera_types::{FieldError, JobDoc, JobId, JobRecord, JobStatus, Limits, Millis, TaskRecord};

/// Default port (DESIGN 2.2).
pub const DEFAULT_PORT: u16 = 8765;

/// How the coordinator runs.
#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    /// Address to listen on; loopback by default.
    pub bind: IpAddr,
    /// Port; 0 picks a free one.
    pub port: u16,
    /// Access token; required when `bind` is not loopback.
    pub token: Option<String>,
    /// Input limits.
    pub limits: Limits,
    /// Results up to this size travel inline (base64) in `result` messages, for seed 000's client.
    pub inline_result_bytes: u64,
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        CoordinatorConfig {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: DEFAULT_PORT,
            token: None,
            limits: Limits::default(),
            inline_result_bytes: 8 * 1024 * 1024,
        }
    }
}

/// A job's assembler plus the task payloads it needs, loaded once.
pub(crate) struct LiveJob {
    pub payloads: Vec<serde_json::Value>,
    pub added: HashSet<u32>,
    pub assembler: Box<dyn Assembler>,
}

/// Everything handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub backend: Arc<dyn Backend>,
    pub registry: Registry,
    pub config: CoordinatorConfig,
    pub hub: tokio::sync::broadcast::Sender<ServerMsg>,
    pub live: Mutex<HashMap<JobId, Arc<Mutex<LiveJob>>>>,
    pub finishing: Mutex<HashSet<JobId>>,
    /// Cancelled when the coordinator stops, so long-lived WebSockets close and let the
    /// server's graceful shutdown complete.
    pub shutdown: tokio_util::sync::CancellationToken,
}

/// Wall-clock milliseconds.
pub(crate) fn now_ms() -> Millis {
    use tessera_core::Clock;
    tessera_core::SystemClock.now_ms()
}

impl AppState {
    /// Builds the state; nothing runs until the coordinator serves.
    pub fn new(backend: Arc<dyn Backend>, registry: Registry, config: CoordinatorConfig) -> Self {
        let (hub, _) = tokio::sync::broadcast::channel(8192);
        AppState {
            inner: Arc::new(Inner {
                backend,
                registry,
                config,
                hub,
                live: Mutex::default(),
                finishing: Mutex::default(),
                shutdown: tokio_util::sync::CancellationToken::new(),
            }),
        }
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.inner.backend
    }

    pub(crate) fn config(&self) -> &CoordinatorConfig {
        &self.inner.config
    }

    /// Validates, plans and stores a job document under `id`.
    pub async fn submit_value(&self, value: serde_json::Value, id: JobId) -> Result<JobRecord, ApiError> {
        let doc: JobDoc = serde_json::from_value(value).map_err(|e| {
            let msg = e.to_string();
            let field = if msg.contains("`kind`") { "kind" } else { "job" };
            FieldError::new(field, msg)
        })?;
        self.submit(doc, id).await
    }

    /// Validates, plans and stores a parsed job document under `id`.
    pub async fn submit(&self, doc: JobDoc, id: JobId) -> Result<JobRecord, ApiError> {
        let s = &self.inner;
        if let Some(name) = &doc.name {
            if name.len() > 200 {
                return Err(FieldError::new("name", "at most 200 bytes").into());
            }
        }
        let kind = s.registry.get(&doc.kind)?;
        let planned = kind
            .plan(&doc, PlanCtx { job_id: &id, limits: &s.config.limits, backend: s.backend.as_ref() })
            .await?;
        let now = now_ms();
        let record = JobRecord {
            id: id.clone(),
            kind: doc.kind.clone(),
            name: doc.name.clone(),
            priority: doc.priority,
            status: JobStatus::Queued,
            error: None,
            created_ms: now,
            updated_ms: now,
            tasks_total: planned.tasks.len() as u32,
            tasks_done: 0,
            doc: planned.doc,
            output: None,
        };
        s.backend
            .create_job(NewJob { record: record.clone(), tasks: planned.tasks, inputs: planned.inputs })
            .await?;
        tracing::info!(job_id = %id, kind = %record.kind, tasks = record.tasks_total, "job submitted");
        Ok(record)
    }

    /// A job by id, or 404.
    pub(crate) async fn job(&self, id: &str) -> Result<JobRecord, ApiError> {
        let jid = JobId::parse(id).ok_or_else(|| ApiError::NotFound(format!("no job {id:?}")))?;
        self.inner.backend.get_job(&jid).await?.ok_or_else(|| ApiError::NotFound(format!("no job {id}")))
    }

    /// Cancels a job; 409 when it is already final.
    pub(crate) async fn cancel(&self, id: &str) -> Result<JobRecord, ApiError> {
        let job = self.job(id).await?;
        if !self.inner.backend.cancel_job(&job.id, now_ms()).await? {
            return Err(ApiError::Conflict(format!("job {id} is already {}", job.status.as_str())));
        }
        self.inner.live.lock().expect("live lock").remove(&job.id);
        self.job(id).await
    }

    /// The live assembler of a job, building it from the backend's accepted results when the
    /// coordinator has none (first tile, or after a restart).
    pub(crate) async fn live_job(&self, job: &JobRecord) -> Result<Arc<Mutex<LiveJob>>, ApiError> {
        if let Some(l) = self.inner.live.lock().expect("live lock").get(&job.id) {
            return Ok(l.clone());
        }
        let kind = self.inner.registry.get(&job.kind)?;
        let tasks: Vec<TaskRecord> = self.inner.backend.list_tasks(&job.id).await?;
        let mut live = LiveJob {
            payloads: tasks.iter().map(|t| t.payload.clone()).collect(),
            added: HashSet::new(),
            assembler: kind.assembler(job)?,
        };
        for t in tasks.iter().filter(|t| t.status == tessera_types::TaskStatus::Done) {
            if let Some(data) = self
                .inner
                .backend
                .get_blob(&tessera_types::job::blob_key::task_result(&job.id, t.key.index))
                .await?
            {
                live.assembler.add(t.key.index, &t.payload, &data)?;
                live.added.insert(t.key.index);
            }
        }
        let live = Arc::new(Mutex::new(live));
        let mut map = self.inner.live.lock().expect("live lock");
        Ok(map.entry(job.id.clone()).or_insert(live).clone())
    }

    /// Sends a message to every WebSocket client that subscribed to it.
    pub(crate) fn broadcast(&self, msg: ServerMsg) {
        let _ = self.inner.hub.send(msg);
    }
}
