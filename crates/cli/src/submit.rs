//! `tessera submit FILE --server URL [--wait]`: posts a job document and, with `--wait`,
//! follows its progress and downloads the result.

use crate::config::FileConfig;
use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `tessera submit`.
#[derive(clap::Args)]
pub struct SubmitArgs {
    /// Job document (JSON, DESIGN 2.5), or a bare scene, which is submitted as a render job.
    file: PathBuf,
    /// Coordinator URL [default: http://127.0.0.1:8765].
    #[arg(long, env = "TESSERA_SERVER")]
    server: Option<String>,
    /// Access token.
    #[arg(long, env = "TESSERA_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Follow progress and download the result.
    #[arg(long)]
    wait: bool,
    /// Where to save the result (with --wait) [default: the server's file name].
    #[arg(short, long)]
    output: Option<PathBuf>,
}

async fn check(resp: reqwest::Response) -> Result<reqwest::Response> {
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let msg = body.get("error").and_then(Value::as_str).unwrap_or("no message");
    bail!("server answered {status}: {msg}")
}

/// Runs the command.
pub async fn run(args: SubmitArgs, file: &FileConfig) -> Result<()> {
    let server = args.server.or(file.server.clone()).unwrap_or_else(|| "http://127.0.0.1:8765".into());
    let server = server.trim_end_matches('/').to_string();
    let token = args.token.or(file.token.clone());
    let text =
        std::fs::read_to_string(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    let mut doc: Value =
        serde_json::from_str(&text).with_context(|| format!("{}: not valid JSON", args.file.display()))?;
    if doc.get("kind").is_none() && doc.get("shapes").is_some() {
        doc = serde_json::json!({ "kind": "render", "scene": doc });
    }
    let client = reqwest::Client::new();
    let auth = |rb: reqwest::RequestBuilder| match &token {
        Some(t) => rb.bearer_auth(t),
        None => rb,
    };
    let resp = auth(client.post(format!("{server}/api/jobs")).json(&doc))
        .send()
        .await
        .with_context(|| format!("cannot reach {server}"))?;
    let created: Value = check(resp).await?.json().await?;
    let id = created["job_id"].as_str().context("server answered without a job id")?.to_string();
    println!("{id}");
    if !args.wait {
        return Ok(());
    }
    let bar = ProgressBar::new(created["job"]["tasks_total"].as_u64().unwrap_or(0));
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} tasks  {elapsed}  {msg}")?);
    let job = loop {
        let job: Value =
            check(auth(client.get(format!("{server}/api/jobs/{id}"))).send().await?).await?.json().await?;
        bar.set_position(job["tasks_done"].as_u64().unwrap_or(0));
        bar.set_message(job["status"].as_str().unwrap_or("").to_string());
        match job["status"].as_str() {
            Some("done") => break job,
            Some("error") => bail!("job {id} failed: {}", job["error"].as_str().unwrap_or("no message")),
            Some("cancelled") => bail!("job {id} was cancelled"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    bar.finish_and_clear();
    let name = job["output"]["filename"].as_str().unwrap_or("result.bin");
    let out = args.output.unwrap_or_else(|| PathBuf::from(name));
    let bytes = check(auth(client.get(format!("{server}/api/jobs/{id}/result"))).send().await?)
        .await?
        .bytes()
        .await?;
    std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    eprintln!("saved {} ({} bytes)", out.display(), bytes.len());
    Ok(())
}
