//! Process life cycle of `tessera up`: SIGTERM stops it cleanly even with a WebSocket open,
//! and the worker signs off with a reason.

mod common;

use common::Up;
use std::time::{Duration, Instant};

#[test]
fn sigterm_with_an_open_websocket_exits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let mut up = Up::start(&dir.path().join("data"), 1);
    let ws_url = up.base.replace("http://", "ws://") + "/ws";
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _ws = rt.block_on(async { tokio_tungstenite::connect_async(&ws_url).await.expect("connect").0 });
    let status =
        std::process::Command::new("kill").args(["-TERM", &up.child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let start = Instant::now();
    loop {
        if let Some(code) = up.child.try_wait().unwrap() {
            assert!(code.success(), "tessera up exited with {code}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "tessera up ignored SIGTERM with a WebSocket open"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn refuses_a_public_bind_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::bin())
        .args(["up", "--bind", "0.0.0.0", "--port", "0", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("without a token"), "stderr: {err}");
}
