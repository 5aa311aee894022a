//! `tessera render` checks a scene against the same JSON Schema as the coordinator, so a local
//! render is a way to check a scene before submitting it.

mod common;

use common::small_scene;
use serde_json::json;

#[test]
fn local_render_refuses_what_the_schema_refuses_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let mut scene = small_scene(16, 16, 1);
    scene["materials"]["red"]["albedo"][1] = json!(1.5);
    let scene_path = dir.path().join("scene.json");
    std::fs::write(&scene_path, scene.to_string()).unwrap();
    let out = dir.path().join("out.png");
    let run = common::render_cmd(&scene_path, &out).output().unwrap();
    assert!(!run.status.success(), "a scene with albedo 1.5 rendered");
    let err = String::from_utf8_lossy(&run.stderr);
    // "<= 1" is the schema's wording; Scene::validate would say "must be in [0, 1]".
    assert!(err.contains("materials.red.albedo[1]: must be <= 1"), "stderr: {err}");
    assert!(!out.exists(), "an image was written");
}
