//! `tessera`: one binary for the whole farm (DESIGN 2.1).

mod bench;
mod config;
mod submit;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use config::FileConfig;
use indicatif::{ProgressBar, ProgressStyle};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::Arc;
use tessera_backend::{Backend, Timing};
use tessera_coordinator::{Coordinator, CoordinatorConfig};
use tessera_imageops::Format;
use tessera_kinds::Registry;
use tessera_types::scene::Scene;
use tessera_types::Limits;
use tessera_worker::{CancellationToken, Worker, WorkerConfig};

#[derive(Parser)]
#[command(name = "tessera", version, about = "A render farm and heavy-job system in one binary")]
struct Cli {
    /// TOML config file (default: ./tessera.toml when present).
    #[arg(long, global = true, env = "TESSERA_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Coordinator, embedded backend and a local worker, all on this machine.
    Up(UpArgs),
    /// Render a scene locally, without a server: the reference that farm output must equal.
    Render(RenderArgs),
    /// Submit a job document to a running coordinator.
    Submit(submit::SubmitArgs),
    /// Benchmarks: renderer samples/s against references, and time to first tile.
    Bench(bench::BenchArgs),
}

#[derive(clap::Args)]
struct UpArgs {
    /// Address to listen on [default: 127.0.0.1]; anything but loopback needs --token.
    #[arg(long, env = "TESSERA_BIND")]
    bind: Option<IpAddr>,
    /// Port [default: 8765]; 0 picks a free one.
    #[arg(long, env = "TESSERA_PORT")]
    port: Option<u16>,
    /// Data directory of the embedded store [default: ./tessera-data].
    #[arg(long, env = "TESSERA_DATA")]
    data: Option<PathBuf>,
    /// Access token required on every request when set.
    #[arg(long, env = "TESSERA_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Threads of the local worker [default: every core].
    #[arg(long, env = "TESSERA_THREADS")]
    threads: Option<usize>,
    /// Let the local worker run command jobs.
    #[arg(long, env = "TESSERA_ALLOW_COMMANDS")]
    allow_commands: bool,
    /// Start no local worker (the coordinator alone).
    #[arg(long, env = "TESSERA_NO_WORKER")]
    no_worker: bool,
}

#[derive(clap::Args)]
struct RenderArgs {
    /// Scene file (scene format v1, JSON).
    scene: PathBuf,
    /// Output file; the extension picks the format (png, jpg, bmp, ppm, exr).
    #[arg(short, long)]
    output: PathBuf,
    /// Threads [default: every core].
    #[arg(long, env = "TESSERA_THREADS")]
    threads: Option<usize>,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("TESSERA_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let file = FileConfig::load(cli.config.as_deref())?;
    match cli.command {
        Command::Render(args) => render(args, &file),
        Command::Up(args) => runtime()?.block_on(up(args, file)),
        Command::Submit(args) => runtime()?.block_on(submit::run(args, &file)),
        Command::Bench(args) => bench::run(args),
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    init_tracing();
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

/// Reads and validates a scene file, naming the file on error.
pub(crate) fn load_scene(path: &std::path::Path, limits: &Limits) -> Result<Scene> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{}: malformed JSON", path.display()))?;
    // The same JSON Schema the coordinator checks, so a scene that renders here is not
    // refused by the farm for its shape.
    tessera_kinds::scene_schema::check(&value).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let scene = Scene::from_json_value(value).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    // Local renders may load meshes by `path`, relative to the scene file; the farm may not.
    scene.validate_local(limits).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(scene)
}

fn render(args: RenderArgs, file: &FileConfig) -> Result<()> {
    let format = Format::from_path(&args.output).with_context(|| {
        format!("{}: unknown output extension; use .png, .jpg, .bmp, .ppm or .exr", args.output.display())
    })?;
    let limits = file.limits.clone().unwrap_or_default();
    let scene = load_scene(&args.scene, &limits)?;
    let threads = args.threads.or(file.threads).unwrap_or(0);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let base = args.scene.parent().map(std::path::Path::to_path_buf).unwrap_or_default();
    let prepared = tessera_render::PreparedScene::with_base_dir(&scene, base)?;
    let (w, h) = (prepared.width(), prepared.height());
    let bar = if args.quiet { ProgressBar::hidden() } else { ProgressBar::new(h as u64) };
    bar.set_style(ProgressStyle::with_template("{bar:40} {pos}/{len} rows  {elapsed} (eta {eta})")?);
    let start = std::time::Instant::now();
    let pixels =
        pool.install(|| tessera_render::render_image(&prepared, &|done, _| bar.set_position(done as u64)));
    bar.finish_and_clear();
    let secs = start.elapsed().as_secs_f64();
    let bytes = tessera_imageops::encode(&pixels, w, h, format)?;
    std::fs::write(&args.output, bytes).with_context(|| format!("writing {}", args.output.display()))?;
    if !args.quiet {
        let samples = w as f64 * h as f64 * scene.render.spp as f64;
        eprintln!(
            "wrote {} ({w}x{h}, {} spp) in {secs:.2} s, {:.2} M samples/s on {} threads",
            args.output.display(),
            scene.render.spp,
            samples / secs / 1e6,
            pool.current_num_threads()
        );
    }
    Ok(())
}

/// A running `tessera up`: the coordinator's address and the handles to stop it.
pub(crate) struct Farm {
    /// Where the coordinator listens.
    pub addr: std::net::SocketAddr,
    /// Cancelling it stops everything.
    pub shutdown: CancellationToken,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Farm {
    /// Starts coordinator and (optionally) a local worker on an embedded store in `data`.
    pub async fn start(
        data: &std::path::Path,
        coord: CoordinatorConfig,
        worker: Option<WorkerConfig>,
    ) -> Result<Farm> {
        let backend: Arc<dyn Backend> = Arc::new(
            tessera_backend_sqlite::SqliteBackend::open(data, Timing::default())
                .with_context(|| format!("opening the data directory {}", data.display()))?,
        );
        let registry = Registry::standard();
        let coordinator = Coordinator::bind(backend.clone(), registry.clone(), coord).await?;
        let addr = coordinator.local_addr();
        let shutdown = CancellationToken::new();
        let mut tasks = vec![];
        let stop = shutdown.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = coordinator.serve(stop).await {
                tracing::error!(error = %e, "coordinator stopped");
            }
        }));
        if let Some(wc) = worker {
            let w = Worker::new(backend, registry, wc)?;
            let stop = shutdown.clone();
            tasks.push(tokio::spawn(async move {
                if let Err(e) = w.run(stop).await {
                    tracing::error!(error = %e, "worker stopped");
                }
            }));
        }
        Ok(Farm { addr, shutdown, tasks })
    }

    /// Stops everything and waits for it.
    pub async fn stop(self) {
        self.shutdown.cancel();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

async fn up(args: UpArgs, file: FileConfig) -> Result<()> {
    let coord = CoordinatorConfig {
        bind: args.bind.or(file.bind).unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        port: args.port.or(file.port).unwrap_or(tessera_coordinator::DEFAULT_PORT),
        token: args.token.or(file.token),
        limits: file.limits.unwrap_or_default(),
        ..CoordinatorConfig::default()
    };
    let token = coord.token.clone();
    let data = args.data.or(file.data).unwrap_or_else(|| PathBuf::from("tessera-data"));
    let worker = (!args.no_worker).then(|| WorkerConfig {
        threads: args.threads.or(file.threads).unwrap_or(0),
        name: file.name.unwrap_or_else(tessera_worker::hostname),
        tags: file.tags.unwrap_or_default(),
        allow_commands: args.allow_commands || file.allow_commands.unwrap_or(false),
        ..WorkerConfig::default()
    });
    let farm = Farm::start(&data, coord, worker).await?;
    let mut url = format!("http://{}", farm.addr);
    if let Some(t) = token {
        url.push_str(&format!("/?token={t}"));
    }
    println!("tessera is up: {url}  (data in {})", data.display());
    wait_for_signal().await?;
    tracing::info!("shutting down");
    farm.stop().await;
    Ok(())
}

async fn wait_for_signal() -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r?,
        _ = term.recv() => {}
    }
    Ok(())
}
