//! Issue 2 item 5: `kill -9` of `tessera up` mid-job, start it again on the same data
//! directory, and the job finishes with the same bytes as an uninterrupted render.

mod common;

use common::{render_locally, small_scene, Up};
use serde_json::json;
use std::time::Duration;

#[test]
fn kill_dash_nine_mid_job_then_restart_finishes_with_identical_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Big enough to be caught mid-way on one thread, small enough to finish in seconds.
    let scene = small_scene(160, 96, 48);
    let reference = render_locally(dir.path(), &scene, 2, "png");

    let up = Up::start(&data, 1);
    let id = up.submit(&json!({ "kind": "render", "scene": scene, "tile_size": [16, 16] }));
    let before = up.wait_job(&id, Duration::from_secs(60), |j| j["tasks_done"].as_u64().unwrap_or(0) >= 3);
    let total = before["tasks_total"].as_u64().unwrap();
    assert!(before["tasks_done"].as_u64().unwrap() < total, "job finished before the kill; make it bigger");
    up.kill9();

    let up = Up::start(&data, 2);
    let after = up.job(&id);
    assert_eq!(after["id"], id.as_str(), "job lost across the crash");
    assert!(after["tasks_done"].as_u64().unwrap() >= 3, "accepted tiles lost across the crash: {after}");
    let bytes = up.result(&id, Duration::from_secs(120));
    assert!(bytes == reference, "recovered job differs from an uninterrupted render");
}

#[test]
fn restart_keeps_finished_jobs_and_their_results() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let up = Up::start(&data, 2);
    let id = up.submit(&json!({ "kind": "render", "scene": small_scene(32, 32, 2) }));
    let first = up.result(&id, Duration::from_secs(60));
    up.kill9();
    let up = Up::start(&data, 2);
    assert_eq!(up.job(&id)["status"], "done");
    assert_eq!(up.result(&id, Duration::from_secs(5)), first);
}
