//! Times the renderer on scene files, e.g.
//! `cargo run --release -p tessera-render --example bench -- --threads 2 --spp 64 --repeats 3 \
//!   /work/shared/scenes/S1_spheres.json /work/shared/scenes/S2_materials.json`
//! A `NAME.reference.exr` beside a scene is used as its reference when present.
//! `--env-light on|off` forces the environment's light sampling, `--wide on|off` the eight-lane
//! or the one-sample integrator (default: the renderer's).
//!
//! `--mesh1m S1.json` adds a generated scene: S1 with each sphere replaced by a UV-sphere mesh,
//! about 1M triangles in all (written to a temporary file for the anchors, not committed). Every
//! scene's line gives its preparation time (validation, flattening, BVH build, convexity) next
//! to its samples/s, so the million-triangle targets are measured against S1 in the same run.

use std::path::{Path, PathBuf};
use tessera_render::bench::mesh1m_of;
use tessera_render::run_bench_with;

/// S1 with its spheres tessellated (`tessera_render::bench::mesh1m`), written to a temporary
/// file so that the anchors' scripts can render the same scene; returns its path.
fn mesh_scene(s1: &Path) -> PathBuf {
    let scene = mesh1m_of(s1).expect("S1 scene");
    let path = std::env::temp_dir().join("tessera_mesh1m.json");
    std::fs::write(&path, serde_json::to_string(&scene).unwrap()).expect("write mesh scene");
    println!("generated {}", path.display());
    path
}

fn main() {
    let mut threads = 2usize;
    let mut spp = None;
    let mut repeats = 3u32;
    let mut env_light = None;
    let mut wide = None;
    let mut scenes = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().expect("flag needs a value");
        match a.as_str() {
            "--threads" => threads = val().parse().expect("--threads N"),
            "--spp" => spp = Some(val().parse().expect("--spp N")),
            "--repeats" => repeats = val().parse().expect("--repeats N"),
            "--env-light" => env_light = Some(val() == "on"),
            "--wide" => wide = Some(val() == "on"),
            "--mesh1m" => scenes.push(mesh_scene(Path::new(&val()))),
            _ => scenes.push(PathBuf::from(a)),
        }
    }
    for scene in scenes {
        let reference = scene.with_extension("reference.exr");
        let reference = reference.exists().then_some(reference);
        let r = run_bench_with(&scene, reference.as_deref(), threads, spp, repeats, env_light, wide)
            .expect("bench");
        println!(
            "{}: {}x{} spp {} depth {} threads {} isa {}: {} primitives, prepare {:.3} s (BVH {:.3} s, convexity {:.3} s); render s {:?} median {:.3} s -> {:.2} Msamples/s; mean {:.4} ref mean {:?} rmse {:?} rmse8x8 {:?}",
            scene.display(),
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
            r.seconds.iter().map(|s| (s * 1000.0).round() / 1000.0).collect::<Vec<_>>(),
            r.median_seconds,
            r.samples_per_second / 1e6,
            r.mean,
            r.reference_mean,
            r.rmse,
            r.rmse_8x8
        );
    }
}
