//! REST routes under `/api/`, `/metrics`, the WebSocket upgrade at `/ws` and `/`, and the web
//! app for everything else.

use crate::auth::require_token;
use crate::error::ApiError;
use crate::state::{now_ms, AppState};
use crate::{web, ws};
use axum::body::{Body, Bytes};
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tessera_types::job::blob_key;
use tessera_types::{FieldError, JobId, JobRecord, JobStatus, TaskKey};

/// Builds the whole router.
pub(crate) fn router(state: AppState) -> Router {
    let limit = state.config().limits.max_body_bytes;
    Router::new()
        .route("/api/jobs", post(create_job).get(list_jobs))
        .route("/api/jobs/{id}", get(get_job))
        .route("/api/jobs/{id}/cancel", post(cancel_job))
        .route("/api/jobs/{id}/result", get(job_result))
        .route("/api/jobs/{id}/preview", get(job_preview))
        .route("/api/jobs/{id}/tasks", get(job_tasks))
        .route("/api/jobs/{id}/tiles/{index}", get(job_tile))
        .route("/api/workers", get(workers))
        .route("/api/queue", get(queue))
        .route("/api/status", get(status))
        .route("/api/scenes/default", get(default_scene))
        .route("/api/openapi.json", get(openapi))
        .route("/metrics", get(metrics))
        .route("/ws", get(ws_upgrade))
        .route("/", get(root))
        .fallback(web::static_file)
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), require_token))
        .with_state(state)
}

/// A job as the API shows it: the record plus what a client needs to draw it.
pub(crate) fn job_view(state: &AppState, job: &JobRecord) -> Value {
    let dims = state.inner.registry.get(&job.kind).ok().and_then(|k| k.dimensions(job));
    let percent =
        if job.tasks_total == 0 { 0.0 } else { job.tasks_done as f64 * 100.0 / job.tasks_total as f64 };
    json!({
        "id": job.id,
        "kind": job.kind,
        "name": job.name,
        "priority": job.priority,
        "status": job.status,
        "error": job.error,
        "created_ms": job.created_ms,
        "updated_ms": job.updated_ms,
        "tasks_total": job.tasks_total,
        "tasks_done": job.tasks_done,
        "percent": percent,
        "width": dims.map(|d| d.0),
        "height": dims.map(|d| d.1),
        "doc": job.doc,
        "output": job.output,
        "result_url": job.output.as_ref().map(|_| format!("/api/jobs/{}/result", job.id)),
        "preview_url": dims.map(|_| format!("/api/jobs/{}/preview", job.id)),
    })
}

async fn create_job(
    State(state): State<AppState>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<Response, ApiError> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge(format!(
                "request body exceeds the limit of {} bytes",
                state.config().limits.max_body_bytes
            ))
        } else {
            ApiError::Invalid(FieldError::new("body", e.body_text()))
        }
    })?;
    let value: Value = crate::error::parse_json(&body).map_err(|(path, e)| {
        FieldError::new(if path.is_empty() { "body".into() } else { path }, format!("not valid JSON: {e}"))
    })?;
    if !value.is_object() {
        return Err(FieldError::new("body", "expected a JSON object with a `kind`").into());
    }
    let job = state.submit_value(value, JobId::new()).await?;
    Ok((StatusCode::CREATED, Json(json!({ "job_id": job.id, "job": job_view(&state, &job) })))
        .into_response())
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

async fn list_jobs(
    State(state): State<AppState>,
    Query(q): Query<ListQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let jobs = state.backend().list_jobs(limit).await?;
    Ok(Json(json!({ "jobs": jobs.iter().map(|j| job_view(&state, j)).collect::<Vec<_>>() })))
}

async fn get_job(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let job = state.job(&id).await?;
    Ok(Json(job_view(&state, &job)))
}

async fn cancel_job(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let job = state.cancel(&id).await?;
    Ok(Json(job_view(&state, &job)))
}

fn file(bytes: Bytes, mime: &str, filename: Option<&str>) -> Response {
    let mut resp =
        (StatusCode::OK, [(header::CONTENT_TYPE, mime.to_string())], Body::from(bytes)).into_response();
    if let Some(name) = filename {
        if let Ok(v) = format!("attachment; filename=\"{name}\"").parse() {
            resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
        }
    }
    resp
}

async fn job_result(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let job = state.job(&id).await?;
    let Some(out) = &job.output else {
        return Err(ApiError::Conflict(format!(
            "job {id} is {}; its result exists once it is done",
            job.status.as_str()
        )));
    };
    let bytes = state
        .backend()
        .get_blob(&blob_key::job_output(&job.id))
        .await?
        .ok_or_else(|| ApiError::Internal(format!("output blob of {id} missing")))?;
    Ok(file(bytes, &out.mime, Some(&out.filename)))
}

async fn job_preview(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let job = state.job(&id).await?;
    let live = state.live_job(&job).await?;
    let png =
        tokio::task::spawn_blocking(move || live.lock().expect("live job lock").assembler.preview_png())
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??;
    if job.status.is_final() {
        // Finished jobs are not kept live; this one was built for the request only.
        state.inner.live.lock().expect("live lock").remove(&job.id);
    }
    match png {
        Some(png) => Ok(file(png.into(), "image/png", None)),
        None => Err(ApiError::NotFound(format!("{} jobs have no preview", job.kind))),
    }
}

async fn job_tasks(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let job = state.job(&id).await?;
    let tasks = state.backend().list_tasks(&job.id).await?;
    Ok(Json(json!({ "tasks": tasks })))
}

async fn job_tile(
    State(state): State<AppState>,
    Path((id, index)): Path<(String, u32)>,
) -> Result<Response, ApiError> {
    let job = state.job(&id).await?;
    let task = state
        .backend()
        .get_task(&TaskKey { job_id: job.id.clone(), index })
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("job {id} has no task {index}")))?;
    let data = state
        .backend()
        .get_blob(&blob_key::task_result(&job.id, index))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("task {index} of job {id} has no result yet")))?;
    let kind = state.inner.registry.get(&job.kind)?.clone();
    let payload = task.payload.clone();
    let png = tokio::task::spawn_blocking(move || kind.tile_png(&job, &payload, &data))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    match png {
        Some(png) => Ok(file(png.into(), "image/png", None)),
        None => Err(ApiError::NotFound("this job kind has no tiles".into())),
    }
}

async fn workers(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let workers = state.backend().workers(now_ms()).await?;
    Ok(Json(json!({ "workers": workers })))
}

async fn queue(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    Ok(Json(json!({ "queue_depth": state.backend().queue_depth().await? })))
}

async fn job_counts(state: &AppState) -> Result<serde_json::Map<String, Value>, ApiError> {
    let counts = state.backend().job_counts().await?;
    let mut out = serde_json::Map::new();
    for s in [JobStatus::Queued, JobStatus::Running, JobStatus::Done, JobStatus::Error, JobStatus::Cancelled]
    {
        let n: u64 = counts.iter().filter(|(st, _)| *st == s).map(|(_, n)| n).sum();
        out.insert(s.as_str().into(), json!(n));
    }
    Ok(out)
}

async fn status(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let workers = state.backend().workers(now_ms()).await?;
    Ok(Json(json!({
        "version": env!("CARGO_PKG_VERSION"),
        "workers": workers.len(),
        "queue_depth": state.backend().queue_depth().await?,
        "jobs": job_counts(&state).await?,
        "kinds": state.inner.registry.names(),
        "limits": state.config().limits,
    })))
}

async fn default_scene() -> Response {
    // Serialised straight from the f32 fields: going through `serde_json::Value` would widen
    // 2.2f32 to 2.200000047683716.
    let body =
        serde_json::to_string(&tessera_types::scene::Scene::default_scene()).expect("scene serialises");
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], include_str!("../openapi.json")).into_response()
}

async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    use std::fmt::Write;
    let workers = state.backend().workers(now_ms()).await?;
    let mut out = String::new();
    let _ = writeln!(out, "# HELP tessera_workers Workers with a live heartbeat.\n# TYPE tessera_workers gauge\ntessera_workers {}", workers.len());
    let _ = writeln!(out, "# HELP tessera_queue_depth Tasks waiting for a worker.\n# TYPE tessera_queue_depth gauge\ntessera_queue_depth {}", state.backend().queue_depth().await?);
    let _ = writeln!(out, "# HELP tessera_jobs Jobs by state.\n# TYPE tessera_jobs gauge");
    for (s, n) in job_counts(&state).await? {
        let _ = writeln!(out, "tessera_jobs{{status=\"{s}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP tessera_worker_tasks_done Tasks a worker finished.\n# TYPE tessera_worker_tasks_done counter"
    );
    for w in &workers {
        let _ = writeln!(out, "tessera_worker_tasks_done{{worker=\"{}\"}} {}", w.id, w.tasks_done);
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}

fn upgrade(state: AppState, ws: WebSocketUpgrade) -> Response {
    let max = state.config().limits.max_ws_frame_bytes;
    ws.max_message_size(max).max_frame_size(max).on_upgrade(move |socket| ws::serve(socket, state))
}

async fn ws_upgrade(State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    upgrade(state, ws)
}

/// `/` is the web app, or the WebSocket when the request is an upgrade (seed 000's client
/// connects to `ws://127.0.0.1:8765` with no path).
async fn root(State(state): State<AppState>, req: Request) -> Response {
    let (mut parts, _body) = req.into_parts();
    match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(ws) => upgrade(state, ws),
        Err(_) => web::asset("index.html"),
    }
}
