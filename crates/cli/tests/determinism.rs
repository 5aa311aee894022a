//! DESIGN 4 / issue 2 item 8: `tessera render` is the reference, and the same job through
//! `tessera up` gives the same bytes for any tiling and any thread count.

mod common;

use common::{render_locally, small_scene, Up};
use serde_json::json;
use std::time::Duration;

#[test]
fn farm_output_equals_local_render_for_every_tiling_and_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let scene = small_scene(75, 45, 6);
    let reference = render_locally(dir.path(), &scene, 1, "png");
    for threads in [2, 3] {
        assert_eq!(
            render_locally(dir.path(), &scene, threads, "png"),
            reference,
            "render with {threads} threads"
        );
    }
    for threads in [1, 2] {
        let up = Up::start(&dir.path().join(format!("data-{threads}")), threads);
        let tilings = [
            json!({ "tile_size": [7, 13] }),
            json!({ "tile_size": [32, 32] }),
            json!({ "tile_size": [75, 45] }),
            json!({ "tiles": 4 }),
            json!({}),
        ];
        for tiling in tilings {
            let mut doc = json!({ "kind": "render", "scene": scene });
            for (k, v) in tiling.as_object().unwrap() {
                doc[k] = v.clone();
            }
            let id = up.submit(&doc);
            let bytes = up.result(&id, Duration::from_secs(60));
            assert!(
                bytes == reference,
                "tiling {tiling} on {threads} worker threads differs from tessera render"
            );
        }
    }
}

#[test]
fn exr_output_carries_the_same_linear_floats() {
    let dir = tempfile::tempdir().unwrap();
    let scene = small_scene(40, 24, 4);
    let reference = render_locally(dir.path(), &scene, 2, "exr");
    let up = Up::start(&dir.path().join("data"), 2);
    let id = up.submit(&json!({ "kind": "render", "scene": scene, "tile_size": [16, 16], "format": "exr" }));
    assert_eq!(up.result(&id, Duration::from_secs(60)), reference);
    let img = image::load_from_memory(&reference).unwrap().to_rgb32f();
    assert_eq!(img.dimensions(), (40, 24));
    assert!(img.pixels().any(|p| p.0.iter().any(|&v| v > 0.0)), "render is black");
}
