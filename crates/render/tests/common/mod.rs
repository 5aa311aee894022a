//! Helpers shared by the integration tests.
#![allow(dead_code)]

use serde_json::{json, Value};
use tessera_render::{render_image, PreparedScene};
use tessera_types::scene::Scene;

/// Parses and prepares a scene given as JSON.
pub fn prepare(v: Value) -> PreparedScene {
    let scene = Scene::from_json_value(v).expect("test scene parses");
    PreparedScene::new(&scene).expect("test scene prepares")
}

/// Renders the whole image on the current rayon pool.
pub fn render(p: &PreparedScene) -> Vec<f32> {
    render_image(p, &|_, _| {})
}

/// A scene with the given parts and a render block.
// One positional argument per scene section reads better in the tests than a builder.
#[allow(clippy::too_many_arguments)]
pub fn scene(
    w: u32,
    h: u32,
    spp: u32,
    depth: u32,
    camera: Value,
    env: Value,
    materials: Value,
    shapes: Value,
) -> Value {
    json!({
        "render": {"width": w, "height": h, "spp": spp, "max_depth": depth, "seed": 7},
        "camera": camera, "environment": env, "materials": materials, "shapes": shapes
    })
}

/// Orthographic camera at `eye` looking at the origin with the given up vector.
pub fn ortho(eye: [f32; 3], up: [f32; 3], height: f32) -> Value {
    json!({"type": "orthographic", "eye": eye, "target": [0, 0, 0], "up": up, "height": height})
}

/// Constant environment.
pub fn constant(r: [f32; 3]) -> Value {
    json!({"type": "constant", "radiance": r})
}

/// Pixel (x, y) of an RGB buffer of width `w`.
pub fn px(img: &[f32], w: u32, x: u32, y: u32) -> [f32; 3] {
    let i = ((y * w + x) * 3) as usize;
    [img[i], img[i + 1], img[i + 2]]
}

/// Path of a file in /work/shared/scenes (shared/ sits beside the repository).
pub fn shared_scene(name: &str) -> std::path::PathBuf {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/scenes").join(name);
    assert!(
        p.exists(),
        "{} is missing: the reference scenes live in shared/scenes beside the repository checkout",
        p.display()
    );
    p
}
