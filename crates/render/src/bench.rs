//! `tessera bench`: time the renderer on a scene file and compare it with a reference image.

use crate::film::{block_average, mean, read_exr_rgb, rmse};
use crate::{render_image, PreparedScene, RenderError};
use std::path::Path;
use std::time::Instant;
use tessera_types::scene::Scene;

/// Timings and image statistics of one benchmark.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Samples per pixel rendered.
    pub spp: u32,
    /// Maximum path depth.
    pub max_depth: u32,
    /// Rayon threads used.
    pub threads: usize,
    /// Seconds to build the scene (parse excluded): validation, flattening, BVH.
    pub prepare_seconds: f64,
    /// Render seconds of each repeat, in run order.
    pub seconds: Vec<f64>,
    /// Median of `seconds`.
    pub median_seconds: f64,
    /// Camera samples per second at the median time.
    pub samples_per_second: f64,
    /// Mean over all pixels and channels of the last repeat's image.
    pub mean: f64,
    /// Mean of the reference image, if one was given.
    pub reference_mean: Option<f64>,
    /// Per-pixel RMSE against the reference.
    pub rmse: Option<f64>,
    /// RMSE after averaging 8x8 pixel blocks of both images.
    pub rmse_8x8: Option<f64>,
}

/// Renders `scene_path` `repeats` times on a pool of `threads` threads (spp overridable) and
/// reports the median render time, samples/s, image mean and RMSE against `reference_exr`.
pub fn run_bench(
    scene_path: &Path,
    reference_exr: Option<&Path>,
    threads: usize,
    spp: Option<u32>,
    repeats: u32,
) -> Result<BenchReport, RenderError> {
    run_bench_with(scene_path, reference_exr, threads, spp, repeats, None)
}

/// [`run_bench`] with the environment's light sampling forced on or off
/// ([`PreparedScene::with_env_light`]); None keeps the renderer's default.
pub fn run_bench_with(
    scene_path: &Path,
    reference_exr: Option<&Path>,
    threads: usize,
    spp: Option<u32>,
    repeats: u32,
    env_light: Option<bool>,
) -> Result<BenchReport, RenderError> {
    let text = std::fs::read_to_string(scene_path)
        .map_err(|source| RenderError::Io { path: scene_path.display().to_string(), source })?;
    let scene = Scene::from_json_str(&text)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| RenderError::Other(format!("thread pool: {e}")))?;
    let t0 = Instant::now();
    let mut prepared = PreparedScene::new(&scene)?;
    if let Some(spp) = spp {
        prepared = prepared.with_spp(spp);
    }
    if let Some(on) = env_light {
        prepared = prepared.with_env_light(on);
    }
    let prepare_seconds = t0.elapsed().as_secs_f64();
    let reference = reference_exr.map(read_exr_rgb).transpose()?;
    if let Some(r) = &reference {
        if (r.width, r.height) != (prepared.width(), prepared.height()) {
            return Err(RenderError::Other(format!(
                "reference is {}x{}, the scene renders {}x{}",
                r.width,
                r.height,
                prepared.width(),
                prepared.height()
            )));
        }
    }
    let mut seconds = Vec::new();
    let mut image = Vec::new();
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        image = pool.install(|| render_image(&prepared, &|_, _| {}));
        seconds.push(t.elapsed().as_secs_f64());
    }
    let mut sorted = seconds.clone();
    sorted.sort_by(f64::total_cmp);
    let median_seconds = sorted[sorted.len() / 2];
    let samples = f64::from(prepared.width()) * f64::from(prepared.height()) * f64::from(prepared.spp());
    let (w, h) = (prepared.width(), prepared.height());
    Ok(BenchReport {
        width: w,
        height: h,
        spp: prepared.spp(),
        max_depth: prepared.max_depth(),
        threads,
        prepare_seconds,
        samples_per_second: samples / median_seconds,
        median_seconds,
        seconds,
        mean: mean(&image),
        reference_mean: reference.as_ref().map(|r| mean(&r.data)),
        rmse: reference.as_ref().map(|r| rmse(&image, &r.data)),
        rmse_8x8: reference
            .as_ref()
            .map(|r| rmse(&block_average(&image, w, h, 8), &block_average(&r.data, w, h, 8))),
    })
}
