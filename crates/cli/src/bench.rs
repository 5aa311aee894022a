//! `tessera bench`: renderer throughput against the benchmark scenes' references, the render
//! time needed to reach a target RMSE, and the time from submit to the first tile pushed over
//! the WebSocket.

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
        /// Scene files; their `.reference.exr` siblings are compared when present. Default:
        /// S1 and S2 from ../shared/scenes (when present), bench/scenes/M1_meshes.json and
        /// bench/scenes/B1_barchart.json, relative to the working directory.
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
        /// Also render S1 with each sphere made a mesh, 1M triangles in all (issue 3's
        /// million-triangle targets), generated from this S1 scene file.
        #[arg(long, value_name = "S1", num_args = 0..=1, default_missing_value = "../shared/scenes/S1_spheres.json")]
        mesh1m: Option<PathBuf>,
    },
    /// The smallest spp whose image reaches a target RMSE against the reference (doubling, then
    /// bisecting), and the render time at that spp.
    TimeToRmse {
        /// Scene file.
        #[arg(default_value = "../shared/scenes/S1_spheres.json")]
        scene: PathBuf,
        /// Reference image [default: the scene's `.reference.exr` sibling].
        #[arg(long)]
        reference: Option<PathBuf>,
        /// RMSE to reach; the default is what Mitsuba's best sampler reaches on S1 at 64 spp.
        #[arg(long, default_value_t = 0.0047)]
        target: f64,
        /// Give up above this many samples per pixel.
        #[arg(long, default_value_t = 4096)]
        max_spp: u32,
        /// Threads.
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Timed renders at the spp found; the median is reported.
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
        What::Render { scenes, threads, spp, repeats, mesh1m } => {
            let scenes = if scenes.is_empty() { default_scenes()? } else { scenes };
            println!(
                "scene\twidth\theight\tspp\tdepth\tthreads\tisa\tprimitives\tprepare_s\tbvh_s\tconvexity_s\tmedian_s\tMsamples_per_s\tmean\tref_mean\trmse\trmse_8x8"
            );
            for scene in scenes {
                let reference = reference_of(&scene);
                let reference = reference.exists().then_some(reference);
                let r = tessera_render::bench::run_bench(&scene, reference.as_deref(), threads, spp, repeats)
                    .with_context(|| format!("benchmarking {}", scene.display()))?;
                print_row(&scene.file_stem().unwrap_or_default().to_string_lossy(), &r);
            }
            if let Some(s1) = mesh1m {
                let scene = tessera_render::bench::mesh1m_of(&s1)
                    .with_context(|| format!("making the 1M-triangle scene from {}", s1.display()))?;
                let r = tessera_render::bench::run_bench_scene(
                    &scene,
                    std::path::Path::new("."),
                    None,
                    threads,
                    spp,
                    repeats,
                    None,
                    None,
                )
                .context("benchmarking the 1M-triangle scene")?;
                print_row("mesh1m", &r);
            }
            Ok(())
        }
        What::TimeToRmse { scene, reference, target, max_spp, threads, repeats } => {
            time_to_rmse(&scene, reference, target, max_spp, threads, repeats)
        }
        What::FirstTile { scene, tile, repeats, threads } => {
            let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            rt.block_on(first_tile(scene, tile, repeats, threads))
        }
    }
}

/// One tab-separated line of `bench render`, under its header.
fn print_row(name: &str, r: &tessera_render::BenchReport) {
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.5}")).unwrap_or_else(|| "-".into());
    println!(
        "{name}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.3}\t{:.4}\t{}\t{}\t{}",
        r.width,
        r.height,
        r.spp,
        r.max_depth,
        r.threads,
        r.isa,
        r.primitives,
        r.prepare_seconds,
        r.timings.build_seconds,
        r.timings.convexity_seconds,
        r.median_seconds,
        r.samples_per_second / 1e6,
        r.mean,
        opt(r.reference_mean),
        opt(r.rmse),
        opt(r.rmse_8x8)
    );
}

/// A scene's reference image: `NAME.reference.exr` beside `NAME.json`.
fn reference_of(scene: &std::path::Path) -> PathBuf {
    scene.with_extension("").with_extension("reference.exr")
}

/// The benchmark scenes that exist under the working directory: S1 and S2 need ../shared.
fn default_scenes() -> Result<Vec<PathBuf>> {
    let candidates = [
        "../shared/scenes/S1_spheres.json",
        "../shared/scenes/S2_materials.json",
        "bench/scenes/M1_meshes.json",
        "bench/scenes/B1_barchart.json",
    ];
    let (found, missing): (Vec<PathBuf>, Vec<PathBuf>) =
        candidates.iter().map(PathBuf::from).partition(|p| p.exists());
    for p in &missing {
        eprintln!("skipping {}: not found (run from the repository root)", p.display());
    }
    anyhow::ensure!(!found.is_empty(), "no benchmark scene found; give scene files as arguments");
    Ok(found)
}

/// Prints every probe, then one `result` line; fails when `max_spp` does not reach the target.
fn time_to_rmse(
    scene: &std::path::Path,
    reference: Option<PathBuf>,
    target: f64,
    max_spp: u32,
    threads: usize,
    repeats: u32,
) -> Result<()> {
    let reference = reference.unwrap_or_else(|| reference_of(scene));
    let r = tessera_render::bench::time_to_rmse(scene, &reference, threads, target, max_spp, repeats)
        .with_context(|| format!("time to RMSE on {} against {}", scene.display(), reference.display()))?;
    let name = scene.file_stem().unwrap_or_default().to_string_lossy();
    println!(
        "# time to RMSE {target} on {name} ({}x{}, depth {}, {} threads); probes in run order",
        r.width, r.height, r.max_depth, r.threads
    );
    println!("probe\tspp\trmse\tseconds");
    for p in &r.probes {
        println!("probe\t{}\t{:.6}\t{:.6}", p.spp, p.rmse, p.seconds);
    }
    let (Some(spp), Some(rmse), Some(median)) = (r.spp, r.rmse, r.median_seconds) else {
        anyhow::bail!("{name}: RMSE {target} not reached at {max_spp} spp");
    };
    let samples = f64::from(r.width) * f64::from(r.height) * f64::from(spp);
    println!("result\tscene\ttarget\tspp\trmse\tmedian_s\tMsamples_per_s\trender_s");
    println!(
        "result\t{name}\t{target}\t{spp}\t{rmse:.6}\t{median:.6}\t{:.3}\t{}",
        samples / median / 1e6,
        r.seconds.iter().map(|s| format!("{s:.6}")).collect::<Vec<_>>().join(",")
    );
    Ok(())
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
