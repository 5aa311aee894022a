//! `tessera submit FILE --server URL --wait` against a real `tessera up`.

mod common;

use common::{render_locally, small_scene, Up};
use serde_json::json;
use std::process::Command;

#[test]
fn submit_wait_downloads_the_same_bytes_as_a_local_render() {
    let dir = tempfile::tempdir().unwrap();
    let up = Up::start(&dir.path().join("data"), 2);
    let scene = small_scene(48, 32, 4);
    let job = dir.path().join("job.json");
    std::fs::write(&job, json!({ "kind": "render", "scene": scene, "tile_size": [16, 16] }).to_string())
        .unwrap();
    let out = dir.path().join("out.png");
    let run = Command::new(common::bin())
        .args(["submit", "--wait", "--server", &up.base])
        .arg(&job)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "submit failed: {}", String::from_utf8_lossy(&run.stderr));
    let id = String::from_utf8_lossy(&run.stdout).trim().to_string();
    assert_eq!(id.len(), 32, "stdout should be the job id, got {id:?}");
    assert_eq!(std::fs::read(&out).unwrap(), render_locally(dir.path(), &scene, 2, "png"));

    // A bare scene is submitted as a render job.
    let bare = dir.path().join("scene.json");
    std::fs::write(&bare, scene.to_string()).unwrap();
    let run = Command::new(common::bin()).args(["submit", "--server", &up.base]).arg(&bare).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
}

#[test]
fn submit_reports_the_servers_field_error_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let up = Up::start(&dir.path().join("data"), 1);
    let mut scene = small_scene(16, 16, 1);
    scene["render"]["spp"] = json!(1_000_000_000u64);
    let job = dir.path().join("job.json");
    std::fs::write(&job, json!({ "kind": "render", "scene": scene }).to_string()).unwrap();
    let run = Command::new(common::bin()).args(["submit", "--server", &up.base]).arg(&job).output().unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("400") && err.contains("scene.render.spp"), "stderr: {err}");
}
