//! Runs the real `tessera` binary as a child process for end-to-end tests.

#![allow(dead_code)]

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tessera"))
}

/// A `tessera up` child process; killed on drop.
pub struct Up {
    pub child: Child,
    pub base: String,
}

impl Up {
    /// Starts `tessera up` on a free port with `data` as its store and waits for its URL.
    pub fn start(data: &Path, threads: usize) -> Up {
        let mut child = Command::new(bin())
            .args(["up", "--port", "0", "--threads", &threads.to_string(), "--data"])
            .arg(data)
            .env("TESSERA_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn tessera up");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read url line");
        let base = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .trim_end_matches('/')
            .to_string();
        Up { child, base }
    }

    /// Kills the process without warning (SIGKILL).
    pub fn kill9(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }

    /// POSTs a job document and returns its id.
    pub fn submit(&self, doc: &Value) -> String {
        let resp = reqwest::blocking::Client::new()
            .post(format!("{}/api/jobs", self.base))
            .json(doc)
            .send()
            .expect("post job");
        assert_eq!(resp.status().as_u16(), 201, "submit refused: {:?}", resp.text());
        let v: Value = resp.json().expect("json");
        v["job_id"].as_str().expect("job_id").to_string()
    }

    /// The job as the API shows it.
    pub fn job(&self, id: &str) -> Value {
        reqwest::blocking::get(format!("{}/api/jobs/{id}", self.base)).expect("get job").json().expect("json")
    }

    /// Polls until `pred` holds for the job, or panics after `timeout`.
    pub fn wait_job(&self, id: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let j = self.job(id);
            if pred(&j) {
                return j;
            }
            assert_ne!(j["status"], "error", "job failed: {j}");
            assert!(start.elapsed() < timeout, "timed out waiting on job: {j}");
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits for the job to be done and downloads its result.
    pub fn result(&self, id: &str, timeout: Duration) -> Vec<u8> {
        self.wait_job(id, timeout, |j| j["status"] == "done");
        let resp = reqwest::blocking::get(format!("{}/api/jobs/{id}/result", self.base)).expect("result");
        assert!(resp.status().is_success());
        resp.bytes().expect("bytes").to_vec()
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A small variant of the default scene: `w`×`h`, `spp` samples.
pub fn small_scene(w: u32, h: u32, spp: u32) -> Value {
    let mut scene = serde_json::to_value(tessera_types::scene::Scene::default_scene()).expect("scene");
    scene["render"]["width"] = json!(w);
    scene["render"]["height"] = json!(h);
    scene["render"]["spp"] = json!(spp);
    scene
}

/// `tessera render --quiet SCENE -o OUT`, for the caller to add options to and run.
pub fn render_cmd(scene: &Path, out: &Path) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(["render", "--quiet"]).arg(scene).arg("-o").arg(out);
    cmd
}

/// Renders `scene` with `tessera render` and returns the file's bytes.
pub fn render_locally(dir: &Path, scene: &Value, threads: usize, ext: &str) -> Vec<u8> {
    let scene_path = dir.join(format!("scene-{threads}.json"));
    std::fs::write(&scene_path, serde_json::to_vec(scene).unwrap()).unwrap();
    let out = dir.join(format!("local-{threads}.{ext}"));
    let status = render_cmd(&scene_path, &out)
        .args(["--threads", &threads.to_string()])
        .status()
        .expect("run tessera render");
    assert!(status.success(), "tessera render failed");
    std::fs::read(out).unwrap()
}
