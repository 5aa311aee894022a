//! Times the renderer on scene files, e.g.
//! `cargo run --release -p tessera-render --example bench -- --threads 2 --spp 64 --repeats 3 \
//!   /work/shared/scenes/S1_spheres.json /work/shared/scenes/S2_materials.json`
//! A `NAME.reference.exr` beside a scene is used as its reference when present.

use std::path::PathBuf;
use tessera_render::run_bench;

fn main() {
    let mut threads = 2usize;
    let mut spp = None;
    let mut repeats = 3u32;
    let mut scenes = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().expect("flag needs a value");
        match a.as_str() {
            "--threads" => threads = val().parse().expect("--threads N"),
            "--spp" => spp = Some(val().parse().expect("--spp N")),
            "--repeats" => repeats = val().parse().expect("--repeats N"),
            _ => scenes.push(PathBuf::from(a)),
        }
    }
    for scene in scenes {
        let reference = scene.with_extension("reference.exr");
        let reference = reference.exists().then_some(reference);
        let r = run_bench(&scene, reference.as_deref(), threads, spp, repeats).expect("bench");
        println!(
            "{}: {}x{} spp {} depth {} threads {}: render s {:?} median {:.3} s -> {:.2} Msamples/s; mean {:.4} ref mean {:?} rmse {:?} rmse8x8 {:?}",
            scene.display(),
            r.width,
            r.height,
            r.spp,
            r.max_depth,
            r.threads,
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
