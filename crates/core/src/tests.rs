//! Unit and property tests of the transition rules, driven by a [`ManualClock`].

use super::*;
use proptest::prelude::*;
use tessera_types::{OutputMeta, TaskKey};

const T: Timing = Timing { lease_ms: 1_000, heartbeat_ttl_ms: 300 };

fn job(n: u32) -> JobRecord {
    JobRecord {
        id: JobId("0".repeat(32)),
        kind: "render".into(),
        name: None,
        priority: 0,
        status: JobStatus::Queued,
        error: None,
        created_ms: 0,
        updated_ms: 0,
        tasks_total: n,
        tasks_done: 0,
        doc: serde_json::Value::Null,
        output: None,
    }
}

fn task(job: &JobRecord, index: u32) -> TaskRecord {
    TaskRecord {
        key: TaskKey { job_id: job.id.clone(), index },
        status: TaskStatus::Queued,
        attempt: 0,
        failures: 0,
        worker: None,
        lease_expires_ms: None,
        error: None,
        payload: serde_json::json!({ "i": index }),
    }
}

fn w(name: &str) -> WorkerId {
    WorkerId(name.into())
}

fn meta() -> OutputMeta {
    OutputMeta { filename: "out.png".into(), mime: "image/png".into(), size: 1 }
}

#[test]
fn manual_clock_moves_only_when_told() {
    let c = ManualClock::new(5);
    assert_eq!(c.now_ms(), 5);
    assert_eq!(c.advance(10), 15);
    c.set(100);
    assert_eq!(c.now_ms(), 100);
    assert!(SystemClock.now_ms() > 1_600_000_000_000);
}

#[test]
fn lease_raises_attempt_and_starts_job() {
    let clock = ManualClock::new(1_000);
    let mut j = job(2);
    let mut t = task(&j, 0);
    let mut ev = Vec::new();
    let l = lease(&mut j, &mut t, &w("a"), clock.now_ms(), &T, &mut ev).unwrap();
    assert_eq!((l.attempt, l.expires_ms, l.kind.as_str()), (1, 2_000, "render"));
    assert_eq!(t.status, TaskStatus::Leased);
    assert_eq!(t.worker, Some(w("a")));
    assert_eq!(j.status, JobStatus::Running);
    assert!(matches!(ev[0], Event::Job { status: JobStatus::Running, .. }));
    assert!(matches!(ev[1], Event::TaskLeased { attempt: 1, .. }));
    // A second lease of the same task is refused; a second task does not re-announce running.
    assert!(lease(&mut j, &mut t, &w("b"), 1_001, &T, &mut ev).is_err());
    let mut t1 = task(&j, 1);
    ev.clear();
    lease(&mut j, &mut t1, &w("b"), 1_001, &T, &mut ev).unwrap();
    assert_eq!(ev.len(), 1);
}

#[test]
fn lease_refused_on_final_job() {
    let mut j = job(1);
    let mut t = task(&j, 0);
    cancel(&mut j, 1, &mut Vec::new());
    assert_eq!(
        lease(&mut j, &mut t, &w("a"), 2, &T, &mut Vec::new()),
        Err(TransitionError::JobFinal(j.id.to_string()))
    );
}

#[test]
fn renew_only_current() {
    let clock = ManualClock::new(0);
    let mut j = job(1);
    let mut t = task(&j, 0);
    let l = lease(&mut j, &mut t, &w("a"), clock.now_ms(), &T, &mut Vec::new()).unwrap();
    assert!(renew(&j, &mut t, &l, clock.advance(500), &T));
    assert_eq!(t.lease_expires_ms, Some(1_500));
    let mut other = l.clone();
    other.attempt = 2;
    assert!(!renew(&j, &mut t, &other, 600, &T));
    let mut thief = l.clone();
    thief.worker = w("b");
    assert!(!renew(&j, &mut t, &thief, 600, &T));
    cancel(&mut j, 700, &mut Vec::new());
    assert!(!renew(&j, &mut t, &l, 700, &T));
}

#[test]
fn complete_is_fenced() {
    let mut j = job(2);
    let mut t = task(&j, 0);
    let l = lease(&mut j, &mut t, &w("a"), 0, &T, &mut Vec::new()).unwrap();
    let mut ev = Vec::new();
    assert_eq!(complete(&mut j, &mut t, &l, 10, &mut ev), Completion::Accepted { done: 1, total: 2 });
    assert_eq!(t.status, TaskStatus::Done);
    assert!(matches!(ev[0], Event::TaskDone { done: 1, total: 2, .. }));
    assert_eq!(complete(&mut j, &mut t, &l, 11, &mut ev), Completion::Stale);
    assert_eq!(j.tasks_done, 1);
}

#[test]
fn stale_attempt_after_reclaim_is_dropped() {
    let clock = ManualClock::new(0);
    let mut j = job(1);
    let mut t = task(&j, 0);
    let old = lease(&mut j, &mut t, &w("a"), clock.now_ms(), &T, &mut Vec::new()).unwrap();
    let now = clock.advance(T.lease_ms);
    assert!(should_reclaim(&t, true, now));
    assert!(requeue(&mut t, REASON_EXPIRED, &mut Vec::new()));
    assert_eq!((t.status, t.attempt), (TaskStatus::Queued, 1));
    let new = lease(&mut j, &mut t, &w("b"), now, &T, &mut Vec::new()).unwrap();
    assert_eq!(new.attempt, 2);
    assert_eq!(complete(&mut j, &mut t, &old, now, &mut Vec::new()), Completion::Stale);
    assert_eq!(fail(&mut j, &mut t, &old, "x", now, &mut Vec::new()), Failure::Stale);
    assert_eq!(
        complete(&mut j, &mut t, &new, now, &mut Vec::new()),
        Completion::Accepted { done: 1, total: 1 }
    );
}

#[test]
fn fail_requeues_then_errors_job() {
    let mut j = job(1);
    let mut t = task(&j, 0);
    for n in 1..=MAX_ATTEMPTS {
        let l = lease(&mut j, &mut t, &w(&format!("w{n}")), n as u64, &T, &mut Vec::new()).unwrap();
        let mut ev = Vec::new();
        let out = fail(&mut j, &mut t, &l, &format!("boom {n}"), n as u64, &mut ev);
        if n < MAX_ATTEMPTS {
            assert_eq!(out, Failure::Requeued);
            assert_eq!(t.status, TaskStatus::Queued);
            assert!(matches!(ev[0], Event::TaskRequeued { .. }));
        } else {
            assert_eq!(out, Failure::JobFailed);
            assert_eq!(t.status, TaskStatus::Failed);
            assert!(matches!(ev[0], Event::TaskFailed { .. }));
            assert!(matches!(ev[1], Event::Job { status: JobStatus::Error, .. }));
        }
    }
    assert_eq!(j.status, JobStatus::Error);
    assert_eq!(j.error.as_deref(), Some("boom 3"));
    assert_eq!(t.failures, MAX_ATTEMPTS);
}

#[test]
fn release_and_requeue_do_not_count_failures() {
    let mut j = job(1);
    let mut t = task(&j, 0);
    let l = lease(&mut j, &mut t, &w("a"), 0, &T, &mut Vec::new()).unwrap();
    assert!(release(&j, &mut t, &l, &mut Vec::new()));
    assert_eq!((t.status, t.failures, t.attempt), (TaskStatus::Queued, 0, 1));
    // A second release of the same lease is stale.
    assert!(!release(&j, &mut t, &l, &mut Vec::new()));
    assert!(!requeue(&mut t, REASON_LOST, &mut Vec::new()));
}

#[test]
fn liveness_and_eligibility() {
    assert!(!lease_expired(None, 10));
    assert!(!lease_expired(Some(11), 10));
    assert!(lease_expired(Some(10), 10));
    assert!(worker_alive(0, 299, &T));
    assert!(!worker_alive(0, 300, &T));
    assert!(worker_may_take(MAX_WORKER_FAILURES_PER_JOB - 1));
    assert!(!worker_may_take(MAX_WORKER_FAILURES_PER_JOB));
    let mut j = job(1);
    assert!(job_leasable(&j, &["render".into()]));
    assert!(!job_leasable(&j, &["zip".into()]));
    assert!(!job_leasable(&j, &[]));
    j.status = JobStatus::Error;
    assert!(!job_leasable(&j, &["render".into()]));
    let mut t = task(&j, 0);
    assert!(!should_reclaim(&t, false, 0));
    t.status = TaskStatus::Leased;
    t.lease_expires_ms = Some(100);
    assert!(!should_reclaim(&t, true, 99));
    assert!(should_reclaim(&t, false, 99));
    assert!(should_reclaim(&t, true, 100));
}

#[test]
fn lease_order_is_priority_then_age() {
    let mut a = job(1);
    a.created_ms = 1;
    let mut b = job(1);
    b.created_ms = 2;
    b.priority = 5;
    let mut c = job(1);
    c.created_ms = 3;
    let mut v = [c.clone(), a.clone(), b.clone()];
    v.sort_by_key(lease_order_key);
    assert_eq!(v.map(|j| j.created_ms), [2, 1, 3]);
}

#[test]
fn cancel_and_finish() {
    let mut j = job(1);
    let mut ev = Vec::new();
    assert!(cancel(&mut j, 5, &mut ev));
    assert_eq!((j.status, j.updated_ms), (JobStatus::Cancelled, 5));
    assert!(!cancel(&mut j, 6, &mut ev));
    assert_eq!(finish(&mut j, JobOutcome::Error("x".into()), 7, &mut ev), Ok(false));
    assert_eq!(ev.len(), 1);

    let mut j = job(1);
    assert!(matches!(
        finish(&mut j, JobOutcome::Done(meta()), 1, &mut ev),
        Err(TransitionError::Incomplete { done: 0, total: 1, .. })
    ));
    let mut t = task(&j, 0);
    let l = lease(&mut j, &mut t, &w("a"), 1, &T, &mut ev).unwrap();
    complete(&mut j, &mut t, &l, 2, &mut ev);
    assert_eq!(finish(&mut j, JobOutcome::Done(meta()), 3, &mut ev), Ok(true));
    assert_eq!(j.status, JobStatus::Done);
    assert_eq!(j.output, Some(meta()));
    assert_eq!(finish(&mut j, JobOutcome::Done(meta()), 4, &mut ev), Ok(false));
    assert_eq!(finish(&mut j, JobOutcome::Error("late".into()), 4, &mut ev), Ok(false));
    assert_eq!(j.status, JobStatus::Done);

    let mut j = job(3);
    assert_eq!(finish(&mut j, JobOutcome::Error("assembly".into()), 1, &mut ev), Ok(true));
    assert_eq!(j.error.as_deref(), Some("assembly"));
}

/// One step of a random interleaving.
#[derive(Debug, Clone)]
enum Op {
    /// Worker `w` leases the first queued task.
    Lease(u8),
    /// The holder of the `n`th lease ever granted (mod count) hands in a result.
    Complete(usize),
    /// The holder of the `n`th lease fails it.
    Fail(usize),
    /// The holder of the `n`th lease renews it.
    Renew(usize),
    /// Time passes; then expired leases are reclaimed.
    Advance(u64),
    /// Worker `w` is declared lost; its leases are reclaimed.
    Lose(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0u8..3).prop_map(Op::Lease),
        3 => any::<usize>().prop_map(Op::Complete),
        2 => any::<usize>().prop_map(Op::Fail),
        1 => any::<usize>().prop_map(Op::Renew),
        2 => (0u64..1_500).prop_map(Op::Advance),
        1 => (0u8..3).prop_map(Op::Lose),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Whatever the interleaving, a task's result is accepted at most once, only from the
    /// latest attempt of the task, and the job's count matches the accepted results.
    #[test]
    fn interleavings_never_accept_twice_or_stale(ops in proptest::collection::vec(op(), 1..120)) {
        let clock = ManualClock::new(0);
        let mut j = job(4);
        let mut tasks: Vec<TaskRecord> = (0..4).map(|i| task(&j, i)).collect();
        let mut leases: Vec<Lease> = Vec::new();
        let mut accepted = [0u32; 4];
        let mut ev = Vec::new();
        for op in ops {
            let now = clock.now_ms();
            match op {
                Op::Lease(n) => {
                    if let Some(t) = tasks.iter_mut().find(|t| t.status == TaskStatus::Queued) {
                        if let Ok(l) = lease(&mut j, t, &w(&n.to_string()), now, &T, &mut ev) {
                            leases.push(l);
                        }
                    }
                }
                Op::Complete(n) if !leases.is_empty() => {
                    let l = &leases[n % leases.len()];
                    let i = l.key.index as usize;
                    let latest = leases.iter().filter(|x| x.key == l.key).map(|x| x.attempt).max();
                    let was_leased = tasks[i].status == TaskStatus::Leased;
                    if let Completion::Accepted { done, .. } = complete(&mut j, &mut tasks[i], l, now, &mut ev) {
                        accepted[i] += 1;
                        prop_assert!(was_leased);
                        prop_assert_eq!(Some(l.attempt), latest, "stale attempt accepted");
                        prop_assert_eq!(done, accepted.iter().sum::<u32>());
                    }
                }
                Op::Fail(n) if !leases.is_empty() => {
                    let l = leases[n % leases.len()].clone();
                    let i = l.key.index as usize;
                    let latest = leases.iter().filter(|x| x.key == l.key).map(|x| x.attempt).max();
                    if fail(&mut j, &mut tasks[i], &l, "boom", now, &mut ev) != Failure::Stale {
                        prop_assert_eq!(Some(l.attempt), latest, "stale attempt failed");
                    }
                }
                Op::Renew(n) if !leases.is_empty() => {
                    let l = &leases[n % leases.len()];
                    let i = l.key.index as usize;
                    let current = is_current(&j, &tasks[i], l);
                    prop_assert_eq!(renew(&j, &mut tasks[i], l, now, &T), current);
                }
                Op::Advance(ms) => {
                    let now = clock.advance(ms);
                    for t in tasks.iter_mut().filter(|t| should_reclaim(t, true, now)) {
                        requeue(t, REASON_EXPIRED, &mut ev);
                    }
                }
                Op::Lose(n) => {
                    let gone = w(&n.to_string());
                    for t in tasks.iter_mut().filter(|t| t.worker.as_ref() == Some(&gone)) {
                        prop_assert!(should_reclaim(t, false, now));
                        requeue(t, REASON_LOST, &mut ev);
                    }
                }
                _ => {}
            }
            // Invariants after every step.
            prop_assert!(accepted.iter().all(|&n| n <= 1), "a task accepted twice");
            prop_assert_eq!(j.tasks_done, accepted.iter().sum::<u32>());
            for (i, t) in tasks.iter().enumerate() {
                prop_assert_eq!(t.status == TaskStatus::Done, accepted[i] == 1);
                prop_assert!(t.failures <= MAX_ATTEMPTS);
                prop_assert_eq!(t.status == TaskStatus::Leased, t.worker.is_some());
            }
            if tasks.iter().any(|t| t.status == TaskStatus::Failed) {
                prop_assert_eq!(j.status, JobStatus::Error);
            }
        }
    }
}
