//! Durability: state survives dropping and reopening the backend, and `kill -9` of the
//! process at any point never loses a committed job or exposes a torn blob.

use bytes::Bytes;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tessera_backend::conformance::{new_job, worker, T0};
use tessera_backend::{Backend, Timing};
use tessera_backend_sqlite::SqliteBackend;
use tessera_types::job::blob_key;
use tessera_types::{JobId, JobStatus, TaskStatus, WorkerInfo};

const TIMING: Timing = Timing { lease_ms: 10_000, heartbeat_ttl_ms: 3_000 };

/// The env var that turns `crash_child` into the writer the crash test kills.
const CHILD_ENV: &str = "TESSERA_CRASH_CHILD_DIR";

/// Deterministic bytes for blob `i`, a few hundred KB, so a torn write is detectable.
fn blob_bytes(i: u64) -> Vec<u8> {
    let len = 100_000 + (i % 7) as usize * 50_000;
    let mut data = i.to_le_bytes().to_vec();
    data.extend((8..len).map(|n| (n as u64).wrapping_mul(2_654_435_761).wrapping_add(i) as u8));
    data
}

/// The `i` a whole blob was written for; panics on a torn or foreign blob.
fn blob_index(data: &[u8]) -> u64 {
    let i = u64::from_le_bytes(data[..8].try_into().expect("blob has a header"));
    assert!(data == blob_bytes(i), "blob for {i} is torn");
    i
}

#[tokio::test]
async fn reopen_sees_jobs_and_leases_then_reclaims() {
    let dir = tempfile::tempdir().unwrap();
    let w = worker("a");
    let job = new_job("render", 0, T0, 3);
    let id = job.record.id.clone();
    {
        let b = SqliteBackend::open(dir.path(), TIMING).unwrap();
        b.create_job(job).await.unwrap();
        b.heartbeat(&WorkerInfo { id: w.clone(), ..WorkerInfo::default() }, T0).await.unwrap();
        let l = b.lease_task(&w, &["render".into()], T0).await.unwrap().unwrap();
        assert_eq!(l.attempt, 1);
        b.put_blob("x/y", Bytes::from_static(b"kept")).await.unwrap();
    }
    let b = SqliteBackend::open(dir.path(), TIMING).unwrap();
    let j = b.get_job(&id).await.unwrap().expect("job survives reopen");
    assert_eq!(j.status, JobStatus::Running);
    assert_eq!(b.active_jobs().await.unwrap().len(), 1);
    let tasks = b.list_tasks(&id).await.unwrap();
    assert_eq!((tasks[0].status, tasks[0].attempt), (TaskStatus::Leased, 1));
    assert_eq!(tasks[0].worker.as_ref(), Some(&w));
    assert_eq!(b.get_blob("x/y").await.unwrap().as_deref(), Some(&b"kept"[..]));
    assert_eq!(b.workers(T0 + 1).await.unwrap().len(), 1);

    // The worker never came back: after the heartbeat TTL its lease is reclaimed.
    assert!(b.reclaim(T0 + TIMING.heartbeat_ttl_ms - 1).await.unwrap().is_empty());
    let reclaimed = b.reclaim(T0 + TIMING.heartbeat_ttl_ms).await.unwrap();
    assert_eq!(reclaimed, vec![tasks[0].key.clone()]);
    let l = b.lease_task(&worker("b"), &["render".into()], T0 + 5_000).await.unwrap().unwrap();
    assert_eq!((l.key.index, l.attempt), (0, 2));
}

/// Not a test on its own: with `CHILD_ENV` set, writes jobs and blobs forever, printing each
/// one once it is committed, until the parent kills it.
#[tokio::test]
async fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let round: u64 = std::env::var("TESSERA_CRASH_ROUND").unwrap().parse().unwrap();
    let b = SqliteBackend::open(dir.as_ref(), TIMING).unwrap();
    for n in 0.. {
        let i = round * 1_000_000 + n;
        let mut job = new_job("render", 0, T0 + i, 4);
        job.inputs.push(("scene".into(), Bytes::from(blob_bytes(i))));
        let id = job.record.id.clone();
        b.create_job(job).await.unwrap();
        println!("job {id} {i}");
        b.put_blob(&format!("loose/{}", n % 5), Bytes::from(blob_bytes(i))).await.unwrap();
        println!("loose {} {i}", n % 5);
    }
}

#[test]
fn kill_9_never_loses_committed_state() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut committed: Vec<(JobId, u64)> = Vec::new();
    // Latest committed and possibly in-flight value of each loose key.
    let mut loose: HashMap<String, u64> = HashMap::new();
    let rt = tokio::runtime::Runtime::new().unwrap();
    for round in 0..4u64 {
        let mut child = Command::new(&exe)
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .env("TESSERA_CRASH_ROUND", round.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout).lines().map_while(|l| l.ok()).collect::<Vec<_>>()
        });
        // Let it write for a while (at least a few jobs), then kill it mid-flight.
        let start = Instant::now();
        std::thread::sleep(Duration::from_millis(300 + round * 170));
        child.kill().unwrap(); // SIGKILL on unix
        child.wait().unwrap();
        let lines = reader.join().unwrap();
        for line in lines {
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["job", id, i] => committed.push((JobId(id.to_string()), i.parse().unwrap())),
                ["loose", k, i] => {
                    loose.insert(format!("loose/{k}"), i.parse().unwrap());
                }
                _ => {}
            }
        }
        assert!(start.elapsed() < Duration::from_secs(60));

        let b = SqliteBackend::open(dir.path(), TIMING).unwrap();
        rt.block_on(async {
            for (id, i) in &committed {
                let j = b.get_job(id).await.unwrap().unwrap_or_else(|| panic!("job {id} lost"));
                assert_eq!(j.tasks_total, 4);
                assert_eq!(b.list_tasks(id).await.unwrap().len(), 4);
                let input = b.get_blob(&blob_key::job_input(id, "scene")).await.unwrap();
                assert_eq!(input.as_deref(), Some(&blob_bytes(*i)[..]), "input of {id} intact");
            }
            // Every job that exists at all is whole: all its tasks and its input.
            for j in b.list_jobs(usize::MAX).await.unwrap() {
                assert_eq!(b.list_tasks(&j.id).await.unwrap().len(), 4);
                let input = b.get_blob(&blob_key::job_input(&j.id, "scene")).await.unwrap().unwrap();
                assert_eq!(input, blob_bytes(j.created_ms - T0), "no torn input blob");
            }
            // A loose blob holds the last committed bytes or the ones being written, whole.
            for (key, i) in &loose {
                let data = b.get_blob(key).await.unwrap().expect("committed blob exists");
                assert!(blob_index(&data) >= *i, "blob {key} went back in time");
            }
        });
    }
    assert!(committed.len() >= 4, "the child committed too little to test: {}", committed.len());
    eprintln!("{} jobs committed across kills", committed.len());
}
