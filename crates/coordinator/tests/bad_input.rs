//! Bad input never costs more than a 4xx that names the field (DESIGN 2.4, 6): over REST and
//! over the WebSocket, and the farm keeps working afterwards.

mod common;

use common::{scene, Farm, Ws};
use serde_json::{json, Value};
use std::time::Duration;
use tessera_coordinator::CoordinatorConfig;
use tessera_types::Limits;

/// A render document whose scene was changed by `edit`.
fn with_scene(edit: impl FnOnce(&mut Value)) -> Value {
    let mut s = scene(32, 24, 1);
    edit(&mut s);
    json!({"kind": "render", "scene": s})
}

/// A render document with extra top-level fields.
fn with_fields(fields: Value) -> Value {
    let mut doc = json!({"kind": "render", "scene": scene(32, 24, 1)});
    doc.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    doc
}

/// Posts `body` raw; asserts a 4xx whose JSON `error` contains every one of `needles`.
async fn refused(farm: &Farm, what: &str, body: Vec<u8>, status: u16, needles: &[&str]) {
    let resp = farm
        .client()
        .post(farm.url("/api/jobs"))
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{what}: request failed: {e}"));
    let got = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    assert_eq!(got, status, "{what}: {text}");
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: not JSON ({e}): {text}"));
    let error = v["error"].as_str().unwrap_or_else(|| panic!("{what}: no error text: {v}"));
    for n in needles {
        assert!(error.contains(n), "{what}: error {error:?} does not mention {n:?}");
    }
}

async fn refused_doc(farm: &Farm, what: &str, doc: Value, needles: &[&str]) {
    refused(farm, what, doc.to_string().into_bytes(), 400, needles).await
}

/// Nothing was left queued or running and a normal job still goes through.
async fn still_serves(farm: &Farm) {
    farm.assert_idle().await;
    farm.run_job(json!({"kind": "render", "scene": scene(32, 24, 1)})).await;
    let st = farm.get_json("/api/status").await;
    assert_eq!(st["jobs"]["queued"], 0, "{st}");
    assert_eq!(st["jobs"]["running"], 0, "{st}");
    assert_eq!(st["jobs"]["error"], 0, "bad input created a failing job: {st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_refuses_bad_documents_naming_the_field() {
    let farm = Farm::start();

    refused(&farm, "malformed JSON", br#"{"kind": "render", "scene": "#.to_vec(), 400, &["JSON", "line 1"])
        .await;
    refused(&farm, "not an object", b"[1, 2]".to_vec(), 400, &["body"]).await;
    refused(&farm, "empty body", Vec::new(), 400, &["body"]).await;
    refused_doc(&farm, "missing kind", json!({"scene": scene(8, 8, 1)}), &["kind"]).await;
    refused_doc(&farm, "unknown kind", json!({"kind": "teleport"}), &["kind", "teleport", "render"]).await;
    refused_doc(&farm, "missing scene", json!({"kind": "render"}), &["scene"]).await;

    refused_doc(
        &farm,
        "unknown material",
        with_scene(|s| s["shapes"][1]["material"] = json!("unobtainium")),
        &["scene.shapes[1].material", "unobtainium"],
    )
    .await;
    refused_doc(
        &farm,
        "missing radius",
        with_scene(|s| {
            s["shapes"][1].as_object_mut().unwrap().remove("radius");
        }),
        &["scene.shapes[1].radius"],
    )
    .await;
    refused_doc(
        &farm,
        "missing camera",
        with_scene(|s| {
            s.as_object_mut().unwrap().remove("camera");
        }),
        &["scene.camera"],
    )
    .await;
    refused_doc(
        &farm,
        "negative radius",
        with_scene(|s| s["shapes"][1]["radius"] = json!(-1.0)),
        &["scene.shapes[1].radius", "-1"],
    )
    .await;
    refused_doc(
        &farm,
        "radius as a string",
        with_scene(|s| s["shapes"][1]["radius"] = json!("NaN")),
        &["scene.shapes[1].radius"],
    )
    .await;
    refused_doc(
        &farm,
        "radius null",
        with_scene(|s| s["shapes"][1]["radius"] = Value::Null),
        &["scene.shapes[1].radius"],
    )
    .await;
    // JSON cannot carry NaN or infinity; 1e999 is the closest a client can send.
    let text =
        with_scene(|s| s["shapes"][1]["radius"] = json!(123456.0)).to_string().replace("123456.0", "1e999");
    refused(&farm, "radius 1e999", text.into_bytes(), 400, &["scene.shapes[1].radius"]).await;
    let text =
        with_scene(|s| s["camera"]["eye"][0] = json!(123456.0)).to_string().replace("123456.0", "-1e999");
    refused(&farm, "eye -1e999", text.into_bytes(), 400, &["scene.camera.eye[0]"]).await;
    let doc = with_scene(|s| s["materials"]["red"]["albedo"][2] = json!(123456.0));
    let text = serde_json::to_string_pretty(&doc).unwrap().replace("123456.0", "1e999");
    refused(
        &farm,
        "pretty-printed 1e999",
        text.into_bytes(),
        400,
        &["scene.materials.red.albedo[2]", "line"],
    )
    .await;

    refused_doc(
        &farm,
        "huge image",
        with_scene(|s| {
            s["render"]["width"] = json!(100_000);
            s["render"]["height"] = json!(100_000);
        }),
        &["scene.render.width", "8192"],
    )
    .await;
    refused_doc(
        &farm,
        "huge spp",
        with_scene(|s| s["render"]["spp"] = json!(1_000_000_000u64)),
        &["scene.render.spp", "65536"],
    )
    .await;
    refused_doc(
        &farm,
        "zero width",
        with_scene(|s| s["render"]["width"] = json!(0)),
        &["scene.render.width"],
    )
    .await;
    refused_doc(&farm, "negative spp", with_scene(|s| s["render"]["spp"] = json!(-4)), &["scene.render.spp"])
        .await;

    refused_doc(
        &farm,
        "tiles and tile_size",
        with_fields(json!({"tiles": 4, "tile_size": [8, 8]})),
        &["tiles", "tile_size"],
    )
    .await;
    refused_doc(&farm, "tile_size 0", with_fields(json!({"tile_size": [0, 0]})), &["tile_size"]).await;
    refused_doc(&farm, "tiles 0", with_fields(json!({"tiles": 0})), &["tiles"]).await;
    refused_doc(&farm, "too many strips", with_fields(json!({"tiles": 25})), &["tiles", "24"]).await;
    refused_doc(&farm, "unknown format", with_fields(json!({"format": "gif"})), &["format", "gif"]).await;
    refused_doc(&farm, "unknown field", with_fields(json!({"colour": "blue"})), &["colour"]).await;
    refused_doc(&farm, "name too long", with_fields(json!({"name": "x".repeat(300)})), &["name"]).await;

    let ghost = "0123456789abcdef0123456789abcdef";
    refused_doc(&farm, "zip of a missing job", json!({"kind": "zip", "jobs": [ghost]}), &["jobs[0]", ghost])
        .await;
    refused_doc(&farm, "zip of a bad id", json!({"kind": "zip", "jobs": ["../etc"]}), &["jobs[0]"]).await;
    refused_doc(&farm, "zip of nothing", json!({"kind": "zip"}), &["jobs"]).await;

    still_serves(&farm).await;
}

/// POSTs `body` over a raw socket, writing while reading, so the answer is seen even when the
/// server answers early and closes the connection before taking the whole body (an HTTP
/// client library may report only its failed write). Returns (status, response body).
async fn raw_post(farm: &Farm, body: Vec<u8>) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = farm.base.trim_start_matches("http://").to_string();
    let stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let (mut rd, mut wr) = stream.into_split();
    let head = format!(
        "POST /api/jobs HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let writer = tokio::spawn(async move {
        if wr.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        for chunk in body.chunks(64 * 1024) {
            if wr.write_all(chunk).await.is_err() {
                return; // the server stopped reading: fine, its answer is what counts
            }
        }
    });
    let mut answer = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    let read = async {
        loop {
            match rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(common::WAIT, read).await.expect("the server answers an oversized body");
    writer.abort();
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer: {text:?}"));
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_refuses_a_50_mb_body() {
    let farm = Farm::start();
    // A valid JSON document, just too big: 50 MB of name.
    let mut body = br#"{"kind": "render", "name": ""#.to_vec();
    body.resize(body.len() + 50 * 1024 * 1024, b'x');
    body.extend_from_slice(br#""}"#);
    let (status, text) = raw_post(&farm, body).await;
    assert_eq!(status, 413, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text:?}"));
    let error = v["error"].as_str().unwrap();
    let limit = Limits::default().max_body_bytes.to_string();
    assert!(error.contains("body") && error.contains(&limit), "{error}");
    assert_eq!(v["field"], "body");
    still_serves(&farm).await;
}

/// Reads until an `error` message; panics on anything else.
async fn expect_error(ws: &mut Ws, needles: &[&str]) {
    let m = ws.next().await.expect("connection stays open");
    assert_eq!(m["type"], "error", "{m}");
    let text = m["message"].as_str().unwrap();
    for n in needles {
        assert!(text.contains(n), "error {text:?} does not mention {n:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_errors_name_the_field_and_keep_the_connection() {
    let farm = Farm::start();
    let mut ws = Ws::connect(&farm.ws).await;
    assert_eq!(ws.next().await.unwrap()["type"], "hello");

    ws.send_text("{\"action\": \"render\", ").await;
    expect_error(&mut ws, &["frame", "JSON"]).await;
    ws.send_text("[]").await;
    expect_error(&mut ws, &["action"]).await;
    ws.send(json!({"scene": scene(8, 8, 1)})).await;
    expect_error(&mut ws, &["action", "missing"]).await;
    ws.send(json!({"action": "explode"})).await;
    expect_error(&mut ws, &["action", "explode"]).await;
    ws.send(json!({"action": "render"})).await;
    expect_error(&mut ws, &["scene"]).await;
    let mut s = scene(16, 16, 1);
    s["shapes"][1]["radius"] = json!(-2);
    ws.send(json!({"action": "render", "scene": s})).await;
    expect_error(&mut ws, &["scene.shapes[1].radius"]).await;
    let mut s = scene(16, 16, 1);
    s["render"]["width"] = json!(100_000);
    ws.send(json!({"action": "render", "scene": s})).await;
    expect_error(&mut ws, &["scene.render.width", "8192"]).await;
    let mut s = scene(16, 16, 1);
    s["shapes"][2]["radius"] = json!(123456.0);
    ws.send_text(&json!({"action": "render", "scene": s}).to_string().replace("123456.0", "1e999")).await;
    expect_error(&mut ws, &["scene.shapes[2].radius"]).await;
    ws.send(json!({"action": "render", "scene": scene(16, 16, 1), "format": "gif"})).await;
    expect_error(&mut ws, &["format"]).await;
    ws.send(json!({"action": "submit", "job": {"kind": "teleport"}})).await;
    expect_error(&mut ws, &["kind", "teleport"]).await;
    ws.send(
        json!({"action": "submit", "job": {"kind": "zip", "jobs": ["0123456789abcdef0123456789abcdef"]}}),
    )
    .await;
    expect_error(&mut ws, &["jobs[0]"]).await;
    ws.send(json!({"action": "cancel", "job_id": "nope"})).await;
    expect_error(&mut ws, &["job_id"]).await;
    ws.send(json!({"action": "subscribe"})).await;
    expect_error(&mut ws, &["job_id"]).await;

    // Still usable: the same connection renders.
    ws.send(json!({"action": "render", "scene": scene(24, 16, 1)})).await;
    let msgs = ws.until(|m| m["type"] == "result" || m["type"] == "error").await;
    assert_eq!(msgs.last().unwrap()["type"], "result", "{msgs:?}");
    still_serves(&farm).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_frame_over_the_limit() {
    let limits = Limits { max_ws_frame_bytes: 64 * 1024, ..Limits::default() };
    let farm = Farm::start_with(CoordinatorConfig { port: 0, limits, ..Default::default() }, true);
    let mut ws = Ws::connect(&farm.ws).await;
    assert_eq!(ws.next().await.unwrap()["type"], "hello");
    let huge = json!({"action": "render", "scene": scene(16, 16, 1), "name": "x".repeat(200 * 1024)});
    ws.send(huge).await;
    // Either the server closes the connection or it answers with an error; it never renders.
    match ws.next_within(Duration::from_secs(10)).await {
        Ok(None) => {}
        Ok(Some(m)) => assert_eq!(m["type"], "error", "{m}"),
        Err(()) => panic!("no answer to an oversized frame"),
    }
    // The server lives on: a fresh connection renders.
    let mut ws = Ws::connect(&format!("{}/ws", farm.ws)).await;
    assert_eq!(ws.next().await.unwrap()["type"], "hello");
    ws.send(json!({"action": "render", "scene": scene(24, 16, 1)})).await;
    let msgs = ws.until(|m| m["type"] == "result" || m["type"] == "error").await;
    assert_eq!(msgs.last().unwrap()["type"], "result", "{msgs:?}");
    still_serves(&farm).await;
}
