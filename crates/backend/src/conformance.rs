//! The conformance suite: one body of tests that every [`Backend`] must pass, so the SQLite
//! and Redis backends keep the same semantics (DESIGN 3, 7).
//!
//! Each case is a public async function taking a fresh backend; the
//! [`backend_conformance_tests!`](crate::backend_conformance_tests) macro expands to one
//! `#[tokio::test]` per case. Time is passed as `now`, so no case sleeps; cases read the
//! backend's [`Timing`] and need `lease_ms > heartbeat_ttl_ms` (as in production).
//!
//! ```ignore
//! tessera_backend::backend_conformance_tests!(|| async {
//!     let dir = tempfile::tempdir().unwrap();
//!     let backend = MyBackend::open(dir.path(), timing).unwrap();
//!     (backend, dir) // the second value is kept alive until the test ends
//! });
//! ```

use crate::{
    Backend, BackendError, Completion, Failure, JobOutcome, NewJob, Timing, MAX_ATTEMPTS,
    MAX_WORKER_FAILURES_PER_JOB,
};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Duration;
use tessera_types::job::blob_key;
use tessera_types::{
    Event, JobId, JobRecord, JobStatus, Lease, Millis, OutputMeta, TaskKey, TaskSpec, TaskStatus, WorkerId,
    WorkerInfo,
};
use tokio::sync::broadcast;

/// Expands to one `#[tokio::test]` per conformance case. `$make` is a closure returning a
/// future of `(backend, guard)`: a fresh backend and anything that must outlive the test
/// (a temp dir, a server process); use `()` when there is nothing to keep.
#[macro_export]
macro_rules! backend_conformance_tests {
    ($make:expr) => {
        $crate::backend_conformance_tests!(@cases $make;
            create_get_list_job,
            create_duplicate_is_conflict,
            active_jobs_oldest_first,
            lease_order_priority_age_index,
            lease_increments_attempt_and_starts_job,
            lease_empty_queue_is_none,
            concurrent_leases_are_distinct,
            renew_extends_current_lease_only,
            complete_then_duplicate_is_stale,
            late_result_from_reclaimed_attempt_is_stale,
            fail_requeues_then_job_errors,
            stale_or_foreign_lease_cannot_fail,
            worker_with_max_failures_skips_job,
            kinds_filter,
            reclaim_expired_leases,
            heartbeat_workers_offline_reclaims_at_once,
            remove_worker_releases_leases,
            release_task_counts_no_failure,
            cancel_job_stops_everything,
            job_failure_fences_other_leases,
            finish_job_is_idempotent,
            missing_job_operations,
            blobs_roundtrip,
            queue_depth_counts_waiting_tasks,
            job_counts_by_status,
            events_in_order_for_one_job,
        );
    };
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $case() {
                let (backend, _guard) = ($make)().await;
                $crate::conformance::$case(::std::sync::Arc::new(backend)).await;
            }
        )*
    };
}

/// A base time far from zero, so `now - ttl` never underflows.
pub const T0: Millis = 1_700_000_000_000;

/// How long a case waits for an event that should arrive (Redis delivers asynchronously).
const EVENT_WAIT: Duration = Duration::from_secs(5);

/// A job record as a coordinator would create it: queued, `tasks` tasks, created at `created`.
pub fn job_record(kind: &str, priority: i32, created: Millis, tasks: u32) -> JobRecord {
    JobRecord {
        id: JobId::new(),
        kind: kind.to_string(),
        name: Some(format!("{kind} job")),
        priority,
        status: JobStatus::Queued,
        error: None,
        created_ms: created,
        updated_ms: created,
        tasks_total: tasks,
        tasks_done: 0,
        doc: serde_json::json!({ "kind": kind, "priority": priority }),
        output: None,
    }
}

/// A [`NewJob`] with payloads `{"tile": i}` and no inputs.
pub fn new_job(kind: &str, priority: i32, created: Millis, tasks: u32) -> NewJob {
    NewJob {
        record: job_record(kind, priority, created, tasks),
        tasks: (0..tasks).map(|i| TaskSpec { index: i, payload: serde_json::json!({ "tile": i }) }).collect(),
        inputs: Vec::new(),
    }
}

/// Creates a render job and returns its id.
async fn make_job<B: Backend>(b: &B, priority: i32, created: Millis, tasks: u32) -> JobId {
    let job = new_job("render", priority, created, tasks);
    let id = job.record.id.clone();
    b.create_job(job).await.expect("create_job");
    id
}

/// A worker id for tests.
pub fn worker(name: &str) -> WorkerId {
    WorkerId(format!("{name}-test"))
}

/// The kinds every test worker runs.
fn render() -> Vec<String> {
    vec!["render".to_string()]
}

/// Leases with the default kinds, expecting a task.
async fn lease<B: Backend>(b: &B, w: &WorkerId, now: Millis) -> Lease {
    b.lease_task(w, &render(), now).await.expect("lease_task").expect("a task to lease")
}

/// The job, which must exist.
async fn job<B: Backend>(b: &B, id: &JobId) -> JobRecord {
    b.get_job(id).await.expect("get_job").expect("job exists")
}

/// One task record, which must exist.
async fn task<B: Backend>(b: &B, key: &TaskKey) -> tessera_types::TaskRecord {
    let tasks = b.list_tasks(&key.job_id).await.expect("list_tasks");
    tasks.into_iter().find(|t| &t.key == key).expect("task exists")
}

/// Heartbeat info for a worker.
fn info(id: &WorkerId) -> WorkerInfo {
    WorkerInfo {
        id: id.clone(),
        hostname: "test-host".into(),
        threads: 4,
        kinds: render(),
        version: "test".into(),
        ..WorkerInfo::default()
    }
}

fn meta() -> OutputMeta {
    OutputMeta { filename: "out.png".into(), mime: "image/png".into(), size: 3 }
}

/// The next event that concerns `job` (other jobs' and worker events are skipped).
async fn next_job_event(rx: &mut broadcast::Receiver<Event>, job: &JobId) -> Event {
    loop {
        let ev = tokio::time::timeout(EVENT_WAIT, rx.recv())
            .await
            .expect("an event within the wait")
            .expect("event channel open");
        if ev.job_id() == Some(job) {
            return ev;
        }
    }
}

/// The next `Worker` event for worker `w`.
async fn next_worker_event(rx: &mut broadcast::Receiver<Event>, w: &WorkerId) -> Event {
    loop {
        let ev = tokio::time::timeout(EVENT_WAIT, rx.recv())
            .await
            .expect("an event within the wait")
            .expect("event channel open");
        if matches!(&ev, Event::Worker { worker, .. } if worker == w) {
            return ev;
        }
    }
}

/// Events already delivered, without waiting (for "no event" checks after a barrier event).
fn drain(rx: &mut broadcast::Receiver<Event>) -> Vec<Event> {
    let mut out = Vec::new();
    while let Ok(ev) = rx.try_recv() {
        out.push(ev);
    }
    out
}

fn timing<B: Backend>(b: &B) -> Timing {
    let t = b.timing();
    assert!(t.lease_ms > t.heartbeat_ttl_ms, "conformance needs lease_ms > heartbeat_ttl_ms");
    t
}

/// create_job stores the record, tasks and inputs; get/list read them back.
pub async fn create_get_list_job<B: Backend>(b: Arc<B>) {
    let mut first = new_job("render", 0, T0, 3);
    first.inputs.push(("scene.json".into(), Bytes::from_static(b"{\"scene\":1}")));
    let first_id = first.record.id.clone();
    let expected = first.record.clone();
    b.create_job(first).await.unwrap();
    let second = make_job(&*b, 0, T0 + 1, 2).await;

    assert_eq!(job(&*b, &first_id).await, expected);
    assert_eq!(b.get_job(&JobId::new()).await.unwrap(), None);

    let tasks = b.list_tasks(&first_id).await.unwrap();
    assert_eq!(tasks.len(), 3);
    for (i, t) in tasks.iter().enumerate() {
        assert_eq!(t.key, TaskKey { job_id: first_id.clone(), index: i as u32 });
        assert_eq!((t.status, t.attempt, t.failures), (TaskStatus::Queued, 0, 0));
        assert_eq!((t.worker.clone(), t.lease_expires_ms, t.error.clone()), (None, None, None));
        assert_eq!(t.payload, serde_json::json!({ "tile": i }));
        assert_eq!(b.get_task(&t.key).await.unwrap().as_ref(), Some(t));
    }
    let missing =
        [TaskKey { job_id: first_id.clone(), index: 3 }, TaskKey { job_id: JobId::new(), index: 0 }];
    for key in missing {
        assert_eq!(b.get_task(&key).await.unwrap(), None, "{key}");
    }
    let input = b.get_blob(&blob_key::job_input(&first_id, "scene.json")).await.unwrap();
    assert_eq!(input.as_deref(), Some(&b"{\"scene\":1}"[..]));

    let all = b.list_jobs(10).await.unwrap();
    assert_eq!(all.iter().map(|j| j.id.clone()).collect::<Vec<_>>(), vec![second.clone(), first_id]);
    let one = b.list_jobs(1).await.unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].id, second);
}

/// Creating a job id twice is a conflict and leaves the first job as it was.
pub async fn create_duplicate_is_conflict<B: Backend>(b: Arc<B>) {
    let job1 = new_job("render", 0, T0, 2);
    let mut again = job1.clone();
    again.record.kind = "zip".into();
    again.tasks.truncate(1);
    b.create_job(job1.clone()).await.unwrap();
    assert!(matches!(b.create_job(again).await, Err(BackendError::Conflict(_))));
    assert_eq!(job(&*b, &job1.record.id).await, job1.record);
    assert_eq!(b.list_tasks(&job1.record.id).await.unwrap().len(), 2);
}

/// active_jobs lists queued and running jobs, oldest first.
pub async fn active_jobs_oldest_first<B: Backend>(b: Arc<B>) {
    let w = worker("a");
    let running = make_job(&*b, 0, T0, 1).await;
    lease(&*b, &w, T0 + 10).await;
    let queued = make_job(&*b, 0, T0 + 1, 1).await;
    let cancelled = make_job(&*b, 0, T0 + 2, 1).await;
    b.cancel_job(&cancelled, T0 + 3).await.unwrap();
    let errored = make_job(&*b, 0, T0 + 4, 1).await;
    b.finish_job(&errored, JobOutcome::Error("assembly failed".into()), T0 + 5).await.unwrap();
    let newest = make_job(&*b, 9, T0 + 6, 1).await;
    let active: Vec<_> = b.active_jobs().await.unwrap().into_iter().map(|j| (j.id, j.status)).collect();
    assert_eq!(
        active,
        vec![(running, JobStatus::Running), (queued, JobStatus::Queued), (newest, JobStatus::Queued)]
    );
}

/// Leasing takes the highest priority job first, then the oldest, then the lowest index.
pub async fn lease_order_priority_age_index<B: Backend>(b: Arc<B>) {
    let w = worker("a");
    let old = make_job(&*b, 0, T0, 2).await;
    let urgent = make_job(&*b, 5, T0 + 1, 2).await;
    let young = make_job(&*b, 0, T0 + 2, 1).await;
    let mut got = Vec::new();
    for i in 0..5 {
        let l = lease(&*b, &w, T0 + 10 + i).await;
        got.push((l.key.job_id.clone(), l.key.index));
    }
    assert_eq!(got, vec![(urgent.clone(), 0), (urgent, 1), (old.clone(), 0), (old, 1), (young, 0)]);
    assert!(b.lease_task(&w, &render(), T0 + 20).await.unwrap().is_none());
}

/// A lease raises the attempt, sets holder and expiry, starts the job and publishes events.
pub async fn lease_increments_attempt_and_starts_job<B: Backend>(b: Arc<B>) {
    let t = timing(&*b);
    let mut rx = b.subscribe();
    let w = worker("a");
    let id = make_job(&*b, 0, T0, 2).await;
    assert!(matches!(next_job_event(&mut rx, &id).await, Event::Job { status: JobStatus::Queued, .. }));

    let now = T0 + 100;
    let l = lease(&*b, &w, now).await;
    assert_eq!(l.key, TaskKey { job_id: id.clone(), index: 0 });
    assert_eq!((l.attempt, l.expires_ms, l.kind.as_str()), (1, now + t.lease_ms, "render"));
    assert_eq!(l.worker, w);
    assert_eq!(l.payload, serde_json::json!({ "tile": 0 }));

    let rec = task(&*b, &l.key).await;
    assert_eq!((rec.status, rec.attempt), (TaskStatus::Leased, 1));
    assert_eq!((rec.worker, rec.lease_expires_ms), (Some(w.clone()), Some(now + t.lease_ms)));
    let j = job(&*b, &id).await;
    assert_eq!(j.status, JobStatus::Running);

    assert!(matches!(next_job_event(&mut rx, &id).await, Event::Job { status: JobStatus::Running, .. }));
    assert_eq!(
        next_job_event(&mut rx, &id).await,
        Event::TaskLeased { job_id: id.clone(), index: 0, attempt: 1, worker: w.clone() }
    );
    // The second lease of a running job announces only the task.
    lease(&*b, &w, now + 1).await;
    assert_eq!(
        next_job_event(&mut rx, &id).await,
        Event::TaskLeased { job_id: id.clone(), index: 1, attempt: 1, worker: w.clone() }
    );
}

/// No job, or every task taken: nothing to lease.
pub async fn lease_empty_queue_is_none<B: Backend>(b: Arc<B>) {
    let w = worker("a");
    assert!(b.lease_task(&w, &render(), T0).await.unwrap().is_none());
    make_job(&*b, 0, T0, 1).await;
    lease(&*b, &w, T0).await;
    assert!(b.lease_task(&w, &render(), T0).await.unwrap().is_none());
}

/// Concurrent lease calls never hand out one task twice.
pub async fn concurrent_leases_are_distinct<B: Backend>(b: Arc<B>) {
    let id = make_job(&*b, 0, T0, 5).await;
    let mut handles = Vec::new();
    for i in 0..8 {
        let b = b.clone();
        handles.push(tokio::spawn(async move {
            b.lease_task(&worker(&format!("w{i}")), &render(), T0 + 1).await.unwrap()
        }));
    }
    let mut got = Vec::new();
    for h in handles {
        if let Some(l) = h.await.unwrap() {
            got.push(l.key.index);
        }
    }
    got.sort_unstable();
    assert_eq!(got, vec![0, 1, 2, 3, 4]);
    let tasks = b.list_tasks(&id).await.unwrap();
    assert!(tasks.iter().all(|t| t.status == TaskStatus::Leased && t.attempt == 1));
}

/// renew extends only the current lease.
pub async fn renew_extends_current_lease_only<B: Backend>(b: Arc<B>) {
    let t = timing(&*b);
    let w = worker("a");
    make_job(&*b, 0, T0, 2).await;
    let l = lease(&*b, &w, T0).await;
    let later = T0 + t.lease_ms / 2;
    assert!(b.renew_lease(&l, later).await.unwrap());
    assert_eq!(task(&*b, &l.key).await.lease_expires_ms, Some(later + t.lease_ms));
    // Past the original expiry but within the renewed one, reclaim leaves it alone.
    assert!(b.reclaim(T0 + t.lease_ms).await.unwrap().is_empty());
    assert!(b.renew_lease(&l, T0 + t.lease_ms).await.unwrap());

    let mut wrong_attempt = l.clone();
    wrong_attempt.attempt += 1;
    assert!(!b.renew_lease(&wrong_attempt, later).await.unwrap());
    let mut wrong_worker = l.clone();
    wrong_worker.worker = worker("b");
    assert!(!b.renew_lease(&wrong_worker, later).await.unwrap());

    b.complete_task(&l, Bytes::from_static(b"r"), later).await.unwrap();
    assert!(!b.renew_lease(&l, later + 1).await.unwrap());
}

/// A result is accepted once; a duplicate is stale and does not overwrite it.
pub async fn complete_then_duplicate_is_stale<B: Backend>(b: Arc<B>) {
    let w = worker("a");
    let id = make_job(&*b, 0, T0, 2).await;
    let l = lease(&*b, &w, T0).await;
    let first = b.complete_task(&l, Bytes::from_static(b"first"), T0 + 1).await.unwrap();
    assert_eq!(first, Completion::Accepted { done: 1, total: 2 });
    let dup = b.complete_task(&l, Bytes::from_static(b"second"), T0 + 2).await.unwrap();
    assert_eq!(dup, Completion::Stale);

    let key = blob_key::task_result(&id, 0);
    assert_eq!(b.get_blob(&key).await.unwrap().as_deref(), Some(&b"first"[..]));
    let rec = task(&*b, &l.key).await;
    assert_eq!((rec.status, rec.worker, rec.lease_expires_ms), (TaskStatus::Done, None, None));
    let j = job(&*b, &id).await;
    assert_eq!((j.tasks_done, j.tasks_total, j.status), (1, 2, JobStatus::Running));
    assert_eq!(b.fail_task(&l, "late", T0 + 3).await.unwrap(), Failure::Stale);
}

/// A result from an attempt whose lease expired and was reclaimed is dropped; the new
/// attempt's result is accepted.
pub async fn late_result_from_reclaimed_attempt_is_stale<B: Backend>(b: Arc<B>) {
    let t = timing(&*b);
    let id = make_job(&*b, 0, T0, 1).await;
    let old = lease(&*b, &worker("slow"), T0).await;
    let expired_at = T0 + t.lease_ms;
    assert_eq!(b.reclaim(expired_at).await.unwrap(), vec![old.key.clone()]);
    let requeued = task(&*b, &old.key).await;
    assert_eq!((requeued.status, requeued.attempt), (TaskStatus::Queued, 1));

    let new = lease(&*b, &worker("fast"), expired_at + 1).await;
    assert_eq!(new.attempt, 2);
    assert!(!b.renew_lease(&old, expired_at + 2).await.unwrap());
    assert_eq!(
        b.complete_task(&old, Bytes::from_static(b"old"), expired_at + 3).await.unwrap(),
        Completion::Stale
    );
    assert_eq!(b.fail_task(&old, "old", expired_at + 3).await.unwrap(), Failure::Stale);
    assert_eq!(
        b.complete_task(&new, Bytes::from_static(b"new"), expired_at + 4).await.unwrap(),
        Completion::Accepted { done: 1, total: 1 }
    );
    let key = blob_key::task_result(&id, 0);
    assert_eq!(b.get_blob(&key).await.unwrap().as_deref(), Some(&b"new"[..]));
    assert_eq!(task(&*b, &new.key).await.failures, 0, "an expired lease is no failure");
}

/// A failed attempt is requeued; the last allowed failure fails the task and errors the job.
pub async fn fail_requeues_then_job_errors<B: Backend>(b: Arc<B>) {
    let mut rx = b.subscribe();
    let id = make_job(&*b, 0, T0, 1).await;
    for n in 1..=MAX_ATTEMPTS {
        let now = T0 + n as u64 * 10;
        let l = lease(&*b, &worker(&format!("w{n}")), now).await;
        assert_eq!(l.attempt, n);
        let out = b.fail_task(&l, &format!("boom {n}"), now + 1).await.unwrap();
        let rec = task(&*b, &l.key).await;
        assert_eq!((rec.failures, rec.error.clone()), (n, Some(format!("boom {n}"))));
        if n < MAX_ATTEMPTS {
            assert_eq!(out, Failure::Requeued);
            assert_eq!((rec.status, rec.worker), (TaskStatus::Queued, None));
        } else {
            assert_eq!(out, Failure::JobFailed);
            assert_eq!(rec.status, TaskStatus::Failed);
        }
    }
    let j = job(&*b, &id).await;
    assert_eq!((j.status, j.error.as_deref()), (JobStatus::Error, Some("boom 3")));
    assert!(b.lease_task(&worker("w9"), &render(), T0 + 100).await.unwrap().is_none());
    assert_eq!(b.queue_depth().await.unwrap(), 0);

    let mut seen = Vec::new();
    loop {
        let ev = next_job_event(&mut rx, &id).await;
        let last = matches!(ev, Event::Job { status: JobStatus::Error, .. });
        seen.push(ev);
        if last {
            break;
        }
    }
    let requeued = seen.iter().filter(|e| matches!(e, Event::TaskRequeued { .. })).count();
    assert_eq!(requeued, MAX_ATTEMPTS as usize - 1);
    let n = seen.len();
    assert_eq!(seen[n - 2], Event::TaskFailed { job_id: id.clone(), index: 0, error: "boom 3".into() });
    assert_eq!(
        seen[n - 1],
        Event::Job {
            job_id: id,
            kind: "render".into(),
            status: JobStatus::Error,
            error: Some("boom 3".into())
        }
    );
}

/// Only the holder's current lease can fail a task.
pub async fn stale_or_foreign_lease_cannot_fail<B: Backend>(b: Arc<B>) {
    make_job(&*b, 0, T0, 1).await;
    let l = lease(&*b, &worker("a"), T0).await;
    let mut foreign = l.clone();
    foreign.worker = worker("b");
    assert_eq!(b.fail_task(&foreign, "x", T0 + 1).await.unwrap(), Failure::Stale);
    let mut old = l.clone();
    old.attempt = 0;
    assert_eq!(b.fail_task(&old, "x", T0 + 1).await.unwrap(), Failure::Stale);
    let rec = task(&*b, &l.key).await;
    assert_eq!((rec.status, rec.failures), (TaskStatus::Leased, 0));
}

/// A worker that failed MAX_WORKER_FAILURES_PER_JOB tasks of a job gets no more of them,
/// but still gets other jobs' tasks; other workers still get the job's tasks.
pub async fn worker_with_max_failures_skips_job<B: Backend>(b: Arc<B>) {
    let bad = worker("bad");
    let flaky = make_job(&*b, 5, T0, 5).await;
    let other = make_job(&*b, 0, T0 + 1, 1).await;
    // Hold several tasks at once, so each failure is a different task's first.
    let mut held = Vec::new();
    for n in 0..MAX_WORKER_FAILURES_PER_JOB {
        let l = lease(&*b, &bad, T0 + 10 + n as u64).await;
        assert_eq!(l.key.job_id, flaky);
        held.push(l);
    }
    for l in held {
        assert_eq!(b.fail_task(&l, "bad machine", T0 + 15).await.unwrap(), Failure::Requeued);
    }
    let l = lease(&*b, &bad, T0 + 20).await;
    assert_eq!(l.key.job_id, other, "the failing worker is steered away from the job");
    assert!(b.lease_task(&bad, &render(), T0 + 21).await.unwrap().is_none());
    let good = lease(&*b, &worker("good"), T0 + 22).await;
    assert_eq!(good.key.job_id, flaky);
}

/// Workers get only tasks of the kinds they run; no kinds, no tasks.
pub async fn kinds_filter<B: Backend>(b: Arc<B>) {
    let w = worker("a");
    let id = make_job(&*b, 0, T0, 1).await;
    assert!(b.lease_task(&w, &["zip".to_string()], T0).await.unwrap().is_none());
    assert!(b.lease_task(&w, &[], T0).await.unwrap().is_none());
    let kinds = vec!["zip".to_string(), "render".to_string()];
    let l = b.lease_task(&w, &kinds, T0).await.unwrap().expect("a render task");
    assert_eq!((l.key.job_id, l.kind.as_str()), (id, "render"));
}

/// reclaim requeues exactly the expired leases, keeping the attempt for the next lease to
/// raise, and publishes `TaskRequeued`.
pub async fn reclaim_expired_leases<B: Backend>(b: Arc<B>) {
    let t = timing(&*b);
    let mut rx = b.subscribe();
    let id = make_job(&*b, 0, T0, 3).await;
    let first = lease(&*b, &worker("a"), T0).await;
    let second = lease(&*b, &worker("b"), T0 + 10).await;
    assert!(b.reclaim(T0 + t.lease_ms - 1).await.unwrap().is_empty());
    assert_eq!(b.reclaim(T0 + t.lease_ms).await.unwrap(), vec![first.key.clone()]);
    let rec = task(&*b, &first.key).await;
    assert_eq!((rec.status, rec.attempt, rec.failures), (TaskStatus::Queued, 1, 0));
    assert_eq!((rec.worker, rec.lease_expires_ms), (None, None));
    assert_eq!(task(&*b, &second.key).await.status, TaskStatus::Leased);
    // Reclaiming again finds nothing new.
    assert!(b.reclaim(T0 + t.lease_ms).await.unwrap().is_empty());
    assert_eq!(b.queue_depth().await.unwrap(), 2);

    let again = lease(&*b, &worker("c"), T0 + t.lease_ms + 1).await;
    assert_eq!((again.key.index, again.attempt), (0, 2));

    loop {
        if let Event::TaskRequeued { job_id, index, .. } = next_job_event(&mut rx, &id).await {
            assert_eq!((job_id, index), (id.clone(), 0));
            break;
        }
    }
}

/// Heartbeats register workers; a silent worker drops out of `workers()` after the TTL and
/// `reclaim()` requeues its leases at once, before they expire.
pub async fn heartbeat_workers_offline_reclaims_at_once<B: Backend>(b: Arc<B>) {
    let t = timing(&*b);
    let mut rx = b.subscribe();
    let w = worker("a");
    let quiet = worker("no-heartbeat");
    b.heartbeat(&info(&w), T0).await.unwrap();
    assert_eq!(
        next_worker_event(&mut rx, &w).await,
        Event::Worker { worker: w.clone(), change: "joined".into(), reason: None }
    );
    let seen = b.workers(T0 + 1).await.unwrap();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].id.clone(), seen[0].hostname.as_str(), seen[0].threads), (w.clone(), "test-host", 4));
    assert_eq!(seen[0].last_seen_ms, T0);

    // A second heartbeat refreshes the record without a second `joined`.
    b.heartbeat(&info(&w), T0 + 1_000).await.unwrap();
    let id = make_job(&*b, 0, T0, 3).await;
    let l = lease(&*b, &w, T0 + 1_000).await;
    let kept = lease(&*b, &quiet, T0 + 1_000).await;
    assert!(b.workers(T0 + 1_000 + t.heartbeat_ttl_ms - 1).await.unwrap().iter().any(|i| i.id == w));
    assert!(b.reclaim(T0 + 1_000 + t.heartbeat_ttl_ms - 1).await.unwrap().is_empty());

    let gone = T0 + 1_000 + t.heartbeat_ttl_ms;
    assert!(gone < l.expires_ms, "the lease has not expired yet");
    assert!(b.workers(gone).await.unwrap().is_empty());
    assert_eq!(b.reclaim(gone).await.unwrap(), vec![l.key.clone()]);
    assert_eq!(task(&*b, &l.key).await.status, TaskStatus::Queued);
    // A worker that never sent a heartbeat is judged by its lease alone.
    assert_eq!(task(&*b, &kept.key).await.status, TaskStatus::Leased);
    assert_eq!(
        next_worker_event(&mut rx, &w).await,
        Event::Worker { worker: w.clone(), change: "left".into(), reason: Some("lost".into()) }
    );
    assert!(drain(&mut rx).iter().all(|e| !matches!(e, Event::Worker { .. })));
    assert_eq!(b.complete_task(&l, Bytes::from_static(b"x"), gone + 1).await.unwrap(), Completion::Stale);

    // Coming back is joining again.
    b.heartbeat(&info(&w), gone + 10).await.unwrap();
    assert_eq!(
        next_worker_event(&mut rx, &w).await,
        Event::Worker { worker: w.clone(), change: "joined".into(), reason: None }
    );
    assert_eq!(b.workers(gone + 10).await.unwrap().len(), 1);
    let _ = id;
}

/// A worker leaving on purpose hands its leases back at once, without failures.
pub async fn remove_worker_releases_leases<B: Backend>(b: Arc<B>) {
    let mut rx = b.subscribe();
    let w = worker("a");
    b.heartbeat(&info(&w), T0).await.unwrap();
    make_job(&*b, 0, T0, 2).await;
    let l = lease(&*b, &w, T0 + 1).await;
    let other = lease(&*b, &worker("b"), T0 + 1).await;
    b.remove_worker(&w, "shutdown", T0 + 2).await.unwrap();

    let rec = task(&*b, &l.key).await;
    assert_eq!((rec.status, rec.failures, rec.worker), (TaskStatus::Queued, 0, None));
    assert_eq!(task(&*b, &other.key).await.status, TaskStatus::Leased);
    assert!(b.workers(T0 + 2).await.unwrap().is_empty());
    assert_eq!(b.complete_task(&l, Bytes::from_static(b"x"), T0 + 3).await.unwrap(), Completion::Stale);
    assert!(
        matches!(next_worker_event(&mut rx, &w).await, Event::Worker { ref change, .. } if change == "joined")
    );
    assert_eq!(
        next_worker_event(&mut rx, &w).await,
        Event::Worker { worker: w.clone(), change: "left".into(), reason: Some("shutdown".into()) }
    );
    let again = lease(&*b, &worker("c"), T0 + 4).await;
    assert_eq!((again.key.clone(), again.attempt), (l.key, 2));
}

/// release_task requeues without counting a failure; a stale release changes nothing.
pub async fn release_task_counts_no_failure<B: Backend>(b: Arc<B>) {
    let w = worker("a");
    make_job(&*b, 0, T0, 1).await;
    for attempt in 1..=MAX_ATTEMPTS + 1 {
        let l = lease(&*b, &w, T0 + attempt as u64).await;
        assert_eq!(l.attempt, attempt);
        b.release_task(&l, T0 + attempt as u64).await.unwrap();
        let rec = task(&*b, &l.key).await;
        assert_eq!((rec.status, rec.failures, rec.worker), (TaskStatus::Queued, 0, None));
        // Releasing twice, or after someone else leased it, is harmless.
        b.release_task(&l, T0 + attempt as u64).await.unwrap();
    }
    let l = lease(&*b, &worker("b"), T0 + 100).await;
    let mut old = l.clone();
    old.attempt -= 1;
    b.release_task(&old, T0 + 101).await.unwrap();
    assert_eq!(task(&*b, &l.key).await.status, TaskStatus::Leased);
}

/// Cancelling: queued tasks are never leased, leases stop renewing and results are dropped.
pub async fn cancel_job_stops_everything<B: Backend>(b: Arc<B>) {
    let mut rx = b.subscribe();
    let w = worker("a");
    let id = make_job(&*b, 0, T0, 3).await;
    let l = lease(&*b, &w, T0).await;
    assert!(b.cancel_job(&id, T0 + 5).await.unwrap());
    let j = job(&*b, &id).await;
    assert_eq!((j.status, j.updated_ms), (JobStatus::Cancelled, T0 + 5));
    assert!(b.lease_task(&w, &render(), T0 + 6).await.unwrap().is_none());
    assert_eq!(b.queue_depth().await.unwrap(), 0);
    assert!(!b.renew_lease(&l, T0 + 6).await.unwrap());
    assert_eq!(b.complete_task(&l, Bytes::from_static(b"x"), T0 + 7).await.unwrap(), Completion::Stale);
    assert_eq!(b.fail_task(&l, "x", T0 + 7).await.unwrap(), Failure::Stale);
    assert_eq!(b.get_blob(&blob_key::task_result(&id, 0)).await.unwrap(), None);
    assert!(!b.cancel_job(&id, T0 + 8).await.unwrap());
    assert!(!b.finish_job(&id, JobOutcome::Error("x".into()), T0 + 9).await.unwrap());
    assert!(b.active_jobs().await.unwrap().is_empty());
    assert_eq!(job(&*b, &id).await.status, JobStatus::Cancelled);
    loop {
        if let Event::Job { status, .. } = next_job_event(&mut rx, &id).await {
            if status == JobStatus::Cancelled {
                break;
            }
        }
    }
}

/// Once a job errors, the other tasks' leases are no longer current.
pub async fn job_failure_fences_other_leases<B: Backend>(b: Arc<B>) {
    let id = make_job(&*b, 0, T0, 2).await;
    let mut doomed = lease(&*b, &worker("a"), T0).await;
    let bystander = lease(&*b, &worker("b"), T0).await;
    for n in 1..MAX_ATTEMPTS {
        assert_eq!(b.fail_task(&doomed, "crash", T0 + n as u64).await.unwrap(), Failure::Requeued);
        doomed = lease(&*b, &worker("a"), T0 + n as u64).await;
    }
    assert_eq!(b.fail_task(&doomed, "crash", T0 + 9).await.unwrap(), Failure::JobFailed);
    assert!(!b.renew_lease(&bystander, T0 + 10).await.unwrap());
    assert_eq!(
        b.complete_task(&bystander, Bytes::from_static(b"x"), T0 + 10).await.unwrap(),
        Completion::Stale
    );
    assert_eq!(job(&*b, &id).await.tasks_done, 0);
}

/// finish_job sets a final outcome once; `Done` needs every task done.
pub async fn finish_job_is_idempotent<B: Backend>(b: Arc<B>) {
    let w = worker("a");
    let id = make_job(&*b, 0, T0, 1).await;
    assert!(matches!(b.finish_job(&id, JobOutcome::Done(meta()), T0).await, Err(BackendError::Conflict(_))));
    let l = lease(&*b, &w, T0).await;
    b.complete_task(&l, Bytes::from_static(b"r"), T0 + 1).await.unwrap();
    assert!(b.finish_job(&id, JobOutcome::Done(meta()), T0 + 2).await.unwrap());
    let j = job(&*b, &id).await;
    assert_eq!((j.status, j.output.clone(), j.updated_ms), (JobStatus::Done, Some(meta()), T0 + 2));
    assert!(!b.finish_job(&id, JobOutcome::Done(meta()), T0 + 3).await.unwrap());
    assert!(!b.finish_job(&id, JobOutcome::Error("late".into()), T0 + 3).await.unwrap());
    assert!(!b.cancel_job(&id, T0 + 3).await.unwrap());
    assert_eq!(job(&*b, &id).await, j);

    let other = make_job(&*b, 0, T0 + 5, 2).await;
    assert!(b.finish_job(&other, JobOutcome::Error("assembly failed".into()), T0 + 6).await.unwrap());
    let o = job(&*b, &other).await;
    assert_eq!((o.status, o.error.as_deref()), (JobStatus::Error, Some("assembly failed")));
}

/// Operations on a job that does not exist.
pub async fn missing_job_operations<B: Backend>(b: Arc<B>) {
    let ghost = JobId::new();
    assert!(matches!(b.cancel_job(&ghost, T0).await, Err(BackendError::NotFound(_))));
    assert!(matches!(
        b.finish_job(&ghost, JobOutcome::Error("x".into()), T0).await,
        Err(BackendError::NotFound(_))
    ));
    assert!(b.list_tasks(&ghost).await.unwrap().is_empty());
    let lease = Lease {
        key: TaskKey { job_id: ghost, index: 0 },
        kind: "render".into(),
        attempt: 1,
        worker: worker("a"),
        expires_ms: T0,
        payload: serde_json::Value::Null,
    };
    assert!(!b.renew_lease(&lease, T0).await.unwrap());
    assert_eq!(b.complete_task(&lease, Bytes::new(), T0).await.unwrap(), Completion::Stale);
    assert_eq!(b.fail_task(&lease, "x", T0).await.unwrap(), Failure::Stale);
    b.release_task(&lease, T0).await.unwrap();
    b.remove_worker(&worker("nobody"), "shutdown", T0).await.unwrap();
}

/// Blobs round-trip, including empty and multi-megabyte ones, and can be replaced.
pub async fn blobs_roundtrip<B: Backend>(b: Arc<B>) {
    let id = JobId::new();
    let small = blob_key::job_input(&id, "shot file (1).blend");
    let empty = blob_key::task_result(&id, 7);
    let big = blob_key::job_output(&id);
    let big_data: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|i| (i * 31 % 251) as u8).collect();

    assert_eq!(b.get_blob(&small).await.unwrap(), None);
    b.put_blob(&small, Bytes::from_static(b"hello")).await.unwrap();
    b.put_blob(&empty, Bytes::new()).await.unwrap();
    b.put_blob(&big, Bytes::from(big_data.clone())).await.unwrap();
    assert_eq!(b.get_blob(&small).await.unwrap().as_deref(), Some(&b"hello"[..]));
    assert_eq!(b.get_blob(&empty).await.unwrap().as_deref(), Some(&b""[..]));
    assert_eq!(b.get_blob(&big).await.unwrap().as_deref(), Some(&big_data[..]));
    b.put_blob(&small, Bytes::from_static(b"replaced")).await.unwrap();
    assert_eq!(b.get_blob(&small).await.unwrap().as_deref(), Some(&b"replaced"[..]));
    assert_eq!(b.get_blob(&blob_key::task_result(&id, 8)).await.unwrap(), None);
}

/// queue_depth counts queued tasks of jobs that are not final.
pub async fn queue_depth_counts_waiting_tasks<B: Backend>(b: Arc<B>) {
    assert_eq!(b.queue_depth().await.unwrap(), 0);
    let first = make_job(&*b, 0, T0, 3).await;
    let second = make_job(&*b, 0, T0 + 1, 2).await;
    assert_eq!(b.queue_depth().await.unwrap(), 5);
    let l = lease(&*b, &worker("a"), T0 + 2).await;
    assert_eq!(l.key.job_id, first);
    assert_eq!(b.queue_depth().await.unwrap(), 4);
    b.fail_task(&l, "x", T0 + 3).await.unwrap();
    assert_eq!(b.queue_depth().await.unwrap(), 5);
    b.cancel_job(&second, T0 + 4).await.unwrap();
    assert_eq!(b.queue_depth().await.unwrap(), 3);
}

/// Job counts by state follow creation, leasing, cancelling and finishing.
pub async fn job_counts_by_status<B: Backend>(b: Arc<B>) {
    let count = |counts: Vec<(JobStatus, u64)>, s: JobStatus| {
        counts.into_iter().filter(|(st, _)| *st == s).map(|(_, n)| n).sum::<u64>()
    };
    assert!(b.job_counts().await.unwrap().iter().all(|(_, n)| *n == 0));
    let a = make_job(&*b, 0, T0, 1).await;
    let c = make_job(&*b, 0, T0 + 1, 1).await;
    make_job(&*b, 0, T0 + 2, 1).await;
    assert_eq!(count(b.job_counts().await.unwrap(), JobStatus::Queued), 3);
    let l = lease(&*b, &worker("a"), T0 + 3).await;
    assert_eq!(l.key.job_id, a);
    b.complete_task(&l, Bytes::from_static(b"r"), T0 + 4).await.unwrap();
    b.finish_job(&a, JobOutcome::Done(meta()), T0 + 5).await.unwrap();
    b.cancel_job(&c, T0 + 6).await.unwrap();
    let counts = b.job_counts().await.unwrap();
    assert_eq!(
        [JobStatus::Queued, JobStatus::Running, JobStatus::Done, JobStatus::Cancelled]
            .map(|s| count(counts.clone(), s)),
        [1, 0, 1, 1]
    );
}

/// One job's events arrive in the order its changes were made.
pub async fn events_in_order_for_one_job<B: Backend>(b: Arc<B>) {
    let mut rx = b.subscribe();
    let w = worker("a");
    let id = make_job(&*b, 0, T0, 2).await;
    let l0 = lease(&*b, &w, T0 + 1).await;
    b.complete_task(&l0, Bytes::from_static(b"0"), T0 + 2).await.unwrap();
    let l1 = lease(&*b, &w, T0 + 3).await;
    b.complete_task(&l1, Bytes::from_static(b"1"), T0 + 4).await.unwrap();
    b.finish_job(&id, JobOutcome::Done(meta()), T0 + 5).await.unwrap();
    let custom = Event::TaskRequeued { job_id: id.clone(), index: 9, reason: "custom".into() };
    b.publish(custom.clone()).await.unwrap();

    let job_ev = |status| Event::Job { job_id: id.clone(), kind: "render".into(), status, error: None };
    let leased = |index| Event::TaskLeased { job_id: id.clone(), index, attempt: 1, worker: w.clone() };
    let done = |index, done| Event::TaskDone { job_id: id.clone(), index, done, total: 2 };
    let expected = vec![
        job_ev(JobStatus::Queued),
        job_ev(JobStatus::Running),
        leased(0),
        done(0, 1),
        leased(1),
        done(1, 2),
        job_ev(JobStatus::Done),
        custom,
    ];
    let mut got = Vec::new();
    for _ in 0..expected.len() {
        got.push(next_job_event(&mut rx, &id).await);
    }
    assert_eq!(got, expected);
}
