//! `tessera render` loads meshes named by `path` relative to the scene file, and the farm,
//! which cannot read the submitter's disk, refuses them with the field named.

mod common;

use common::{small_scene, Up};
use serde_json::json;

fn scene_with_obj() -> serde_json::Value {
    let mut scene = small_scene(32, 24, 2);
    scene["shapes"].as_array_mut().unwrap().push(json!({ "type": "mesh", "path": "models/tri.obj" }));
    scene
}

#[test]
fn local_render_resolves_mesh_paths_against_the_scene_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("models")).unwrap();
    std::fs::write(dir.path().join("models/tri.obj"), "v -1 0 0.5\nv 1 0 0.5\nv 0 0 2\nf 1 2 3\n").unwrap();
    let scene_path = dir.path().join("scene.json");
    std::fs::write(&scene_path, scene_with_obj().to_string()).unwrap();
    let out = dir.path().join("out.png");
    let cwd = tempfile::tempdir().unwrap(); // the path must not depend on the working directory
    let run = common::render_cmd(&scene_path, &out).current_dir(cwd.path()).output().unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let with_mesh = image::open(&out).unwrap().to_rgb8();

    std::fs::write(&scene_path, small_scene(32, 24, 2).to_string()).unwrap();
    let run = common::render_cmd(&scene_path, &out).output();
    assert!(run.unwrap().status.success());
    assert_ne!(with_mesh, image::open(&out).unwrap().to_rgb8(), "the mesh left no trace in the image");
}

#[test]
fn the_farm_refuses_mesh_paths_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let up = Up::start(&dir.path().join("data"), 1);
    let resp = reqwest::blocking::Client::new()
        .post(format!("{}/api/jobs", up.base))
        .json(&json!({ "kind": "render", "scene": scene_with_obj() }))
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: serde_json::Value = resp.json().unwrap();
    let err = body["error"].as_str().unwrap();
    assert!(err.contains("scene.shapes[5].path"), "{err}");
}
