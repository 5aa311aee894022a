//! Security defaults (DESIGN 6): no non-loopback bind without a token, and with a token every
//! REST and WebSocket request must present it.

mod common;

use common::{render_doc, Farm, Ws};
use serde_json::{json, Value};
use std::sync::Arc;
use tessera_backend::{Backend, Timing};
use tessera_backend_sqlite::SqliteBackend;
use tessera_coordinator::{Coordinator, CoordinatorConfig, StartError};
use tessera_kinds::Registry;
use tokio_tungstenite::tungstenite;

const TOKEN: &str = "s3cret-t0ken";

fn token_farm() -> Farm {
    Farm::start_with(CoordinatorConfig { port: 0, token: Some(TOKEN.into()), ..Default::default() }, true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_loopback_bind_needs_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Backend> = Arc::new(SqliteBackend::open(dir.path(), Timing::default()).unwrap());
    let any: std::net::IpAddr = "0.0.0.0".parse().unwrap();
    let config = CoordinatorConfig { bind: any, port: 0, ..Default::default() };
    match Coordinator::bind(backend.clone(), Registry::standard(), config).await {
        Err(StartError::TokenRequired(ip)) => assert_eq!(ip, any),
        Err(e) => panic!("wrong error: {e}"),
        Ok(c) => panic!("bound {} without a token", c.local_addr()),
    }
    // An empty token is no token: it would let `Authorization: Bearer ` in.
    let config = CoordinatorConfig { bind: any, port: 0, token: Some(" ".into()), ..Default::default() };
    match Coordinator::bind(backend.clone(), Registry::standard(), config).await {
        Err(StartError::TokenRequired(_)) => {}
        Err(e) => panic!("wrong error: {e}"),
        Ok(c) => panic!("bound {} with an empty token", c.local_addr()),
    }
    // Loopback with a token binds.
    let config = CoordinatorConfig { port: 0, token: Some(TOKEN.into()), ..Default::default() };
    let c = Coordinator::bind(backend, Registry::standard(), config).await.expect("loopback + token binds");
    assert!(c.local_addr().ip().is_loopback());
}

async fn get(client: &reqwest::Client, url: String) -> reqwest::Response {
    client.get(url).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_requires_the_token() {
    let farm = token_farm();
    let anon = reqwest::Client::new();

    for path in ["/api/status", "/api/jobs", "/api/workers", "/metrics", "/api/openapi.json", "/"] {
        let resp = get(&anon, farm.url(path)).await;
        assert_eq!(resp.status(), 401, "{path} without a token");
        let body: Value = resp.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains("token"), "{body}");
    }
    let resp = anon.post(farm.url("/api/jobs")).json(&render_doc(16, 16, 1)).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(farm.get_json("/api/status").await["jobs"]["queued"], 0, "refused job was stored");

    // bearer: right and wrong
    let resp = anon.get(farm.url("/api/status")).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.json::<Value>().await.unwrap()["workers"], 1);
    for wrong in ["wrong", "s3cret-t0keN", "s3cret-t0ken-longer", ""] {
        let resp = anon.get(farm.url("/api/status")).bearer_auth(wrong).send().await.unwrap();
        assert_eq!(resp.status(), 401, "bearer {wrong:?}");
    }

    // ?token= works and leaves a cookie that works on its own
    let resp = get(&anon, farm.url(&format!("/api/status?token={TOKEN}"))).await;
    assert_eq!(resp.status(), 200);
    let cookie = resp.headers()[reqwest::header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(cookie.starts_with(&format!("tessera_token={TOKEN}")), "{cookie}");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    let resp = anon.get(farm.url("/api/workers")).header(reqwest::header::COOKIE, pair).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let resp =
        anon.get(farm.url("/api/workers")).header(reqwest::header::COOKIE, "tessera_token=nope").send().await;
    assert_eq!(resp.unwrap().status(), 401);
    let resp = get(&anon, farm.url("/api/status?token=nope")).await;
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().get(reqwest::header::SET_COOKIE).is_none());

    // and the token lets real work through
    farm.run_job(render_doc(16, 16, 1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_requires_the_token() {
    let farm = token_farm();
    for url in [farm.ws.clone(), format!("{}/ws", farm.ws), format!("{}/ws?token=wrong", farm.ws)] {
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Err(tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 401, "{url}"),
            Err(e) => panic!("{url}: unexpected error {e}"),
            Ok(_) => panic!("{url}: connected without the token"),
        }
    }
    for url in [format!("{}/?token={TOKEN}", farm.ws), format!("{}/ws?token={TOKEN}", farm.ws)] {
        let mut ws = Ws::connect(&url).await;
        let hello = ws.next().await.unwrap();
        assert_eq!(hello["type"], "hello", "{url}: {hello}");
        assert_eq!(hello["workers"], 1);
    }
    let mut ws = Ws::connect(&format!("{}/ws?token={TOKEN}", farm.ws)).await;
    ws.next().await.unwrap();
    ws.send(json!({"action": "render", "scene": common::scene(16, 16, 1)})).await;
    let msgs = ws.until(|m| m["type"] == "result" || m["type"] == "error").await;
    assert_eq!(msgs.last().unwrap()["type"], "result", "{msgs:?}");
}
