//! Cost checks: a 16k-task job is created in one transaction, and leasing stays cheap.

use bytes::Bytes;
use std::time::{Duration, Instant};
use tessera_backend::conformance::{new_job, worker, T0};
use tessera_backend::{Backend, Timing};
use tessera_backend_sqlite::SqliteBackend;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn big_job_and_cheap_leases() {
    let dir = tempfile::tempdir().unwrap();
    let b = SqliteBackend::open(dir.path(), Timing::default()).unwrap();

    let start = Instant::now();
    b.create_job(new_job("render", 0, T0, 16_384)).await.unwrap();
    let create = start.elapsed();

    // A 640x360 render in 32x32 tiles, ahead of the big job.
    let tiles = new_job("render", 1, T0 + 1, 240);
    let id = tiles.record.id.clone();
    b.create_job(tiles).await.unwrap();
    let w = worker("a");
    let kinds = vec!["render".to_string()];
    let start = Instant::now();
    for n in 0..240u64 {
        let l = b.lease_task(&w, &kinds, T0 + 10 + n).await.unwrap().unwrap();
        assert_eq!(l.key.job_id, id);
        b.complete_task(&l, Bytes::from_static(b"tile"), T0 + 10 + n).await.unwrap();
    }
    let per_pair = start.elapsed() / 240;
    // With every tile done, the next lease must skip straight to the big job.
    let start = Instant::now();
    let n = 200u32;
    for i in 0..n {
        b.lease_task(&w, &kinds, T0 + 1_000 + i as u64).await.unwrap().unwrap();
    }
    let per_lease = start.elapsed() / n;
    eprintln!("create 16k tasks: {create:?}; lease+complete: {per_pair:?}; lease: {per_lease:?}");
    // Generous bounds: the machine is shared and tests may run unoptimised.
    assert!(create < Duration::from_secs(10), "create_job of 16k tasks took {create:?}");
    assert!(per_lease < Duration::from_millis(20), "lease_task took {per_lease:?}");
}
