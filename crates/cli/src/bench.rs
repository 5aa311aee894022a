//! `tessera bench`: renderer throughput against the benchmark scenes' references, and the
//! time from submit to the first tile pushed over the WebSocket.

use crate::Farm;
use anyhow::{Context, Result};
use futures::{SinkExt, StreamExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tessera_coordinator::CoordinatorConfig;
use tessera_worker::WorkerConfig;
use tokio_tungstenite::tungstenite::Message;

/// Arguments of `tessera bench`.
#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// Samples per second and RMSE against the references, per scene.
    Render {
        /// Scene files; their `.reference.exr` siblings are compared when present.
        #[arg(default_values = ["../shared/scenes/S1_spheres.json", "../shared/scenes/S2_materials.json"])]
        scenes: Vec<PathBuf>,
        /// Threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Override the scenes' samples per pixel.
        #[arg(long)]
        spp: Option<u32>,
        /// Repeats; the median is reported.
        #[arg(long, default_value_t = 3)]
        repeats: u32,
    },
    /// Time from submit to the first `tile` message on `tessera up` (in process, fresh store).
    FirstTile {
        /// Scene file.
        #[arg(default_value = "../shared/scenes/S1_spheres.json")]
        scene: PathBuf,
        /// Tile edge in pixels.
        #[arg(long, default_value_t = 32)]
        tile: u32,
        /// Repeats; the median is reported.
        #[arg(long, default_value_t = 7)]
        repeats: u32,
        /// Worker threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
    },
}

/// Runs the benchmark and prints one line per measurement.
pub fn run(args: BenchArgs) -> Result<()> {
    match args.what {
        What::Render { scenes, threads, spp, repeats } => {
            println!("scene\twidth\theight\tspp\tdepth\tthreads\tmedian_s\tMsamples_per_s\tmean\tref_mean\trmse\trmse_8x8");
            for scene in scenes {
                let reference = scene.with_extension("").with_extension("reference.exr");
                let reference = reference.exists().then_some(reference);
                let r = tessera_render::bench::run_bench(&scene, reference.as_deref(), threads, spp, repeats)
                    .with_context(|| format!("benchmarking {}", scene.display()))?;
                let opt = |v: Option<f64>| v.map(|v| format!("{v:.5}")).unwrap_or_else(|| "-".into());
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{:.3}\t{:.3}\t{:.4}\t{}\t{}\t{}",
                    scene.file_stem().unwrap_or_default().to_string_lossy(),
                    r.width,
                    r.height,
                    r.spp,
                    r.max_depth,
                    r.threads,
                    r.median_seconds,
                    r.samples_per_second / 1e6,
                    r.mean,
                    opt(r.reference_mean),
                    opt(r.rmse),
                    opt(r.rmse_8x8)
                );
            }
            Ok(())
        }
        What::FirstTile { scene, tile, repeats, threads } => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(first_tile(scene, tile, repeats, threads))
        }
    }
}

async fn first_tile(scene: PathBuf, tile: u32, repeats: u32, threads: usize) -> Result<()> {
    let scene = crate::load_scene(&scene, &Default::default())?;
    let dir = tempfile::tempdir()?;
    let coord = CoordinatorConfig { port: 0, ..CoordinatorConfig::default() };
    let worker = WorkerConfig { threads, ..WorkerConfig::default() };
    let farm = Farm::start(dir.path(), coord, Some(worker)).await?;
    let url = format!("ws://{}/ws", farm.addr);
    let mut times = vec![];
    for _ in 0..repeats {
        let (mut ws, _) = tokio_tungstenite::connect_async(&url).await.context("connecting")?;
        ws.next().await; // hello
        let msg = serde_json::json!({ "action": "render", "scene": scene, "tile_size": [tile, tile] });
        let start = Instant::now();
        ws.send(Message::Text(msg.to_string().into())).await?;
        let mut job_id = None;
        let elapsed = loop {
            let frame =
                tokio::time::timeout(Duration::from_secs(60), ws.next()).await?.context("closed")??;
            let Message::Text(t) = frame else { continue };
            let v: serde_json::Value = serde_json::from_str(t.as_str())?;
            match v["type"].as_str() {
                Some("tile") => break start.elapsed(),
                Some("job") => job_id = v["job_id"].as_str().map(str::to_string),
                Some("error") => anyhow::bail!("server error: {}", v["message"]),
                _ => {}
            }
        };
        times.push(elapsed.as_secs_f64() * 1000.0);
        if let Some(id) = job_id {
            let cancel = serde_json::json!({ "action": "cancel", "job_id": id });
            ws.send(Message::Text(cancel.to_string().into())).await?;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    farm.stop().await;
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    println!(
        "first tile ({tile}x{tile}, {threads} threads): median {median:.1} ms over {repeats} runs; all: {}",
        times.iter().map(|t| format!("{t:.1}")).collect::<Vec<_>>().join(" ")
    );
    Ok(())
}
