//! The WebSocket protocol (DESIGN 2.3) as seed 000's client speaks it, against a real farm.

mod common;

use base64::Engine;
use common::{is, scene, Farm, Ws};
use serde_json::{json, Value};
use std::io::Read;
use std::time::Duration;

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD.decode(s).expect("data_base64 is base64")
}

/// Renders over `ws` and checks every message of the job's life; returns (job id, result bytes).
async fn render_and_check(farm: &Farm, ws: &mut Ws) -> (String, Vec<u8>) {
    let hello = ws.next().await.expect("hello");
    assert_eq!(hello["type"], "hello", "{hello}");
    assert_eq!(hello["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(hello["workers"], 1, "{hello}");

    let (w, h) = (64u32, 48u32);
    ws.send(json!({"action": "render", "scene": scene(w, h, 2), "tile_size": [32, 24]})).await;
    let msgs = ws.until(|m| m["type"] == "result").await;
    let id = msgs[0]["job_id"].as_str().unwrap_or_else(|| panic!("first message names the job: {msgs:?}"));
    assert!(msgs.iter().all(|m| m["job_id"] == id), "messages of other jobs: {msgs:?}");
    assert!(msgs.iter().all(|m| m["type"] != "error"), "{msgs:?}");

    let statuses: Vec<&str> =
        msgs.iter().filter(|m| m["type"] == "job").map(|m| m["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["queued", "running", "done"], "{msgs:?}");
    assert!(msgs.iter().filter(|m| m["type"] == "job").all(|m| m["kind"] == "render"));

    let progress: Vec<&Value> = msgs.iter().filter(|m| m["type"] == "progress").collect();
    assert!(!progress.is_empty());
    let last = progress.last().unwrap();
    assert_eq!(last["percent"], 100.0, "{last}");
    assert_eq!(last["done"], 4);
    assert_eq!(last["total"], 4);
    let percents: Vec<f64> = progress.iter().map(|p| p["percent"].as_f64().unwrap()).collect();
    assert!(percents.windows(2).all(|p| p[0] <= p[1]), "progress goes backwards: {percents:?}");

    let tiles: Vec<&Value> = msgs.iter().filter(|m| m["type"] == "tile").collect();
    assert_eq!(tiles.len(), 4, "one tile message per tile: {tiles:?}");
    let mut indices: Vec<u64> = tiles.iter().map(|t| t["index"].as_u64().unwrap()).collect();
    indices.sort();
    assert_eq!(indices, [0, 1, 2, 3]);
    let mut covered = 0;
    for t in &tiles {
        assert_eq!((t["width"].as_u64(), t["height"].as_u64()), (Some(w as u64), Some(h as u64)));
        let r = &t["rect"];
        let (x, y, rw, rh) = (
            r["x"].as_u64().unwrap() as u32,
            r["y"].as_u64().unwrap() as u32,
            r["w"].as_u64().unwrap() as u32,
            r["h"].as_u64().unwrap() as u32,
        );
        assert!(rw > 0 && rh > 0 && x + rw <= w && y + rh <= h, "rect outside the image: {t}");
        covered += rw * rh;
        let (ct, png) = farm.get_bytes(t["url"].as_str().unwrap()).await;
        assert_eq!(ct, "image/png");
        let img = image::load_from_memory_with_format(&png, image::ImageFormat::Png).expect("tile PNG");
        assert_eq!((img.width(), img.height()), (rw, rh), "tile {t}");
    }
    assert_eq!(covered, w * h, "tiles cover the image exactly");

    let result = msgs.last().unwrap();
    assert_eq!(result["mime"], "image/png");
    assert_eq!(result["url"], format!("/api/jobs/{id}/result"));
    let filename = result["filename"].as_str().unwrap();
    assert!(filename.ends_with(".png"), "{filename}");
    let inline = b64(result["data_base64"].as_str().expect("small results travel inline"));
    let (ct, body) = farm.get_bytes(&format!("/api/jobs/{id}/result")).await;
    assert_eq!(ct, "image/png");
    assert_eq!(inline, body, "data_base64 must be the result file");
    let img = image::load_from_memory(&inline).expect("result decodes");
    assert_eq!((img.width(), img.height()), (w, h));
    (id.to_string(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_client_renders_at_root_path() {
    let farm = Farm::start();
    let mut ws = Ws::connect(&farm.ws).await; // no path, as seed 000's client
    render_and_check(&farm, &mut ws).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renders_at_ws_path_and_zips_outputs() {
    let farm = Farm::start();
    let mut ws = Ws::connect(&format!("{}/ws", farm.ws)).await;
    let (id1, out1) = render_and_check(&farm, &mut ws).await;
    let mut ws2 = Ws::connect(&format!("{}/ws", farm.ws)).await;
    let (id2, out2) = render_and_check(&farm, &mut ws2).await;
    assert_ne!(id1, id2);

    ws.send(json!({"action": "zip_outputs"})).await;
    let msgs = ws.until(|m| m["type"] == "result" || m["type"] == "error").await;
    let result = msgs.last().unwrap();
    assert_eq!(result["type"], "result", "{msgs:?}");
    assert_eq!(result["mime"], "application/zip");
    assert!(result["filename"].as_str().unwrap().ends_with(".zip"));
    let zid = result["job_id"].as_str().unwrap();
    assert!(msgs.iter().any(|m| is(m, "job", zid) && m["kind"] == "zip" && m["status"] == "done"));
    let data = b64(result["data_base64"].as_str().expect("zip inline"));
    let (ct, body) = farm.get_bytes(result["url"].as_str().unwrap()).await;
    assert_eq!(ct, "application/zip");
    assert_eq!(data, body);

    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(data)).expect("a valid ZIP");
    assert_eq!(archive.len(), 2);
    for (id, expected) in [(&id1, &out1), (&id2, &out2)] {
        let job = farm.get_json(&format!("/api/jobs/{id}")).await;
        let name = job["output"]["filename"].as_str().unwrap();
        let mut f = archive.by_name(name).unwrap_or_else(|_| panic!("{name} missing from the ZIP"));
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        assert_eq!(&bytes, expected, "{name} in the ZIP differs from the job's result");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_to_done_job_and_to_all() {
    let farm = Farm::start();
    let id = farm.run_job(json!({"kind": "render", "scene": scene(32, 24, 1)})).await;

    let mut ws = Ws::connect(&format!("{}/ws", farm.ws)).await;
    assert_eq!(ws.next().await.unwrap()["type"], "hello");
    ws.send(json!({"action": "subscribe", "job_id": id})).await;
    let msgs = ws.until(|m| m["type"] == "result").await;
    assert!(is(&msgs[0], "job", &id) && msgs[0]["status"] == "done", "{msgs:?}");
    assert!(msgs.iter().any(|m| is(m, "progress", &id) && m["percent"] == 100.0 && m["done"] == 1));
    let result = msgs.last().unwrap();
    assert_eq!(result["job_id"], id.as_str());
    assert_eq!(result["url"], format!("/api/jobs/{id}/result"));

    // `all`: a watcher sees a job another connection submits.
    let mut watcher = Ws::connect(&format!("{}/ws", farm.ws)).await;
    assert_eq!(watcher.next().await.unwrap()["type"], "hello");
    watcher.send(json!({"action": "subscribe", "job_id": "all"})).await;
    // A request with a reply proves the subscription above was processed.
    watcher.send(json!({"action": "subscribe", "job_id": "0123456789abcdef0123456789abcdef"})).await;
    let sync = watcher.next().await.unwrap();
    assert_eq!(sync["type"], "error", "{sync}");
    assert!(sync["message"].as_str().unwrap().contains("job_id"), "{sync}");

    let mut other = Ws::connect(&farm.ws).await;
    assert_eq!(other.next().await.unwrap()["type"], "hello");
    other.send(json!({"action": "render", "scene": scene(32, 24, 1)})).await;
    let theirs = other.until(|m| m["type"] == "result").await;
    let oid = theirs[0]["job_id"].as_str().unwrap().to_string();
    let seen = watcher.until(|m| is(m, "result", &oid)).await;
    assert!(seen.iter().any(|m| is(m, "job", &oid) && m["status"] == "done"), "{seen:?}");
    assert!(seen.iter().any(|m| is(m, "tile", &oid)), "{seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_big_job() {
    let farm = Farm::start();
    let mut ws = Ws::connect(&farm.ws).await;
    assert_eq!(ws.next().await.unwrap()["type"], "hello");
    ws.send(json!({"action": "render", "scene": scene(256, 256, 16), "tile_size": [16, 16]})).await;
    let first = ws.until(|m| m["type"] == "tile").await;
    let id = first.last().unwrap()["job_id"].as_str().unwrap().to_string();
    ws.send(json!({"action": "cancel", "job_id": id})).await;
    let msgs = ws.until(|m| is(m, "job", &id) && m["status"] != "running").await;
    assert_eq!(msgs.last().unwrap()["status"], "cancelled", "{msgs:?}");
    assert!(!msgs.iter().any(|m| m["type"] == "result"));

    let job = farm.get_json(&format!("/api/jobs/{id}")).await;
    assert_eq!(job["status"], "cancelled");
    assert!(job["output"].is_null(), "{job}");
    assert!(job["tasks_done"].as_u64().unwrap() < 256, "{job}");
    let resp = farm.client().get(farm.url(&format!("/api/jobs/{id}/result"))).send().await.unwrap();
    assert_eq!(resp.status(), 409);
    // Nothing arrives for the cancelled job later, and the farm is idle again.
    farm.assert_idle().await;
    while let Ok(Some(m)) = ws.next_within(Duration::from_millis(500)).await {
        assert!(m["type"] != "result" && m["status"] != "done", "after cancel: {m}");
    }
    // The connection and the farm still work.
    ws.send(json!({"action": "render", "scene": scene(32, 24, 1)})).await;
    let msgs = ws.until(|m| m["type"] == "result").await;
    assert!(msgs.iter().any(|m| m["type"] == "job" && m["status"] == "done"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ppm_render_gives_p6() {
    let farm = Farm::start();
    let mut ws = Ws::connect(&farm.ws).await;
    assert_eq!(ws.next().await.unwrap()["type"], "hello");
    ws.send(json!({"action": "render", "scene": scene(40, 30, 1), "format": "ppm"})).await;
    let msgs = ws.until(|m| m["type"] == "result" || m["type"] == "error").await;
    let result = msgs.last().unwrap();
    assert_eq!(result["type"], "result", "{msgs:?}");
    assert_eq!(result["mime"], "image/x-portable-pixmap");
    assert!(result["filename"].as_str().unwrap().ends_with(".ppm"));
    let data = b64(result["data_base64"].as_str().unwrap());
    assert!(data.starts_with(b"P6"), "not a binary PPM: {:?}", &data[..data.len().min(16)]);
    let img = image::load_from_memory_with_format(&data, image::ImageFormat::Pnm).expect("PPM decodes");
    assert_eq!((img.width(), img.height()), (40, 30));
}
