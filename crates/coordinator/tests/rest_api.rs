//! The REST API (DESIGN 2.2, 2.5) against a real farm: SQLite backend, coordinator, worker.

mod common;

use common::{render_doc, scene, Farm};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn status_and_json(farm: &Farm, method: reqwest::Method, path: &str) -> (u16, Value) {
    let resp = farm.client().request(method, farm.url(path)).send().await.expect("request");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: not JSON ({e}): {text}")))
}

fn decode(bytes: &[u8], format: image::ImageFormat) -> image::DynamicImage {
    image::load_from_memory_with_format(bytes, format).unwrap_or_else(|e| panic!("{format:?}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_lifecycle_endpoints() {
    let farm = Farm::start();
    let client = farm.client();

    // create: 201 with the id and the job's view
    let resp = client
        .post(farm.url("/api/jobs"))
        .json(&json!({"kind": "render", "name": "first", "scene": scene(48, 32, 1), "tile_size": [16, 16]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let created: Value = resp.json().await.unwrap();
    let id1 = created["job_id"].as_str().unwrap().to_string();
    assert_eq!(id1.len(), 32);
    assert_eq!(created["job"]["id"], id1.as_str());
    assert_eq!(created["job"]["tasks_total"], 6);
    assert_eq!((created["job"]["width"].as_u64(), created["job"]["height"].as_u64()), (Some(48), Some(32)));
    let id2 = farm.submit(json!({"kind": "render", "name": "second", "scene": scene(32, 24, 1)})).await;

    let job = farm.wait_final(&id1).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["name"], "first");
    assert_eq!(job["kind"], "render");
    assert_eq!(job["tasks_done"], 6);
    assert_eq!(job["percent"], 100.0);
    assert_eq!(job["result_url"], format!("/api/jobs/{id1}/result"));
    assert_eq!(job["output"]["mime"], "image/png");
    assert_eq!(farm.wait_final(&id2).await["status"], "done");

    // list: newest first
    let list = farm.get_json("/api/jobs").await;
    let ids: Vec<&str> = list["jobs"].as_array().unwrap().iter().map(|j| j["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [id2.as_str(), id1.as_str()]);
    let list = farm.get_json("/api/jobs?limit=1").await;
    assert_eq!(list["jobs"].as_array().unwrap().len(), 1);

    // tasks and tiles
    let tasks = farm.get_json(&format!("/api/jobs/{id1}/tasks")).await;
    let tasks = tasks["tasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 6);
    assert!(tasks.iter().all(|t| t["status"] == "done"), "{tasks:?}");
    for i in [0, 5] {
        let (ct, png) = farm.get_bytes(&format!("/api/jobs/{id1}/tiles/{i}")).await;
        assert_eq!(ct, "image/png");
        let img = decode(&png, image::ImageFormat::Png);
        assert_eq!((img.width(), img.height()), (16, 16));
    }
    let resp = client.get(farm.url(&format!("/api/jobs/{id1}/tiles/6"))).send().await.unwrap();
    assert_eq!(resp.status(), 404);

    // preview of a done job: the whole image
    let (ct, png) = farm.get_bytes(&format!("/api/jobs/{id1}/preview")).await;
    assert_eq!(ct, "image/png");
    let img = decode(&png, image::ImageFormat::Png);
    assert_eq!((img.width(), img.height()), (48, 32));
    // ... and for PNG output it equals the result
    let (_, result) = farm.get_bytes(&format!("/api/jobs/{id1}/result")).await;
    assert_eq!(decode(&result, image::ImageFormat::Png).to_rgb8(), img.to_rgb8());

    // result carries a file name
    let resp = client.get(farm.url(&format!("/api/jobs/{id1}/result"))).send().await.unwrap();
    let cd = resp.headers()[reqwest::header::CONTENT_DISPOSITION].to_str().unwrap().to_string();
    assert!(cd.contains("attachment") && cd.contains(".png"), "{cd}");

    // unknown jobs: a well-formed id and a malformed one
    for bad in ["0123456789abcdef0123456789abcdef", "nope"] {
        for path in ["", "/result", "/preview", "/tasks", "/tiles/0"] {
            let (status, body) =
                status_and_json(&farm, reqwest::Method::GET, &format!("/api/jobs/{bad}{path}")).await;
            assert_eq!(status, 404, "{bad}{path}: {body}");
            assert!(body["error"].as_str().unwrap().contains(bad), "{body}");
        }
    }
    let (status, _) =
        status_and_json(&farm, reqwest::Method::POST, "/api/jobs/0123456789abcdef0123456789abcdef/cancel")
            .await;
    assert_eq!(status, 404);

    // cancelling a done job is a conflict
    let (status, body) =
        status_and_json(&farm, reqwest::Method::POST, &format!("/api/jobs/{id1}/cancel")).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("done"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_job_preview_result_conflict_and_cancel_twice() {
    let farm = Farm::start();
    let id =
        farm.submit(json!({"kind": "render", "scene": scene(256, 256, 16), "tile_size": [16, 16]})).await;

    // result before done: 409 with a JSON error
    let (status, body) =
        status_and_json(&farm, reqwest::Method::GET, &format!("/api/jobs/{id}/result")).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("done"), "{body}");

    // a partial preview while it runs is a valid PNG of the job's size
    let deadline = Instant::now() + common::WAIT;
    loop {
        let job = farm.get_json(&format!("/api/jobs/{id}")).await;
        if job["tasks_done"].as_u64().unwrap() > 0 {
            assert_eq!(job["status"], "running", "{job}");
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (ct, png) = farm.get_bytes(&format!("/api/jobs/{id}/preview")).await;
    assert_eq!(ct, "image/png");
    let img = decode(&png, image::ImageFormat::Png);
    assert_eq!((img.width(), img.height()), (256, 256));

    // /api/queue and /api/status see the work
    let q = farm.get_json("/api/queue").await;
    assert!(q["queue_depth"].as_u64().unwrap() > 0, "{q}");
    let st = farm.get_json("/api/status").await;
    assert_eq!(st["jobs"]["running"], 1, "{st}");

    // cancel, then cancel again: 409
    let (status, body) =
        status_and_json(&farm, reqwest::Method::POST, &format!("/api/jobs/{id}/cancel")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "cancelled");
    let (status, body) =
        status_and_json(&farm, reqwest::Method::POST, &format!("/api/jobs/{id}/cancel")).await;
    assert_eq!(status, 409, "{body}");
    assert!(body["error"].as_str().unwrap().contains("cancelled"), "{body}");
    let (status, _) = status_and_json(&farm, reqwest::Method::GET, &format!("/api/jobs/{id}/result")).await;
    assert_eq!(status, 409);
    farm.assert_idle().await;
    assert_eq!(farm.get_json("/api/queue").await["queue_depth"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn farm_endpoints() {
    let farm = Farm::start();
    let st = farm.get_json("/api/status").await;
    assert_eq!(st["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(st["workers"], 1, "{st}");
    assert_eq!(st["queue_depth"], 0);
    let kinds: Vec<&str> = st["kinds"].as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect();
    assert!(kinds.contains(&"render") && kinds.contains(&"zip"), "{kinds:?}");
    assert_eq!(st["limits"]["max_width"], 8192);

    let workers = farm.get_json("/api/workers").await;
    let workers = workers["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 1);
    assert!(workers[0]["id"].as_str().unwrap().starts_with("test-worker-"), "{:?}", workers[0]);
    assert_eq!(workers[0]["threads"], 2);

    assert_eq!(farm.get_json("/api/queue").await["queue_depth"], 0);

    farm.run_job(render_doc(32, 24, 1)).await;
    let resp = farm.client().get(farm.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().starts_with("text/plain"));
    let text = resp.text().await.unwrap();
    assert!(text.lines().any(|l| l == "tessera_workers 1"), "{text}");
    assert!(text.lines().any(|l| l == "tessera_jobs{status=\"done\"} 1"), "{text}");
    assert!(text.contains("tessera_queue_depth 0"), "{text}");

    let api = farm.get_json("/api/openapi.json").await;
    assert!(api["openapi"].is_string() && api["paths"]["/api/jobs"].is_object(), "{api}");

    let scene = farm.get_json("/api/scenes/default").await;
    assert!(scene["render"]["width"].is_u64() && scene["shapes"].is_array());

    let web = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web/index.html");
    if web.exists() {
        let resp = farm.client().get(farm.url("/")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let ct = resp.headers()[reqwest::header::CONTENT_TYPE].to_str().unwrap().to_string();
        assert!(ct.starts_with("text/html"), "{ct}");
        assert!(resp.text().await.unwrap().to_lowercase().contains("<html"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_output_format_has_its_type_and_size() {
    let farm = Farm::start();
    let (w, h) = (40u32, 28u32);
    let formats = [
        ("png", "image/png", image::ImageFormat::Png, ".png"),
        ("jpeg", "image/jpeg", image::ImageFormat::Jpeg, ".jpg"),
        ("bmp", "image/bmp", image::ImageFormat::Bmp, ".bmp"),
        ("ppm", "image/x-portable-pixmap", image::ImageFormat::Pnm, ".ppm"),
        ("exr", "image/x-exr", image::ImageFormat::OpenExr, ".exr"),
    ];
    let mut ids = Vec::new();
    for (name, ..) in formats {
        ids.push(farm.submit(json!({"kind": "render", "scene": scene(w, h, 1), "format": name})).await);
    }
    for ((name, mime, format, ext), id) in formats.into_iter().zip(ids) {
        let job = farm.wait_final(&id).await;
        assert_eq!(job["status"], "done", "{name}: {job}");
        assert_eq!(job["output"]["mime"], mime);
        let resp = farm.client().get(farm.url(&format!("/api/jobs/{id}/result"))).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()[reqwest::header::CONTENT_TYPE], mime, "{name}");
        let cd = resp.headers()[reqwest::header::CONTENT_DISPOSITION].to_str().unwrap().to_string();
        assert!(cd.contains(ext), "{name}: {cd}");
        let bytes = resp.bytes().await.unwrap();
        assert_eq!(job["output"]["size"], bytes.len() as u64);
        let img = decode(&bytes, format);
        assert_eq!((img.width(), img.height()), (w, h), "{name}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strips_and_grids_give_identical_bytes() {
    let farm = Farm::start();
    let (w, h) = (50u32, 36u32);
    let layouts = [
        json!({"tiles": 1}),
        json!({"tiles": 5}),
        json!({"tiles": 36}),
        json!({"tile_size": [16, 16]}),
        json!({"tile_size": [7, 5]}),
        json!({}),
    ];
    let mut ids = Vec::new();
    for layout in &layouts {
        let mut doc = json!({"kind": "render", "scene": scene(w, h, 4), "format": "exr"});
        doc.as_object_mut().unwrap().extend(layout.as_object().unwrap().clone());
        ids.push(farm.submit(doc).await);
    }
    let mut reference: Option<Vec<u8>> = None;
    for (layout, id) in layouts.iter().zip(&ids) {
        let job = farm.wait_final(id).await;
        assert_eq!(job["status"], "done", "{layout}: {job}");
        let (_, bytes) = farm.get_bytes(&format!("/api/jobs/{id}/result")).await;
        match &reference {
            None => reference = Some(bytes),
            Some(r) => assert!(r == &bytes, "{layout} differs from one strip"),
        }
    }
    // the tiling really differed
    let counts: Vec<u64> = {
        let mut v = Vec::new();
        for id in &ids {
            v.push(farm.get_json(&format!("/api/jobs/{id}")).await["tasks_total"].as_u64().unwrap());
        }
        v
    };
    assert_eq!(counts, [1, 5, 36, 12, 64, 1]);
}
