//! A whole farm in-process for integration tests: the SQLite backend in a temporary directory,
//! the standard job kinds, a coordinator on a free loopback port and a real worker, all on a
//! runtime of their own so any test (async or not) can talk to it over real sockets.
#![allow(dead_code)]

use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tessera_backend::{Backend, Timing};
use tessera_backend_sqlite::SqliteBackend;
use tessera_coordinator::{Coordinator, CoordinatorConfig};
use tessera_kinds::Registry;
use tessera_worker::{Worker, WorkerConfig};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// How long a test waits for anything before it fails.
pub const WAIT: Duration = Duration::from_secs(30);

/// A running farm; dropping it shuts everything down.
pub struct Farm {
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// `ws://127.0.0.1:PORT`
    pub ws: String,
    /// The token, when the coordinator was configured with one.
    pub token: Option<String>,
    /// The backend the coordinator and worker share.
    pub backend: Arc<dyn Backend>,
    runtime: tokio::runtime::Handle,
    cancel: CancellationToken,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Farm {
    /// Coordinator with the default config (port 0) plus a running worker with 2 threads.
    pub fn start() -> Farm {
        Farm::start_with(CoordinatorConfig { port: 0, ..Default::default() }, true)
    }

    /// A farm with `config` (its port should be 0); the worker only when `worker`.
    pub fn start_with(config: CoordinatorConfig, worker: bool) -> Farm {
        let cancel = CancellationToken::new();
        let token = config.token.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let stop = cancel.clone();
        let thread = std::thread::Builder::new()
            .name("farm".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("farm runtime");
                let dir = tempfile::tempdir().expect("tempdir");
                let handle = rt.handle().clone();
                rt.block_on(async {
                    let backend: Arc<dyn Backend> =
                        Arc::new(SqliteBackend::open(dir.path(), Timing::default()).expect("open sqlite"));
                    let coordinator = Coordinator::bind(backend.clone(), Registry::standard(), config)
                        .await
                        .expect("coordinator binds");
                    let addr = coordinator.local_addr();
                    let serving = tokio::spawn(coordinator.serve(stop.clone()));
                    tx.send((addr, backend, handle)).expect("report address");
                    stop.cancelled().await;
                    let _ = tokio::time::timeout(Duration::from_secs(5), serving).await;
                });
                // Abandoned renders may still be running on blocking threads; do not wait.
                rt.shutdown_timeout(Duration::from_millis(200));
                drop(dir);
            })
            .expect("spawn farm thread");
        let (addr, backend, runtime) = rx.recv_timeout(WAIT).expect("farm started");
        let farm = Farm {
            base: format!("http://{addr}"),
            ws: format!("ws://{addr}"),
            token,
            backend,
            runtime,
            cancel,
            thread: Some(thread),
        };
        if worker {
            farm.start_worker();
        }
        farm
    }

    /// Starts a worker (2 threads) on the farm's runtime and waits until the coordinator sees it.
    pub fn start_worker(&self) {
        let config = WorkerConfig {
            name: "test-worker".into(),
            threads: 2,
            shutdown_deadline: Duration::from_millis(200),
            ..Default::default()
        };
        let worker = Worker::new(self.backend.clone(), Registry::standard(), config).expect("worker builds");
        let stop = self.cancel.clone();
        self.runtime.spawn(async move {
            let _ = worker.run(stop).await;
        });
        let deadline = Instant::now() + WAIT;
        loop {
            let seen = self.runtime.block_on_workers(&self.backend);
            if seen >= 1 {
                return;
            }
            assert!(Instant::now() < deadline, "worker never showed up");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An HTTP client that sends the farm's token, if any, as a bearer header.
    pub fn client(&self) -> reqwest::Client {
        let mut headers = reqwest::header::HeaderMap::new();
        if let Some(t) = &self.token {
            headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {t}").parse().expect("header"));
        }
        reqwest::Client::builder().default_headers(headers).timeout(WAIT).build().expect("http client")
    }

    /// POSTs a job document; panics unless it is accepted (201). Returns the job id.
    pub async fn submit(&self, doc: Value) -> String {
        let resp = self.client().post(self.url("/api/jobs")).json(&doc).send().await.expect("POST /api/jobs");
        let status = resp.status();
        let body: Value = resp.json().await.expect("JSON answer");
        assert_eq!(status, 201, "job refused: {body}");
        body["job_id"].as_str().expect("job_id").to_string()
    }

    /// GETs a JSON document, asserting 200.
    pub async fn get_json(&self, path: &str) -> Value {
        let resp = self.client().get(self.url(path)).send().await.expect("GET");
        let status = resp.status();
        let text = resp.text().await.expect("body");
        assert_eq!(status, 200, "GET {path}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {text}"))
    }

    /// GETs raw bytes, asserting 200; returns the content type too.
    pub async fn get_bytes(&self, path: &str) -> (String, Vec<u8>) {
        let resp = self.client().get(self.url(path)).send().await.expect("GET");
        let status = resp.status();
        let ct = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let bytes = resp.bytes().await.expect("body").to_vec();
        assert_eq!(status, 200, "GET {path}: {}", String::from_utf8_lossy(&bytes));
        (ct, bytes)
    }

    /// Polls a job until it is in a final state; returns its view.
    pub async fn wait_final(&self, id: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let job = self.get_json(&format!("/api/jobs/{id}")).await;
            if matches!(job["status"].as_str(), Some("done" | "error" | "cancelled")) {
                return job;
            }
            assert!(Instant::now() < deadline, "job {id} did not finish: {job}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Submits a job and waits for it to be done; returns the id.
    pub async fn run_job(&self, doc: Value) -> String {
        let id = self.submit(doc).await;
        let job = self.wait_final(&id).await;
        assert_eq!(job["status"], "done", "job {id} did not succeed: {job}");
        id
    }

    /// Waits until `/api/status` shows no queued or running jobs (nothing stuck).
    pub async fn assert_idle(&self) {
        let deadline = Instant::now() + WAIT;
        loop {
            let st = self.get_json("/api/status").await;
            if st["jobs"]["queued"] == 0 && st["jobs"]["running"] == 0 && st["queue_depth"] == 0 {
                return;
            }
            assert!(Instant::now() < deadline, "jobs left behind: {st}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

trait WorkersSeen {
    fn block_on_workers(&self, backend: &Arc<dyn Backend>) -> usize;
}

impl WorkersSeen for tokio::runtime::Handle {
    fn block_on_workers(&self, backend: &Arc<dyn Backend>) -> usize {
        let backend = backend.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        self.spawn(async move {
            let n = backend.workers(tessera_worker::now_ms()).await.map(|w| w.len()).unwrap_or(0);
            let _ = tx.send(n);
        });
        rx.recv_timeout(WAIT).unwrap_or(0)
    }
}

impl Drop for Farm {
    fn drop(&mut self) {
        self.cancel.cancel();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The default scene shrunk to `width`×`height` at `spp` samples (depth 3), as JSON.
pub fn scene(width: u32, height: u32, spp: u32) -> Value {
    let mut s = serde_json::to_value(tessera_types::scene::Scene::default_scene()).expect("scene to JSON");
    s["render"]["width"] = json!(width);
    s["render"]["height"] = json!(height);
    s["render"]["spp"] = json!(spp);
    s["render"]["max_depth"] = json!(3);
    s
}

/// A render job document for [`scene`].
pub fn render_doc(width: u32, height: u32, spp: u32) -> Value {
    json!({ "kind": "render", "scene": scene(width, height, spp) })
}

/// A WebSocket client speaking JSON frames.
pub struct Ws {
    stream: tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
}

impl Ws {
    /// Connects; panics on failure.
    pub async fn connect(url: &str) -> Ws {
        let (stream, _) =
            tokio_tungstenite::connect_async(url).await.unwrap_or_else(|e| panic!("{url}: {e}"));
        Ws { stream }
    }

    /// Sends one JSON object.
    pub async fn send(&mut self, v: Value) {
        self.stream.send(Message::Text(v.to_string().into())).await.expect("ws send");
    }

    /// Sends a raw text frame.
    pub async fn send_text(&mut self, s: &str) {
        self.stream.send(Message::Text(s.to_string().into())).await.expect("ws send");
    }

    /// The next JSON message, or `None` when the connection closed. Panics after [`WAIT`].
    pub async fn next(&mut self) -> Option<Value> {
        self.next_within(WAIT).await.expect("no WebSocket message in time")
    }

    /// The next JSON message within `d`: `Err` on timeout, `Ok(None)` on close.
    pub async fn next_within(&mut self, d: Duration) -> Result<Option<Value>, ()> {
        let deadline = tokio::time::Instant::now() + d;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.stream.next()).await.map_err(|_| ())?;
            match msg {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Ok(None),
                Some(Ok(Message::Text(t))) => {
                    return Ok(Some(serde_json::from_str(t.as_str()).expect("server frames are JSON")))
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Collects messages until one satisfies `stop` (included). Panics on close or timeout.
    pub async fn until(&mut self, mut stop: impl FnMut(&Value) -> bool) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let m = self.next().await.unwrap_or_else(|| panic!("connection closed; got {out:?}"));
            let done = stop(&m);
            out.push(m);
            if done {
                return out;
            }
        }
    }
}

/// True for a message of `type` about `job_id`.
pub fn is(m: &Value, ty: &str, job_id: &str) -> bool {
    m["type"] == ty && m["job_id"] == job_id
}
