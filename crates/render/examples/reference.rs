//! Renders a scene file to a linear EXR, e.g. a high-spp reference for `bench`:
//! `cargo run --release -p tessera-render --example reference -- SCENE.json OUT.exr [--spp N] [--threads N] [--env-light on|off]`

use tessera_render::{render_image, write_exr_rgb, Image, PreparedScene};
use tessera_types::scene::Scene;

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut paths, mut spp, mut threads, mut env_light) = (Vec::new(), None, 2usize, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--spp" => spp = Some(args.next().expect("--spp N").parse().expect("--spp N")),
            "--threads" => threads = args.next().expect("--threads N").parse().expect("--threads N"),
            "--env-light" => env_light = Some(args.next().expect("--env-light on|off") == "on"),
            _ => paths.push(a),
        }
    }
    let [scene_path, out] = paths.as_slice() else {
        panic!("usage: reference SCENE.json OUT.exr [--spp N] [--threads N] [--env-light on|off]");
    };
    let scene =
        Scene::from_json_str(&std::fs::read_to_string(scene_path).expect("read scene")).expect("scene");
    let mut p = PreparedScene::new(&scene).expect("prepare");
    if let Some(spp) = spp {
        p = p.with_spp(spp);
    }
    if let Some(on) = env_light {
        p = p.with_env_light(on);
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("pool");
    let img = pool.install(|| render_image(&p, &|_, _| {}));
    let image = Image { width: p.width(), height: p.height(), data: img };
    write_exr_rgb(std::path::Path::new(out), &image).expect("write exr");
    let mean = tessera_render::film::mean(&image.data);
    println!("{out}: {}x{} spp {} mean {mean:.5}", p.width(), p.height(), p.spp());
}
