//! Tessera's CPU path tracer. It turns a [`Scene`] into linear RGB radiance and knows nothing of
//! jobs, tiles or workers beyond "render this rectangle".
//!
//! Determinism (DESIGN 4): every random number is keyed by (scene seed, pixel x, pixel y,
//! sample index) and a pixel's samples are summed in order on one thread, so any tiling and any
//! thread count produce bit-identical pixels. Transcendental functions come from the `libm`
//! crate (pure Rust, musl's algorithms), not the platform's C library, whose float results
//! the C standard leaves unspecified to the last bit and which may differ between versions and
//! systems: workers on different systems compute the same bits.

#![warn(missing_docs)]

pub mod bench;
mod bvh;
mod camera;
mod convex;
mod env;
pub mod film;
mod geometry;
mod import;
mod integrator;
mod isa;
mod lane;
mod lights;
mod material;
pub mod math;
mod microfacet;
mod packet;
mod prepare;
mod sampler;
mod simd;
mod wide;
pub mod xform;

use rayon::prelude::*;
use std::sync::atomic::{AtomicU32, Ordering};
use tessera_types::scene::Scene;
use tessera_types::FieldError;

pub use bench::{run_bench, run_bench_with, BenchReport};
pub use env::EnvSampler;
pub use film::{read_exr_rgb, write_exr_rgb, Image};
pub use import::LoadOptions;
pub use isa::Isa;
pub use material::{Bsdf, BsdfSample};
pub use sampler::Sampler;

use bvh::Bvh;
use camera::Camera;
use env::Env;
use geometry::Prim;
use material::Material;

/// Why a scene could not be prepared or a benchmark run.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The scene failed validation; the error names the field.
    #[error("invalid scene: {0}")]
    InvalidScene(#[from] FieldError),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An EXR file could not be decoded or encoded.
    #[error("{path}: EXR: {message}")]
    Exr {
        /// The file.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// Anything else, e.g. a reference image of the wrong size or an invalid thread count.
    #[error("{0}")]
    Other(String),
}

/// Whether next-event estimation samples a constant environment by default. No, by
/// measurement (BENCH_NOTES.md, 2026-11-30; efficiency = 1/(RMSE²·instructions)): on S1
/// light sampling raised RMSE by 5.7 % (64 spp, three seeds) and instructions by 34 %, 0.67×
/// the efficiency, because cosine sampling already matches a uniform sky and half of the sky
/// samples fall below the surface. S2 gained 1.07× only because sky samples displaced the
/// costlier shadow rays towards its lamp (RMSE +1.7 %, instructions −10 %).
/// A scene's `render.sample_environment` or [`PreparedScene::with_env_light`] turns it on.
const SAMPLE_CONSTANT_ENV: bool = false;

/// Whether next-event estimation samples a gradient sky by default. No, by the same
/// measurement on S1/S2 with skies: the golden tests' blue sky (zenith darker than the
/// horizon) 0.71× the efficiency on S1's geometry, 1.05× on S2's; a sky whose zenith is 15×
/// the horizon 1.08× (RMSE −20 %, instructions +46 %). Skies of format v1 are smooth, so the
/// gain needs a contrast few skies have, and the loss on a mild sky is the larger effect.
const SAMPLE_GRADIENT_ENV: bool = false;

/// A scene ready to render: validated, flattened to primitives, BVH built once. Send + Sync.
#[derive(Debug, Clone)]
pub struct PreparedScene {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) spp: u32,
    pub(crate) max_depth: u32,
    pub(crate) seed: u64,
    pub(crate) camera: Camera,
    pub(crate) env: Env,
    pub(crate) materials: Vec<Material>,
    pub(crate) prims: Vec<Prim>,
    pub(crate) bvh: Bvh,
    pub(crate) lights: lights::Lights,
    pub(crate) isa: Isa,
    /// Whether pixels are rendered many samples at a time in SIMD lanes (`wide.rs`) or one
    /// sample at a time (`integrator.rs`); both give the same pixels.
    pub(crate) wide: bool,
    /// The scene's point, spot and sun lights, kept to rebuild `lights`.
    light_descs: Vec<tessera_types::scene::Light>,
    /// Size of the region the image shows, which weighs distant lights (`prepare::light_radius`).
    light_radius: f32,
    timings: PrepareTimings,
}

/// Where [`PreparedScene::with_options`] spent its time, for benchmarks and logs.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PrepareTimings {
    /// Validating the scene and turning its shapes (meshes imported) into primitives.
    pub flatten_seconds: f64,
    /// Building the BVH.
    pub build_seconds: f64,
    /// Proving meshes convex so that rays leaving them skip them (`convex.rs`).
    pub convexity_seconds: f64,
}

impl PreparedScene {
    /// Validates the scene's structure (not the coordinator's size limits) and builds the BVH.
    /// Mesh `path`s are refused: use [`PreparedScene::with_base_dir`] for local files.
    pub fn new(scene: &Scene) -> Result<Self, RenderError> {
        Self::with_options(scene, &LoadOptions::default())
    }

    /// [`PreparedScene::new`] that resolves mesh `path`s relative to `dir` (local renders).
    pub fn with_base_dir(scene: &Scene, dir: impl Into<std::path::PathBuf>) -> Result<Self, RenderError> {
        Self::with_options(scene, &LoadOptions { base_dir: Some(dir.into()), ..LoadOptions::default() })
    }

    /// [`PreparedScene::new`] with explicit file access and import limits.
    pub fn with_options(scene: &Scene, opts: &LoadOptions) -> Result<Self, RenderError> {
        let t0 = std::time::Instant::now();
        let (materials, mut prims) = prepare::flatten(scene, opts)?;
        let t1 = std::time::Instant::now();
        let mut bvh = Bvh::build(&mut prims);
        let t2 = std::time::Instant::now();
        convex::keep_convex(&mut bvh, &mut prims);
        let timings = PrepareTimings {
            flatten_seconds: (t1 - t0).as_secs_f64(),
            build_seconds: (t2 - t1).as_secs_f64(),
            convexity_seconds: t2.elapsed().as_secs_f64(),
        };
        let r = &scene.render;
        let camera = Camera::new(&scene.camera, r.width, r.height);
        let env = Env::new(&scene.environment);
        let radius = prepare::light_radius(&camera, &bvh, &prims, r.width, r.height);
        let env_light = r.sample_environment.unwrap_or(match env {
            Env::Constant(_) => SAMPLE_CONSTANT_ENV,
            Env::Gradient { .. } => SAMPLE_GRADIENT_ENV,
        });
        let lights = lights::Lights::new(&prims, &materials, &scene.lights, env_light.then_some(env), radius);
        Ok(PreparedScene {
            width: r.width,
            height: r.height,
            spp: r.spp,
            max_depth: r.max_depth,
            seed: r.seed,
            camera,
            env,
            materials,
            prims,
            bvh,
            lights,
            isa: Isa::detect(),
            wide: true,
            light_descs: scene.lights.clone(),
            light_radius: radius,
            timings,
        })
    }

    /// Image width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Image height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Samples per pixel.
    pub fn spp(&self) -> u32 {
        self.spp
    }

    /// Maximum path depth (segments including the camera ray).
    pub fn max_depth(&self) -> u32 {
        self.max_depth
    }

    /// The same scene rendered with a different sample count (benchmarks, previews).
    pub fn with_spp(mut self, spp: u32) -> Self {
        self.spp = spp.max(1);
        self
    }

    /// The same scene rendered with the pixel loop compiled for `isa` (every level gives the
    /// same pixels; tests and benchmarks compare them). The default is [`Isa::detect`].
    pub fn with_isa(mut self, isa: Isa) -> Self {
        self.isa = isa;
        self
    }

    /// The same scene rendered many samples of a pixel at a time, in SIMD lanes (true, the
    /// default), or one sample at a time (false). The pixels are the same either way; tests
    /// compare them, and benchmarks the speed.
    pub fn with_wide(mut self, wide: bool) -> Self {
        self.wide = wide;
        self
    }
    /// The instruction-set level the pixel loop runs with.
    pub fn isa(&self) -> Isa {
        self.isa
    }

    /// How long the preparation's stages took.
    pub fn timings(&self) -> PrepareTimings {
        self.timings
    }

    /// Number of primitives (a triangle each for meshes) after degenerate ones are dropped.
    pub fn primitives(&self) -> usize {
        self.prims.len()
    }

    /// The same scene with the environment sampled as a light by next-event estimation (and
    /// combined with BSDF sampling by MIS) or reached by BSDF sampling alone. The image
    /// converges to the same values either way; only noise and cost differ (see
    /// `SAMPLE_CONSTANT_ENV`). Overrides the scene's `render.sample_environment`.
    pub fn with_env_light(mut self, on: bool) -> Self {
        let env = on.then_some(self.env);
        self.lights =
            lights::Lights::new(&self.prims, &self.materials, &self.light_descs, env, self.light_radius);
        self
    }

    /// The same scene rendered with a different maximum depth (at least 1).
    pub fn with_max_depth(mut self, max_depth: u32) -> Self {
        self.max_depth = max_depth.max(1);
        self
    }
}

/// Renders one row segment of `w` pixels starting at (`x`, `y`) into `out` (w*3 floats).
fn render_row(scene: &PreparedScene, x: u32, y: u32, out: &mut [f32]) {
    isa::render_pixels(scene, out, |i| (x + i as u32, y));
}

/// Linear RGB radiance, w*h*3 f32, row-major, row 0 = top of the rectangle. Uses rayon's current
/// thread pool (callers pick the pool with `ThreadPool::install`).
///
/// Pixels outside the image are rendered as if the film extended there (callers should not ask).
pub fn render_rect(scene: &PreparedScene, x: u32, y: u32, w: u32, h: u32) -> Vec<f32> {
    let mut out = vec![0.0f32; w as usize * h as usize * 3];
    if w == 0 || h == 0 {
        return out;
    }
    // Blocks of pixels in row-major order rather than whole rows, so a wide, short rectangle
    // still spreads over every thread; a block may run over into the next row.
    const BLOCK: usize = 32;
    out.par_chunks_mut(BLOCK * 3).enumerate().for_each(|(b, buf)| {
        isa::render_pixels(scene, buf, |k| {
            let i = b * BLOCK + k;
            (x + (i % w as usize) as u32, y + (i / w as usize) as u32)
        });
    });
    out
}

/// Whole image, calling `on_progress(rows_done, total_rows)` as it goes (from any thread).
pub fn render_image(scene: &PreparedScene, on_progress: &(dyn Fn(u32, u32) + Sync)) -> Vec<f32> {
    let (w, h) = (scene.width, scene.height);
    let mut out = vec![0.0f32; w as usize * h as usize * 3];
    let done = AtomicU32::new(0);
    out.par_chunks_mut(w as usize * 3).enumerate().for_each(|(row, buf)| {
        render_row(scene, 0, row as u32, buf);
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        on_progress(n, h);
    });
    out
}
