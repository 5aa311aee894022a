//! The worker against a real SQLite backend: a panicking task costs only that task, and a
//! shutdown finishes the current task or hands it back at the deadline.

use async_trait::async_trait;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_backend::{Backend, NewJob, Timing};
use tessera_kinds::{Assembler, JobKind, KindError, Output, PlanCtx, Planned, Registry, TaskRun};
use tessera_types::{Event, JobDoc, JobId, JobRecord, JobStatus, TaskSpec, TaskStatus};
use tessera_worker::{now_ms, CancellationToken, Worker, WorkerConfig};

/// A kind whose tasks do what their payload says: panic, sleep, or succeed.
struct Scripted;

struct NoAssembly;

impl Assembler for NoAssembly {
    fn add(&mut self, _: u32, _: &serde_json::Value, _: &[u8]) -> Result<(), KindError> {
        Ok(())
    }
    fn preview_png(&self) -> Result<Option<Vec<u8>>, KindError> {
        Ok(None)
    }
    fn finish(&mut self) -> Result<Output, KindError> {
        Err(KindError::Task("not used".into()))
    }
}

#[async_trait]
impl JobKind for Scripted {
    fn name(&self) -> &'static str {
        "scripted"
    }
    async fn plan(&self, _: &JobDoc, _: PlanCtx<'_>) -> Result<Planned, KindError> {
        unreachable!("jobs are created directly in these tests")
    }
    fn task_inputs(&self, _: &JobId, _: &serde_json::Value) -> Vec<String> {
        vec![]
    }
    fn run_task(&self, run: TaskRun<'_>) -> Result<Vec<u8>, KindError> {
        if run.payload["panic"].as_bool() == Some(true) {
            panic!("boom");
        }
        let sleep = run.payload["sleep_ms"].as_u64().unwrap_or(0);
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(sleep) {
            if run.cancel.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(KindError::Task("cancelled".into()));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(b"ok".to_vec())
    }
    fn assembler(&self, _: &JobRecord) -> Result<Box<dyn Assembler>, KindError> {
        Ok(Box::new(NoAssembly))
    }
}

async fn add_job(backend: &dyn Backend, payload: serde_json::Value) -> JobId {
    let id = JobId::new();
    let now = now_ms();
    let record = JobRecord {
        id: id.clone(),
        kind: "scripted".into(),
        name: None,
        priority: 0,
        status: JobStatus::Queued,
        error: None,
        created_ms: now,
        updated_ms: now,
        tasks_total: 1,
        tasks_done: 0,
        doc: serde_json::json!({}),
        output: None,
    };
    let tasks = vec![TaskSpec { index: 0, payload }];
    backend.create_job(NewJob { record, tasks, inputs: vec![] }).await.unwrap();
    id
}

fn setup(deadline: Duration) -> (tempfile::TempDir, Arc<dyn Backend>, Worker) {
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Backend> =
        Arc::new(tessera_backend_sqlite::SqliteBackend::open(dir.path(), Timing::default()).unwrap());
    let registry = Registry::new(vec![Arc::new(Scripted)]);
    let config =
        WorkerConfig { name: "t".into(), threads: 2, shutdown_deadline: deadline, ..Default::default() };
    let worker = Worker::new(backend.clone(), registry, config).unwrap();
    (dir, backend, worker)
}

async fn wait_for(what: &str, mut pred: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !pred().await {
        assert!(start.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_task_fails_its_job_and_the_worker_keeps_working() {
    let (_dir, backend, worker) = setup(Duration::from_secs(5));
    let bad = add_job(backend.as_ref(), serde_json::json!({ "panic": true })).await;
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));
    wait_for("the job to fail", async || {
        backend.get_job(&bad).await.unwrap().unwrap().status == JobStatus::Error
    })
    .await;
    let job = backend.get_job(&bad).await.unwrap().unwrap();
    assert!(job.error.as_deref().unwrap_or("").contains("task panicked: boom"), "{job:?}");
    let tasks = backend.list_tasks(&bad).await.unwrap();
    assert_eq!((tasks[0].status, tasks[0].failures), (TaskStatus::Failed, 3));

    let good = add_job(backend.as_ref(), serde_json::json!({})).await;
    wait_for("the next task", async || {
        backend.list_tasks(&good).await.unwrap()[0].status == TaskStatus::Done
    })
    .await;
    stop.cancel();
    running.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_current_task_then_leaves_with_a_reason() {
    let (_dir, backend, worker) = setup(Duration::from_secs(10));
    let id = add_job(backend.as_ref(), serde_json::json!({ "sleep_ms": 600 })).await;
    let mut events = backend.subscribe();
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));
    wait_for("the lease", async || backend.list_tasks(&id).await.unwrap()[0].status == TaskStatus::Leased)
        .await;
    stop.cancel();
    running.await.unwrap().unwrap();
    assert_eq!(backend.list_tasks(&id).await.unwrap()[0].status, TaskStatus::Done, "task not finished");
    let mut left = None;
    while let Ok(ev) = events.try_recv() {
        if let Event::Worker { change, reason, .. } = ev {
            if change == "left" {
                left = reason;
            }
        }
    }
    assert_eq!(left.as_deref(), Some("shutdown"));
    assert!(backend.workers(now_ms()).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_deadline_hands_the_task_back_without_a_failure() {
    let (_dir, backend, worker) = setup(Duration::from_millis(150));
    let id = add_job(backend.as_ref(), serde_json::json!({ "sleep_ms": 20_000 })).await;
    let stop = CancellationToken::new();
    let running = tokio::spawn(worker.run(stop.clone()));
    wait_for("the lease", async || backend.list_tasks(&id).await.unwrap()[0].status == TaskStatus::Leased)
        .await;
    let start = Instant::now();
    stop.cancel();
    running.await.unwrap().unwrap();
    assert!(start.elapsed() < Duration::from_secs(5), "worker ignored its deadline");
    let task = &backend.list_tasks(&id).await.unwrap()[0];
    assert_eq!((task.status, task.failures), (TaskStatus::Queued, 0), "{task:?}");
}
