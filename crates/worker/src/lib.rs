//! A worker pulls one task at a time, runs it with all its threads, renews its lease while it
//! runs, and hands in the result (DESIGN 3). Pulling is the load balancing: a busy node simply
//! asks less often.

use bytes::Bytes;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tessera_backend::{Backend, Completion, Failure};
use tessera_kinds::{Registry, TaskRun};
use tessera_types::{Event, JobStatus, Lease, Millis, WorkerId, WorkerInfo};
pub use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// How often a worker writes its heartbeat (DESIGN 3: every 2 s under a 6 s TTL).
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);
/// Fallback poll when no event wakes an idle worker.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Wall-clock milliseconds since the Unix epoch.
pub fn now_ms() -> Millis {
    use tessera_core::Clock;
    tessera_core::SystemClock.now_ms()
}

/// Errors that stop a worker (task failures never do).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The thread pool could not be built.
    #[error("thread pool: {0}")]
    Pool(String),
}

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Name shown on the dashboard; the id adds a per-process suffix.
    pub name: String,
    /// Threads to render with; 0 means every core.
    pub threads: usize,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// Whether command jobs may run here (DESIGN 2.5).
    pub allow_commands: bool,
    /// On shutdown, how long the current task may run before it is handed back.
    pub shutdown_deadline: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            name: hostname(),
            threads: 0,
            tags: vec![],
            allow_commands: false,
            shutdown_deadline: Duration::from_secs(30),
        }
    }
}

/// The machine's host name, or `worker` when it cannot be read.
pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "worker".into())
}

#[derive(Default)]
struct Stats {
    done: AtomicU64,
    failed: AtomicU64,
    current: Mutex<Option<String>>,
}

/// A worker bound to a backend.
pub struct Worker {
    backend: Arc<dyn Backend>,
    registry: Registry,
    config: WorkerConfig,
    id: WorkerId,
    kinds: Vec<String>,
    pool: Arc<rayon::ThreadPool>,
    stats: Arc<Stats>,
    started_ms: Millis,
}

/// How one task ended, for the log and the stats.
enum Ran {
    Done(Vec<u8>),
    Failed(String),
    Abandoned,
}

impl Worker {
    /// Builds a worker and its thread pool.
    pub fn new(
        backend: Arc<dyn Backend>,
        registry: Registry,
        config: WorkerConfig,
    ) -> Result<Self, WorkerError> {
        let threads = if config.threads == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        } else {
            config.threads
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("tessera-render-{i}"))
            .build()
            .map_err(|e| WorkerError::Pool(e.to_string()))?;
        let kinds =
            registry.names().into_iter().filter(|k| config.allow_commands || k != "command").collect();
        Ok(Worker {
            id: WorkerId::new(&config.name),
            backend,
            registry,
            kinds,
            pool: Arc::new(pool),
            stats: Arc::default(),
            started_ms: now_ms(),
            config,
        })
    }

    /// This worker's id.
    pub fn id(&self) -> &WorkerId {
        &self.id
    }

    fn info(&self) -> WorkerInfo {
        WorkerInfo {
            id: self.id.clone(),
            hostname: hostname(),
            threads: self.pool.current_num_threads() as u32,
            tags: self.config.tags.clone(),
            kinds: self.kinds.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            started_ms: self.started_ms,
            last_seen_ms: now_ms(),
            tasks_done: self.stats.done.load(Ordering::Relaxed),
            tasks_failed: self.stats.failed.load(Ordering::Relaxed),
            current_task: self.stats.current.lock().expect("stats lock").clone(),
            ..WorkerInfo::default()
        }
    }

    /// Runs until `shutdown` is cancelled, then finishes (or at the deadline hands back) the
    /// current task and leaves with reason `shutdown`.
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), WorkerError> {
        let this = Arc::new(self);
        info!(worker = %this.id, threads = this.pool.current_num_threads(), "worker started");
        let beat = {
            let this = this.clone();
            let stop = shutdown.clone();
            tokio::spawn(async move {
                loop {
                    if let Err(e) = this.backend.heartbeat(&this.info(), now_ms()).await {
                        warn!(worker = %this.id, error = %e, "heartbeat failed");
                    }
                    tokio::select! {
                        _ = stop.cancelled() => break,
                        _ = tokio::time::sleep(HEARTBEAT_EVERY) => {}
                    }
                }
            })
        };
        let mut wake = this.backend.subscribe();
        while !shutdown.is_cancelled() {
            // Events that arrived while we were busy are covered by the lease attempt below.
            while wake.try_recv().is_ok() {}
            match this.backend.lease_task(&this.id, &this.kinds, now_ms()).await {
                Ok(Some(lease)) => this.clone().run_lease(lease, &shutdown).await,
                Ok(None) => {
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = tokio::time::sleep(IDLE_POLL) => {}
                        _ = wait_for_work(&mut wake) => {}
                    }
                }
                Err(e) => {
                    warn!(worker = %this.id, error = %e, "lease failed; retrying");
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
        beat.abort();
        if let Err(e) = this.backend.remove_worker(&this.id, "shutdown", now_ms()).await {
            warn!(worker = %this.id, error = %e, "could not sign off");
        }
        info!(worker = %this.id, "worker stopped");
        Ok(())
    }

    async fn fetch_inputs(&self, lease: &Lease) -> Result<HashMap<String, Bytes>, String> {
        let kind = self.registry.get(&lease.kind).map_err(|e| e.to_string())?;
        let mut inputs = HashMap::new();
        for key in kind.task_inputs(lease.job_id(), &lease.payload) {
            match self.backend.get_blob(&key).await {
                Ok(Some(b)) => {
                    inputs.insert(key, b);
                }
                Ok(None) => return Err(format!("input {key} is missing")),
                Err(e) => return Err(format!("input {key}: {e}")),
            }
        }
        Ok(inputs)
    }

    async fn run_lease(self: Arc<Self>, lease: Lease, shutdown: &CancellationToken) {
        let task = lease.key.to_string();
        *self.stats.current.lock().expect("stats lock") = Some(task.clone());
        debug!(worker = %self.id, task_id = %task, attempt = lease.attempt, "task leased");
        let ran = match self.fetch_inputs(&lease).await {
            Ok(inputs) => self.execute(&lease, inputs, shutdown).await,
            Err(msg) => Ran::Failed(msg),
        };
        let now = now_ms();
        match ran {
            Ran::Done(bytes) => match self.backend.complete_task(&lease, Bytes::from(bytes), now).await {
                Ok(Completion::Accepted { done, total }) => {
                    self.stats.done.fetch_add(1, Ordering::Relaxed);
                    debug!(worker = %self.id, task_id = %task, done, total, "task done");
                }
                Ok(Completion::Stale) => {
                    info!(worker = %self.id, task_id = %task, "result dropped: lease no longer current")
                }
                Err(e) => {
                    warn!(worker = %self.id, task_id = %task, error = %e, "could not hand in result; the lease will expire")
                }
            },
            Ran::Failed(msg) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                warn!(worker = %self.id, task_id = %task, error = %msg, "task failed");
                match self.backend.fail_task(&lease, &msg, now).await {
                    Ok(Failure::JobFailed) => warn!(task_id = %task, "job failed after its last attempt"),
                    Ok(_) => {}
                    Err(e) => {
                        warn!(worker = %self.id, task_id = %task, error = %e, "could not report failure")
                    }
                }
            }
            Ran::Abandoned => {}
        }
        *self.stats.current.lock().expect("stats lock") = None;
    }

    async fn execute(
        self: &Arc<Self>,
        lease: &Lease,
        inputs: HashMap<String, Bytes>,
        shutdown: &CancellationToken,
    ) -> Ran {
        let cancel = Arc::new(AtomicBool::new(false));
        let mut handle = {
            let (this, lease, cancel) = (self.clone(), lease.clone(), cancel.clone());
            tokio::task::spawn_blocking(move || {
                let kind = this.registry.get(&lease.kind).map_err(|e| e.to_string())?.clone();
                let run = TaskRun {
                    job_id: lease.job_id(),
                    index: lease.key.index,
                    payload: &lease.payload,
                    inputs: &inputs,
                    cancel: &cancel,
                };
                // A panicking task must cost only that task, never the worker.
                let out =
                    this.pool.install(|| std::panic::catch_unwind(AssertUnwindSafe(|| kind.run_task(run))));
                match out {
                    Ok(Ok(bytes)) => Ok(bytes),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(panic) => Err(format!("task panicked: {}", panic_text(&panic))),
                }
            })
        };
        let renew_every = Duration::from_millis((self.backend.timing().lease_ms / 3).max(50));
        let mut deadline: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
        let mut lost = false;
        loop {
            tokio::select! {
                joined = &mut handle => {
                    return match joined {
                        _ if lost => Ran::Abandoned,
                        Ok(Ok(bytes)) => Ran::Done(bytes),
                        Ok(Err(msg)) => Ran::Failed(msg),
                        Err(e) => Ran::Failed(format!("task thread failed: {e}")),
                    };
                }
                _ = tokio::time::sleep(renew_every), if !lost => {
                    match self.backend.renew_lease(lease, now_ms()).await {
                        Ok(true) => {}
                        Ok(false) => {
                            info!(worker = %self.id, task_id = %lease.key, "lease lost (expired or job cancelled); abandoning task");
                            cancel.store(true, Ordering::Relaxed);
                            lost = true;
                        }
                        Err(e) => warn!(worker = %self.id, task_id = %lease.key, error = %e, "lease renewal failed"),
                    }
                }
                _ = shutdown.cancelled(), if deadline.is_none() && !lost => {
                    info!(worker = %self.id, task_id = %lease.key, "shutting down: finishing the current task");
                    deadline = Some(Box::pin(tokio::time::sleep(self.config.shutdown_deadline)));
                }
                _ = async { deadline.as_mut().expect("guarded").await }, if deadline.is_some() && !lost => {
                    info!(worker = %self.id, task_id = %lease.key, "shutdown deadline reached: handing the task back");
                    cancel.store(true, Ordering::Relaxed);
                    if let Err(e) = self.backend.release_task(lease, now_ms()).await {
                        warn!(worker = %self.id, error = %e, "could not hand the task back; its lease will expire");
                    }
                    lost = true;
                }
            }
        }
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

async fn wait_for_work(rx: &mut tokio::sync::broadcast::Receiver<Event>) {
    loop {
        match rx.recv().await {
            Ok(Event::Job { status: JobStatus::Queued, .. }) | Ok(Event::TaskRequeued { .. }) => return,
            Ok(_) => continue,
            Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
            Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                std::future::pending::<()>().await;
            }
        }
    }
}
