//! The WebSocket protocol (DESIGN 2.3), compatible with seed 000's client: one JSON object per
//! frame each way. A connection that submits a job is subscribed to it before the job exists,
//! so it never misses the job's first event.

use crate::pump::{progress_msg, result_msg};
use crate::state::{now_ms, AppState};
use axum::extract::ws::{Message, WebSocket};
use std::collections::HashSet;
use tessera_types::ws::{ClientMsg, ServerMsg};
use tessera_types::{JobId, JobStatus};
use tokio::sync::broadcast::error::RecvError;

/// Which jobs a connection follows.
#[derive(Default)]
struct Subs {
    all: bool,
    jobs: HashSet<JobId>,
}

impl Subs {
    fn wants(&self, msg: &ServerMsg) -> bool {
        let id = match msg {
            ServerMsg::Job { job_id, .. }
            | ServerMsg::Progress { job_id, .. }
            | ServerMsg::Tile { job_id, .. }
            | ServerMsg::Result { job_id, .. } => job_id,
            ServerMsg::Error { job_id: Some(job_id), .. } => job_id,
            _ => return false,
        };
        self.all || self.jobs.contains(id)
    }
}

async fn send(socket: &mut WebSocket, msg: &ServerMsg) -> bool {
    let text = serde_json::to_string(msg).expect("server messages serialise");
    socket.send(Message::Text(text.into())).await.is_ok()
}

fn error(message: impl Into<String>, job_id: Option<JobId>) -> ServerMsg {
    ServerMsg::Error { message: message.into(), job_id }
}

/// Serves one WebSocket connection until either side closes it.
pub(crate) async fn serve(mut socket: WebSocket, state: AppState) {
    let mut hub = state.inner.hub.subscribe();
    let workers = state.backend().workers(now_ms()).await.map(|w| w.len()).unwrap_or(0);
    let hello = ServerMsg::Hello { version: env!("CARGO_PKG_VERSION").to_string(), workers };
    if !send(&mut socket, &hello).await {
        return;
    }
    let mut subs = Subs::default();
    let closing = state.inner.shutdown.clone();
    loop {
        tokio::select! {
            _ = closing.cancelled() => {
                let _ = socket.send(Message::Close(None)).await;
                return;
            }
            incoming = socket.recv() => {
                let Some(Ok(frame)) = incoming else { return };
                let replies = match frame {
                    Message::Text(text) => handle(&state, &mut subs, text.as_str()).await,
                    Message::Binary(_) => vec![error("frames must be JSON text", None)],
                    Message::Close(_) => return,
                    _ => vec![],
                };
                for r in &replies {
                    if !send(&mut socket, r).await {
                        return;
                    }
                }
            }
            out = hub.recv() => match out {
                Ok(msg) if subs.wants(&msg) => {
                    if !send(&mut socket, &msg).await {
                        return;
                    }
                }
                Ok(_) => {}
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "websocket client too slow; messages dropped");
                    if !send(&mut socket, &error(format!("{n} messages were dropped because the connection was too slow; re-read job state"), None)).await {
                        return;
                    }
                }
                Err(RecvError::Closed) => return,
            }
        }
    }
}

/// Handles one client frame; returns the direct replies.
async fn handle(state: &AppState, subs: &mut Subs, text: &str) -> Vec<ServerMsg> {
    let value: serde_json::Value = match crate::error::parse_json(text.as_bytes()) {
        Ok(v) => v,
        Err((path, e)) => {
            let field = if path.is_empty() { "frame".to_string() } else { path };
            return vec![error(format!("{field}: not valid JSON ({e})"), None)];
        }
    };
    let msg: ClientMsg = match serde_json::from_value(value.clone()) {
        Ok(m) => m,
        Err(e) => {
            let action = value.get("action").and_then(|a| a.as_str()).unwrap_or("");
            let known = ["render", "zip_outputs", "submit", "subscribe", "cancel"];
            let message = if action.is_empty() {
                "action: missing; expected one of render, zip_outputs, submit, subscribe, cancel".to_string()
            } else if !known.contains(&action) {
                format!("action: unknown action {action:?}; expected one of {}", known.join(", "))
            } else {
                format!("{action}: {e}")
            };
            return vec![error(message, None)];
        }
    };
    match msg {
        ClientMsg::Render { scene, mut rest } => {
            rest.insert("kind".into(), "render".into());
            rest.insert("scene".into(), scene);
            submit(state, subs, serde_json::Value::Object(rest)).await
        }
        ClientMsg::ZipOutputs {} => submit(state, subs, serde_json::json!({ "kind": "zip" })).await,
        ClientMsg::Submit { job } => submit(state, subs, job).await,
        ClientMsg::Subscribe { job_id } => {
            if job_id == "all" {
                subs.all = true;
                return vec![];
            }
            match state.job(&job_id).await {
                Ok(job) => {
                    subs.jobs.insert(job.id.clone());
                    let mut out = vec![
                        ServerMsg::Job {
                            job_id: job.id.clone(),
                            kind: job.kind.clone(),
                            status: job.status,
                            error: job.error.clone(),
                        },
                        progress_msg(&job.id, job.tasks_done, job.tasks_total),
                    ];
                    if job.status == JobStatus::Done {
                        out.extend(result_msg(state, &job, false).await);
                    }
                    out
                }
                Err(e) => vec![error(format!("job_id: {e}"), None)],
            }
        }
        ClientMsg::Cancel { job_id } => match state.cancel(&job_id).await {
            Ok(_) => vec![],
            Err(e) => vec![error(format!("job_id: {e}"), JobId::parse(&job_id))],
        },
    }
}

async fn submit(state: &AppState, subs: &mut Subs, job: serde_json::Value) -> Vec<ServerMsg> {
    let id = JobId::new();
    subs.jobs.insert(id.clone());
    match state.submit_value(job, id.clone()).await {
        Ok(_) => vec![],
        Err(e) => {
            subs.jobs.remove(&id);
            vec![error(e.to_string(), None)]
        }
    }
}
