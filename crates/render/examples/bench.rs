//! Times the renderer on scene files, e.g.
//! `cargo run --release -p tessera-render --example bench -- --threads 2 --spp 64 --repeats 3 \
//!   /work/shared/scenes/S1_spheres.json /work/shared/scenes/S2_materials.json`
//! A `NAME.reference.exr` beside a scene is used as its reference when present.
//! `--env-light on|off` forces the environment's light sampling, `--wide on|off` the eight-lane
//! or the one-sample integrator (default: the renderer's).
//!
//! `--mesh1m S1.json` adds a generated scene: S1 with each sphere replaced by a UV-sphere mesh,
//! about 1M triangles in all (written to a temporary file, not committed), and prints its
//! preparation time (validation, flattening and the BVH build) next to its samples/s, so the
//! million-triangle targets are measured against S1 in the same run.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use tessera_render::run_bench_with;

/// Rings and segments per sphere: 4 spheres x 2 x 250 x 500 = 1.0M triangles (the 4 x 1000
/// degenerate pole triangles are dropped when the scene is prepared).
const RINGS: u32 = 250;
const SEGMENTS: u32 = 500;

/// A UV sphere as an inline mesh shape.
fn uv_sphere(center: [f64; 3], radius: f64, material: &str) -> Value {
    let mut positions = Vec::with_capacity(((RINGS + 1) * SEGMENTS) as usize);
    for i in 0..=RINGS {
        let theta = std::f64::consts::PI * f64::from(i) / f64::from(RINGS);
        for j in 0..SEGMENTS {
            let phi = 2.0 * std::f64::consts::PI * f64::from(j) / f64::from(SEGMENTS);
            positions.push([
                (center[0] + radius * theta.sin() * phi.cos()) as f32,
                (center[1] + radius * theta.sin() * phi.sin()) as f32,
                (center[2] + radius * theta.cos()) as f32,
            ]);
        }
    }
    let mut indices = Vec::with_capacity((2 * RINGS * SEGMENTS) as usize);
    for i in 0..RINGS {
        for j in 0..SEGMENTS {
            let a = i * SEGMENTS + j;
            let b = i * SEGMENTS + (j + 1) % SEGMENTS;
            let (c, d) = (a + SEGMENTS, b + SEGMENTS);
            // Counter-clockwise seen from outside, so the winding normal points out.
            indices.push([a, c, b]);
            indices.push([b, c, d]);
        }
    }
    json!({"type": "mesh", "positions": positions, "indices": indices, "material": material})
}

/// S1 with its spheres tessellated; returns the path of the generated scene file.
fn mesh_scene(s1: &Path) -> PathBuf {
    let mut scene: Value =
        serde_json::from_str(&std::fs::read_to_string(s1).expect("read S1")).expect("S1 JSON");
    let shapes = scene["shapes"].as_array().expect("shapes").clone();
    let mut out = Vec::new();
    let mut triangles = 0;
    for s in shapes {
        if s["type"] == "sphere" {
            let c: Vec<f64> = s["center"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            out.push(uv_sphere(
                [c[0], c[1], c[2]],
                s["radius"].as_f64().unwrap(),
                s["material"].as_str().unwrap(),
            ));
            triangles += 2 * RINGS * SEGMENTS;
        } else {
            out.push(s);
        }
    }
    scene["shapes"] = Value::Array(out);
    let path = std::env::temp_dir().join("tessera_mesh1m.json");
    std::fs::write(&path, serde_json::to_string(&scene).unwrap()).expect("write mesh scene");
    println!("generated {} ({triangles} triangles before dropping degenerate ones)", path.display());
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
            "{}: {}x{} spp {} depth {} threads {} isa {}: prepare {:.3} s; render s {:?} median {:.3} s -> {:.2} Msamples/s; mean {:.4} ref mean {:?} rmse {:?} rmse8x8 {:?}",
            scene.display(),
            r.width,
            r.height,
            r.spp,
            r.max_depth,
            r.threads,
            r.isa,
            r.prepare_seconds,
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
