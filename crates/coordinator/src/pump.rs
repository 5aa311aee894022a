//! The job pump: turns backend events into server messages, feeds accepted tiles to the
//! assemblers, finishes jobs whose tasks are all done, and reclaims lost leases. A periodic
//! sweep re-derives everything from the backend, so a missed event or a restart costs at most
//! one sweep interval.

use crate::state::{now_ms, AppState};
use std::time::Duration;
use tessera_backend::JobOutcome;
use tessera_types::job::blob_key;
use tessera_types::ws::ServerMsg;
use tessera_types::{Event, JobId, JobRecord, JobStatus, OutputMeta};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How often leases are reclaimed and unfinished jobs re-checked.
const SWEEP_EVERY: Duration = Duration::from_millis(1000);

/// Runs until `shutdown`.
pub(crate) async fn run(state: AppState, shutdown: CancellationToken) {
    let mut events = state.backend().subscribe();
    sweep(&state).await; // a restarted coordinator finishes what it can at once
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => sweep(&state).await,
            ev = events.recv() => match ev {
                Ok(ev) => on_event(&state, ev).await,
                Err(RecvError::Lagged(n)) => {
                    warn!(missed = n, "event stream lagged; re-reading state");
                    sweep(&state).await;
                }
                Err(RecvError::Closed) => return,
            },
        }
    }
}

async fn on_event(state: &AppState, ev: Event) {
    match ev {
        Event::Job { job_id, kind, status, error } => {
            state.broadcast(ServerMsg::Job { job_id: job_id.clone(), kind, status, error });
            if status.is_final() {
                state.inner.live.lock().expect("live lock").remove(&job_id);
            }
            if status == JobStatus::Done {
                if let Ok(Some(job)) = state.backend().get_job(&job_id).await {
                    if let Some(msg) = result_msg(state, &job, true).await {
                        state.broadcast(msg);
                    }
                }
            }
        }
        Event::TaskDone { job_id, index, done, total } => {
            if let Err(e) = on_task_done(state, &job_id, index, done, total).await {
                warn!(job_id = %job_id, task = index, error = %e, "could not assemble tile");
            }
        }
        Event::TaskFailed { job_id, index, error } => {
            task_note(state, job_id, format!("task {index} failed: {error}")).await;
        }
        Event::TaskRequeued { job_id, index, reason } => {
            task_note(state, job_id, format!("task {index} requeued: {reason}")).await;
        }
        _ => {}
    }
}

async fn on_task_done(
    state: &AppState,
    job_id: &JobId,
    index: u32,
    done: u32,
    total: u32,
) -> Result<(), crate::error::ApiError> {
    let Some(job) = state.backend().get_job(job_id).await? else { return Ok(()) };
    if matches!(job.status, JobStatus::Cancelled | JobStatus::Error) {
        return Ok(());
    }
    let kind = state.inner.registry.get(&job.kind)?.clone();
    let payload = if job.status.is_final() {
        // The sweep finished the job before this event arrived; clients still get the tile.
        let key = tessera_types::TaskKey { job_id: job_id.clone(), index };
        state.backend().get_task(&key).await?.map(|t| t.payload).unwrap_or_default()
    } else {
        let live = state.live_job(&job).await?;
        let data = state.backend().get_blob(&blob_key::task_result(job_id, index)).await?;
        let mut l = live.lock().expect("live job lock");
        let payload = l.payloads.get(index as usize).cloned().unwrap_or_default();
        // A freshly rebuilt assembler already holds this tile; adding twice is wasted work.
        if let Some(data) = data.filter(|_| !l.added.contains(&index)) {
            l.assembler.add(index, &payload, &data)?;
            l.added.insert(index);
        }
        payload
    };
    if let (Some(rect), Some((width, height))) = (kind.tile_rect(&payload), kind.dimensions(&job)) {
        state.broadcast(ServerMsg::Tile {
            job_id: job_id.clone(),
            index,
            rect,
            width,
            height,
            url: format!("/api/jobs/{job_id}/tiles/{index}"),
        });
    }
    state.broadcast(progress_msg(job_id, done, total));
    if done >= total && !job.status.is_final() {
        finish(state, &job).await;
    }
    Ok(())
}

/// Tells subscribers about a task's setback as a progress message with the job's real counts,
/// so a client's progress bar never jumps.
async fn task_note(state: &AppState, job_id: JobId, message: String) {
    if let Ok(Some(job)) = state.backend().get_job(&job_id).await {
        state.broadcast(progress(&job_id, job.tasks_done, job.tasks_total, message));
    }
}

/// The progress message for `done` of `total` tasks.
pub(crate) fn progress_msg(job_id: &JobId, done: u32, total: u32) -> ServerMsg {
    progress(job_id, done, total, format!("{done}/{total} tasks"))
}

fn progress(job_id: &JobId, done: u32, total: u32, message: String) -> ServerMsg {
    let percent = if total == 0 { 100.0 } else { done as f64 * 100.0 / total as f64 };
    ServerMsg::Progress { job_id: job_id.clone(), percent, message, done, total }
}

/// The `result` message of a done job; with `inline`, small files travel base64-encoded.
pub(crate) async fn result_msg(state: &AppState, job: &JobRecord, inline: bool) -> Option<ServerMsg> {
    use base64::Engine;
    let out = job.output.as_ref()?;
    let data_base64 = if inline && out.size <= state.config().inline_result_bytes {
        match state.backend().get_blob(&blob_key::job_output(&job.id)).await {
            Ok(Some(b)) => Some(base64::engine::general_purpose::STANDARD.encode(&b)),
            _ => None,
        }
    } else {
        None
    };
    Some(ServerMsg::Result {
        job_id: job.id.clone(),
        filename: out.filename.clone(),
        mime: out.mime.clone(),
        url: format!("/api/jobs/{}/result", job.id),
        data_base64,
    })
}

/// Assembles and stores a job's output once all its tasks are done. Guarded so the event
/// path and the sweep never assemble the same job at once; `finish_job` is idempotent for the
/// case of two coordinators.
async fn finish(state: &AppState, job: &JobRecord) {
    if !state.inner.finishing.lock().expect("finishing lock").insert(job.id.clone()) {
        return;
    }
    let outcome = assemble(state, job).await;
    let outcome = match outcome {
        Ok(meta) => JobOutcome::Done(meta),
        Err(e) => {
            warn!(job_id = %job.id, error = %e, "assembly failed");
            JobOutcome::Error(format!("assembly failed: {e}"))
        }
    };
    match state.backend().finish_job(&job.id, outcome, now_ms()).await {
        Ok(_) => info!(job_id = %job.id, "job finished"),
        Err(e) => warn!(job_id = %job.id, error = %e, "could not record the job's outcome; will retry"),
    }
    state.inner.live.lock().expect("live lock").remove(&job.id);
    state.inner.finishing.lock().expect("finishing lock").remove(&job.id);
}

async fn assemble(state: &AppState, job: &JobRecord) -> Result<OutputMeta, crate::error::ApiError> {
    let live = state.live_job(job).await?;
    let output = tokio::task::spawn_blocking(move || live.lock().expect("live job lock").assembler.finish())
        .await
        .map_err(|e| crate::error::ApiError::Internal(e.to_string()))??;
    let meta = OutputMeta { filename: output.filename, mime: output.mime, size: output.bytes.len() as u64 };
    state.backend().put_blob(&blob_key::job_output(&job.id), output.bytes.into()).await?;
    Ok(meta)
}

/// Reclaims lost leases and finishes jobs whose every task is done.
async fn sweep(state: &AppState) {
    if let Err(e) = state.backend().reclaim(now_ms()).await {
        warn!(error = %e, "reclaim failed");
    }
    match state.backend().active_jobs().await {
        Ok(jobs) => {
            for job in jobs.into_iter().filter(|j| j.tasks_done >= j.tasks_total) {
                finish(state, &job).await;
            }
        }
        Err(e) => warn!(error = %e, "could not list active jobs"),
    }
}
