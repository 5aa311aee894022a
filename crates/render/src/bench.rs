//! `tessera bench`: time the renderer on a scene file and compare it with a reference image.

use crate::film::{block_average, mean, read_exr_rgb, rmse};
use crate::{render_image, PrepareTimings, PreparedScene, RenderError};
use std::path::Path;
use std::time::Instant;
use tessera_types::scene::{Mesh, Scene, Shape};

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
    /// Instruction-set level of the pixel loop ([`crate::Isa::name`]).
    pub isa: &'static str,
    /// Primitives of the prepared scene (a triangle each for meshes).
    pub primitives: usize,
    /// Seconds to build the scene (parse excluded): validation, flattening, BVH, convexity.
    pub prepare_seconds: f64,
    /// The stages of `prepare_seconds`: the BVH build and the meshes' convexity proofs among them.
    pub timings: PrepareTimings,
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

/// A scene prepared for benchmarking, its thread pool and its reference image.
struct Loaded {
    prepared: PreparedScene,
    pool: rayon::ThreadPool,
    prepare_seconds: f64,
    reference: Option<crate::film::Image>,
}

/// Parses a scene file.
fn read_scene(scene_path: &Path) -> Result<Scene, RenderError> {
    let text = std::fs::read_to_string(scene_path)
        .map_err(|source| RenderError::Io { path: scene_path.display().to_string(), source })?;
    Ok(Scene::from_json_str(&text)?)
}

/// Prepares `scene` (mesh `path`s resolved in `base_dir`) on a pool of `threads` threads, which
/// it returns for the renders, and reads `reference_exr`, which must have the scene's size.
fn load(
    scene: &Scene,
    base_dir: &Path,
    reference_exr: Option<&Path>,
    threads: usize,
    spp: Option<u32>,
) -> Result<Loaded, RenderError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| RenderError::Other(format!("thread pool: {e}")))?;
    let t0 = Instant::now();
    // On the same threads as the renders: the build's targets are for a given core count.
    let mut prepared = pool.install(|| PreparedScene::with_base_dir(scene, base_dir))?;
    if let Some(spp) = spp {
        prepared = prepared.with_spp(spp);
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
    Ok(Loaded { prepared, pool, prepare_seconds, reference })
}

/// Renders `prepared` `repeats` times (at least once) on `pool`: each render's seconds, in run
/// order, and the last image.
fn timed_renders(pool: &rayon::ThreadPool, prepared: &PreparedScene, repeats: u32) -> (Vec<f64>, Vec<f32>) {
    let mut seconds = Vec::new();
    let mut image = Vec::new();
    for _ in 0..repeats.max(1) {
        let t = Instant::now();
        image = pool.install(|| render_image(prepared, &|_, _| {}));
        seconds.push(t.elapsed().as_secs_f64());
    }
    (seconds, image)
}

/// Median of a non-empty list.
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
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
    run_bench_with(scene_path, reference_exr, threads, spp, repeats, None, None)
}

/// [`run_bench`] with the environment's light sampling forced on or off
/// ([`PreparedScene::with_env_light`]) and the wide or the one-sample integrator forced
/// ([`PreparedScene::with_wide`]); None keeps the renderer's default.
pub fn run_bench_with(
    scene_path: &Path,
    reference_exr: Option<&Path>,
    threads: usize,
    spp: Option<u32>,
    repeats: u32,
    env_light: Option<bool>,
    wide: Option<bool>,
) -> Result<BenchReport, RenderError> {
    let scene = read_scene(scene_path)?;
    let base_dir = scene_path.parent().unwrap_or(Path::new("."));
    run_bench_scene(&scene, base_dir, reference_exr, threads, spp, repeats, env_light, wide)
}

/// [`run_bench_with`] on a scene already in memory (a generated one, such as [`mesh1m`]), with
/// mesh `path`s resolved in `base_dir`.
#[allow(clippy::too_many_arguments)]
pub fn run_bench_scene(
    scene: &Scene,
    base_dir: &Path,
    reference_exr: Option<&Path>,
    threads: usize,
    spp: Option<u32>,
    repeats: u32,
    env_light: Option<bool>,
    wide: Option<bool>,
) -> Result<BenchReport, RenderError> {
    let Loaded { mut prepared, pool, prepare_seconds, reference } =
        load(scene, base_dir, reference_exr, threads, spp)?;
    if let Some(on) = env_light {
        prepared = prepared.with_env_light(on);
    }
    if let Some(on) = wide {
        prepared = prepared.with_wide(on);
    }
    let (seconds, image) = timed_renders(&pool, &prepared, repeats);
    let median_seconds = median(&seconds);
    let samples = f64::from(prepared.width()) * f64::from(prepared.height()) * f64::from(prepared.spp());
    let (w, h) = (prepared.width(), prepared.height());
    Ok(BenchReport {
        width: w,
        height: h,
        spp: prepared.spp(),
        max_depth: prepared.max_depth(),
        threads,
        isa: prepared.isa().name(),
        primitives: prepared.primitives(),
        prepare_seconds,
        timings: prepared.timings(),
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

/// One render of a time-to-RMSE search.
#[derive(Debug, Clone, PartialEq)]
pub struct RmseProbe {
    /// Samples per pixel.
    pub spp: u32,
    /// Per-pixel RMSE against the reference.
    pub rmse: f64,
    /// Render seconds of this probe.
    pub seconds: f64,
}

/// The outcome of [`time_to_rmse`].
#[derive(Debug, Clone, PartialEq)]
pub struct TimeToRmse {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Maximum path depth.
    pub max_depth: u32,
    /// Rayon threads used.
    pub threads: usize,
    /// The RMSE to reach.
    pub target: f64,
    /// Every render of the search, in run order.
    pub probes: Vec<RmseProbe>,
    /// The smallest spp found whose image reaches the target, `None` if `max_spp` does not.
    pub spp: Option<u32>,
    /// RMSE at `spp`.
    pub rmse: Option<f64>,
    /// Render seconds of the timed repeats at `spp`, in run order.
    pub seconds: Vec<f64>,
    /// Median of `seconds`.
    pub median_seconds: Option<f64>,
}

/// Finds the smallest spp at which the render of `scene_path` reaches `target` RMSE against
/// `reference_exr` and times `repeats` renders at that spp.
///
/// The search doubles spp from 1 until the target is met (or `max_spp` is reached), then
/// bisects between the last miss and the first hit. A render is a deterministic function of
/// its spp (DESIGN 4), so every probe is exact; RMSE is not strictly monotonic in spp, so the
/// answer is an spp that reaches the target while the one below it does not, found on this
/// path. The probes are timed too but the reported time comes from the separate repeats, so a
/// cold first render does not count.
pub fn time_to_rmse(
    scene_path: &Path,
    reference_exr: &Path,
    threads: usize,
    target: f64,
    max_spp: u32,
    repeats: u32,
) -> Result<TimeToRmse, RenderError> {
    let scene = read_scene(scene_path)?;
    let base_dir = scene_path.parent().unwrap_or(Path::new("."));
    let Loaded { mut prepared, pool, reference, .. } =
        load(&scene, base_dir, Some(reference_exr), threads, None)?;
    let reference = reference.expect("load reads the reference it was given");
    let max_spp = max_spp.max(1);
    let mut probes = Vec::new();
    let mut probe = |prepared: PreparedScene, spp: u32| {
        let prepared = prepared.with_spp(spp);
        let t = Instant::now();
        let image = pool.install(|| render_image(&prepared, &|_, _| {}));
        let seconds = t.elapsed().as_secs_f64();
        let rmse = rmse(&image, &reference.data);
        probes.push(RmseProbe { spp, rmse, seconds });
        (prepared, rmse <= target)
    };
    // Doubling: `miss` is the largest spp known to miss the target, `hit` the first to reach it.
    let (mut miss, mut hit, mut spp) = (0u32, None, 1u32);
    loop {
        let (p, ok) = probe(prepared, spp);
        prepared = p;
        if ok {
            hit = Some(spp);
            break;
        }
        miss = spp;
        if spp >= max_spp {
            break;
        }
        spp = spp.saturating_mul(2).min(max_spp);
    }
    if let Some(mut hi) = hit {
        while hi - miss > 1 {
            let mid = miss + (hi - miss) / 2;
            let (p, ok) = probe(prepared, mid);
            prepared = p;
            if ok {
                hi = mid;
            } else {
                miss = mid;
            }
        }
        hit = Some(hi);
    }
    let rmse_at = hit.and_then(|s| probes.iter().find(|p| p.spp == s).map(|p| p.rmse));
    let mut seconds = Vec::new();
    if let Some(s) = hit {
        prepared = prepared.with_spp(s);
        seconds = timed_renders(&pool, &prepared, repeats).0;
    }
    Ok(TimeToRmse {
        width: prepared.width(),
        height: prepared.height(),
        max_depth: prepared.max_depth(),
        threads,
        target,
        probes,
        spp: hit,
        rmse: rmse_at,
        median_seconds: (!seconds.is_empty()).then(|| median(&seconds)),
        seconds,
    })
}

/// Rings and segments of each sphere of [`mesh1m`]: S1's four spheres x 2 x 250 x 500 = 1.0M
/// triangles (the 4 x 1000 degenerate ones at the poles are dropped when the scene is prepared).
pub const MESH1M_RINGS_SEGMENTS: (u32, u32) = (250, 500);

/// A UV sphere as a mesh of `rings` x `segments` quads (two triangles each), wound
/// counter-clockwise seen from outside so that its normals point out. Positions are computed in
/// f64 and rounded once, so the same arguments give the same bits everywhere.
pub fn uv_sphere(center: [f64; 3], radius: f64, rings: u32, segments: u32, material: &str) -> Mesh {
    let mut positions = Vec::with_capacity(((rings + 1) * segments) as usize);
    for i in 0..=rings {
        let theta = std::f64::consts::PI * f64::from(i) / f64::from(rings);
        for j in 0..segments {
            let phi = 2.0 * std::f64::consts::PI * f64::from(j) / f64::from(segments);
            positions.push([
                (center[0] + radius * theta.sin() * phi.cos()) as f32,
                (center[1] + radius * theta.sin() * phi.sin()) as f32,
                (center[2] + radius * theta.cos()) as f32,
            ]);
        }
    }
    let mut indices = Vec::with_capacity((2 * rings * segments) as usize);
    for i in 0..rings {
        for j in 0..segments {
            let a = i * segments + j;
            let b = i * segments + (j + 1) % segments;
            let (c, d) = (a + segments, b + segments);
            indices.push([a, c, b]);
            indices.push([b, c, d]);
        }
    }
    Mesh { positions, indices, material: Some(material.to_string()), ..Mesh::default() }
}

/// `scene` with each sphere replaced by a [`uv_sphere`] mesh of `rings` x `segments`.
pub fn tessellate_spheres(scene: &Scene, rings: u32, segments: u32) -> Scene {
    let mut out = scene.clone();
    for shape in &mut out.shapes {
        if let Shape::Sphere(s) = shape {
            let c = s.center.map(f64::from);
            *shape = Shape::Mesh(uv_sphere(c, f64::from(s.radius), rings, segments, &s.material));
        }
    }
    out
}

/// The million-triangle benchmark scene: S1 (`s1`) with its spheres tessellated
/// ([`MESH1M_RINGS_SEGMENTS`]), so that the 1M targets are measured against S1 in one run.
pub fn mesh1m(s1: &Scene) -> Scene {
    let (rings, segments) = MESH1M_RINGS_SEGMENTS;
    tessellate_spheres(s1, rings, segments)
}

/// [`mesh1m`] of the scene file `s1_path`.
pub fn mesh1m_of(s1_path: &Path) -> Result<Scene, RenderError> {
    Ok(mesh1m(&read_scene(s1_path)?))
}
