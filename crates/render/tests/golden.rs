//! Golden images (DESIGN 7): small scenes at 64x64, 16 spp. For machines, the SHA-256 of the
//! image's little-endian f32 bytes (`tests/golden/NAME.sha256`); for people, an 8-bit sRGB PNG
//! beside it (`tests/golden/NAME.png`). Any change to the sampler, integrator or geometry that
//! moves a single bit fails here; if the change is intended, look at the new PNGs and re-bless:
//!
//!     TESSERA_BLESS=1 cargo test -p tessera-render --test golden
//!
//! which rewrites both files for every scene (and still fails nothing).

mod common;
use common::*;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::path::PathBuf;

fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn srgb8(v: f32) -> u8 {
    let x = v.clamp(0.0, 1.0);
    let y = if x <= 0.003_130_8 { 12.92 * x } else { 1.055 * x.powf(1.0 / 2.4) - 0.055 };
    (y * 255.0 + 0.5) as u8
}

fn check(name: &str, scene: serde_json::Value) {
    let p = prepare(scene);
    let img = render(&p);
    let bytes: Vec<u8> = img.iter().flat_map(|f| f.to_le_bytes()).collect();
    let hash = format!("{:x}", Sha256::digest(&bytes));
    let hash_path = golden_dir().join(format!("{name}.sha256"));
    if std::env::var_os("TESSERA_BLESS").is_some() {
        std::fs::create_dir_all(golden_dir()).unwrap();
        std::fs::write(&hash_path, format!("{hash}\n")).unwrap();
        let rgb: Vec<u8> = img.iter().map(|&v| srgb8(v)).collect();
        image::save_buffer(
            golden_dir().join(format!("{name}.png")),
            &rgb,
            p.width(),
            p.height(),
            image::ColorType::Rgb8,
        )
        .unwrap();
        return;
    }
    let want = std::fs::read_to_string(&hash_path)
        .unwrap_or_else(|e| panic!("{}: {e}; bless with TESSERA_BLESS=1", hash_path.display()));
    assert_eq!(
        hash,
        want.trim(),
        "{name} changed; if intended, re-bless with TESSERA_BLESS=1 cargo test -p tessera-render --test golden"
    );
}

fn small(
    camera: serde_json::Value,
    env: serde_json::Value,
    materials: serde_json::Value,
    shapes: serde_json::Value,
) -> serde_json::Value {
    scene(64, 64, 16, 8, camera, env, materials, shapes)
}

fn persp() -> serde_json::Value {
    json!({"type": "perspective", "eye": [0, -9, 2.2], "target": [0, 0, 0.7], "up": [0, 0, 1], "vfov_deg": 40})
}

#[test]
fn golden_materials() {
    check(
        "materials",
        small(
            persp(),
            json!({"type": "constant", "radiance": [1, 1, 1]}),
            json!({
                "ground": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5]},
                "mirror": {"type": "conductor", "albedo": [1, 1, 1]},
                "glass": {"type": "dielectric", "ior": 1.5},
                "blue": {"type": "diffuse", "albedo": [0.2, 0.35, 0.8]},
                "lamp": {"type": "emitter", "radiance": [50, 45, 35]}
            }),
            json!([
                {"type": "quad", "center": [0, 0, 0], "half_size": [100, 100], "material": "ground"},
                {"type": "sphere", "center": [-2.4, 0.6, 0.8], "radius": 0.8, "material": "mirror"},
                {"type": "sphere", "center": [-0.6, -0.5, 0.6], "radius": 0.6, "material": "glass"},
                {"type": "sphere", "center": [1.2, 0.3, 1.0], "radius": 1.0, "material": "blue"},
                {"type": "sphere", "center": [-1.2, -2.2, 1.9], "radius": 0.2, "material": "lamp"}
            ]),
        ),
    );
}

#[test]
fn golden_shapes_under_sky() {
    check(
        "shapes_sky",
        small(
            persp(),
            json!({"type": "gradient", "zenith": [0.35, 0.55, 1.0], "horizon": [1.0, 0.95, 0.9]}),
            json!({
                "ground": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5]},
                "red": {"type": "diffuse", "albedo": [0.8, 0.25, 0.2]},
                "rough": {"type": "conductor", "albedo": [0.95, 0.75, 0.35], "roughness": 0.3},
                "plastic": {"type": "glossy", "albedo": [0.2, 0.6, 0.3], "roughness": 0.1, "ior": 1.5, "distribution": "ggx"}
            }),
            json!([
                {"type": "quad", "center": [0, 0, 0], "half_size": [100, 100], "material": "ground"},
                {"type": "box", "min": [-3, -0.5, 0], "max": [-1.6, 0.9, 1.4], "material": "red"},
                {"type": "sphere", "center": [0, 0, 1], "radius": 1, "material": "rough"},
                {"type": "mesh", "positions": [[1.5, 0, 0], [3.5, 0, 0], [2.5, 1, 0], [2.5, 0.3, 1.8]],
                 "indices": [[0, 1, 3], [1, 2, 3], [2, 0, 3]], "material": "plastic"}
            ]),
        ),
    );
}

#[test]
fn golden_orthographic() {
    check(
        "orthographic",
        small(
            json!({"type": "orthographic", "eye": [4, -4, 4], "target": [0, 0, 0.5], "up": [0, 0, 1], "height": 4}),
            json!({"type": "constant", "radiance": [0.8, 0.9, 1.0]}),
            json!({
                "ground": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5]},
                "white": {"type": "diffuse", "albedo": [0.9, 0.9, 0.9]},
                "lamp": {"type": "emitter", "radiance": [4, 3, 2]}
            }),
            json!([
                {"type": "quad", "center": [0, 0, 0], "half_size": [5, 5], "material": "ground"},
                {"type": "box", "min": [-1, -1, 0], "max": [1, 1, 1], "material": "white"},
                {"type": "sphere", "center": [0, 0, 1.5], "radius": 0.5, "material": "lamp"}
            ]),
        ),
    );
}
