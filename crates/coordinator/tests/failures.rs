//! A failing task is retried and, after 3 attempts, fails its job with the task's message
//! (DESIGN 3); the worker and the coordinator keep serving other jobs.

mod common;

use common::{is, render_doc, scene, Farm, Ws};
use serde_json::json;
use tessera_coordinator::CoordinatorConfig;
use tessera_types::job::blob_key;
use tessera_types::JobId;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_input_fails_after_three_attempts_and_the_farm_goes_on() {
    // No worker yet, so nothing runs before the scene is corrupted.
    let farm = Farm::start_with(CoordinatorConfig { port: 0, ..Default::default() }, false);
    let mut ws = Ws::connect(&farm.ws).await;
    assert_eq!(ws.next().await.unwrap()["type"], "hello");
    ws.send(json!({"action": "subscribe", "job_id": "all"})).await;

    let id = farm.submit(json!({"kind": "render", "scene": scene(32, 24, 1), "tiles": 1})).await;
    let job_id = JobId::parse(&id).unwrap();
    farm.backend
        .put_blob(&blob_key::job_input(&job_id, "scene"), bytes::Bytes::from_static(b"{\"render\": tru"))
        .await
        .unwrap();
    // A healthy job queued behind the broken one.
    let good = farm.submit(render_doc(32, 24, 1)).await;
    assert_eq!(farm.get_json(&format!("/api/jobs/{id}")).await["status"], "queued");

    farm.start_worker();
    let job = farm.wait_final(&id).await;
    assert_eq!(job["status"], "error", "{job}");
    let error = job["error"].as_str().unwrap().to_string();
    assert!(error.contains("scene blob"), "the job's error should carry the task's message: {error}");
    assert!(job["output"].is_null());

    let tasks = farm.get_json(&format!("/api/jobs/{id}/tasks")).await;
    let task = &tasks["tasks"][0];
    assert_eq!(task["status"], "failed", "{task}");
    assert_eq!(task["failures"], 3, "three attempts, no more: {task}");
    assert_eq!(task["error"].as_str().unwrap(), error);

    // Subscribers saw the retries and the final error.
    let msgs = ws.until(|m| is(m, "job", &id) && m["status"] == "error").await;
    assert_eq!(msgs.last().unwrap()["error"].as_str().unwrap(), error);
    assert!(
        msgs.iter().any(|m| is(m, "progress", &id) && m["message"].as_str().unwrap().contains("failed")),
        "{msgs:?}"
    );

    let resp = farm.client().get(farm.url(&format!("/api/jobs/{id}/result"))).send().await.unwrap();
    assert_eq!(resp.status(), 409);
    let resp = farm.client().post(farm.url(&format!("/api/jobs/{id}/cancel"))).send().await.unwrap();
    assert_eq!(resp.status(), 409, "a failed job is final");

    // The same worker and coordinator go on serving.
    assert_eq!(farm.wait_final(&good).await["status"], "done");
    farm.run_job(render_doc(24, 16, 2)).await;
    let st = farm.get_json("/api/status").await;
    assert_eq!(st["workers"], 1, "{st}");
    assert_eq!(st["jobs"]["error"], 1, "{st}");
    assert_eq!(st["jobs"]["done"], 2, "{st}");
    farm.assert_idle().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_scene_input_fails_the_job_without_stalling_others() {
    let farm = Farm::start_with(CoordinatorConfig { port: 0, ..Default::default() }, false);
    let id = farm.submit(json!({"kind": "render", "scene": scene(32, 32, 1), "tile_size": [16, 16]})).await;
    let job_id = JobId::parse(&id).unwrap();
    // A scene that parses but is not a scene at all.
    farm.backend
        .put_blob(&blob_key::job_input(&job_id, "scene"), bytes::Bytes::from_static(b"[]"))
        .await
        .unwrap();
    farm.start_worker();
    let job = farm.wait_final(&id).await;
    assert_eq!(job["status"], "error", "{job}");
    assert!(job["error"].as_str().unwrap().contains("scene blob"), "{job}");
    assert!(job["tasks_done"].as_u64().unwrap() < 4);
    farm.run_job(render_doc(16, 16, 1)).await;
    farm.assert_idle().await;
}
