//! The JSON Schema the coordinator checks scenes against accepts every scene the repository
//! ships, and its errors name the exact field.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use tessera_kinds::scene_schema::check;
use tessera_types::scene::Scene;
use tessera_types::Limits;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The object literal of `web/lib/fallback-scene.js` as JSON: single-quoted strings become
/// double-quoted, bare keys get quotes, trailing commas go. Enough for that file's plain data;
/// anything else fails to parse below rather than passing unchecked.
fn js_object_to_json(js: &str) -> String {
    let start = js.find("Object.freeze(").map(|i| i + "Object.freeze(".len()).expect("Object.freeze(");
    let end = js.rfind('}').expect("closing brace") + 1;
    let src: Vec<char> = js[start..end].chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < src.len() {
        let c = src[i];
        if c == '\'' {
            out.push('"');
            i += 1;
            while src[i] != '\'' {
                out.push(src[i]);
                i += 1;
            }
            out.push('"');
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            let word: String =
                src[i..].iter().take_while(|c| c.is_ascii_alphanumeric() || **c == '_').collect();
            i += word.len();
            let is_key = src[i..].iter().find(|c| !c.is_whitespace()) == Some(&':');
            if is_key {
                out.push_str(&format!("\"{word}\""));
            } else {
                out.push_str(&word);
            }
        } else if c == ',' && matches!(src[i + 1..].iter().find(|c| !c.is_whitespace()), Some('}' | ']')) {
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Complete scenes (objects with `render` and `camera`) among the ```json blocks of a page.
fn markdown_scenes(text: &str) -> Vec<Value> {
    text.split("```json")
        .skip(1)
        .filter_map(|block| block.split("```").next())
        .filter_map(|b| serde_json::from_str::<Value>(b).ok())
        .filter(|v| v.get("render").is_some() && v.get("camera").is_some())
        .collect()
}

fn json_files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())).flatten() {
        let p = e.path();
        if p.is_dir() {
            json_files_under(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

/// Every scene the repository ships, by where it comes from.
fn shipped_scenes() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut add_file = |p: &Path| {
        let v = serde_json::from_str(&read(p)).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        out.push((p.display().to_string(), v));
    };
    add_file(&repo().join("crates/types/src/default_scene.json"));
    let mut files = Vec::new();
    json_files_under(&repo().join("crates/render/tests"), &mut files);
    let shared = repo().join("../shared/scenes");
    let mut benchmark = 0;
    for e in std::fs::read_dir(&shared).unwrap_or_else(|e| panic!("{}: {e}", shared.display())).flatten() {
        if e.path().extension().is_some_and(|x| x == "json") {
            files.push(e.path());
            benchmark += 1;
        }
    }
    assert!(benchmark >= 2, "expected S1 and S2 in {}", shared.display());
    files.sort();
    for f in &files {
        add_file(f);
    }
    let fallback = repo().join("web/lib/fallback-scene.js");
    let converted = js_object_to_json(&read(&fallback));
    let v = serde_json::from_str(&converted)
        .unwrap_or_else(|e| panic!("{}: {e}\n{converted}", fallback.display()));
    out.push((fallback.display().to_string(), v));
    for page in [repo().join("docs/scene-format.md"), repo().join("../shared/DESIGN.md")] {
        let scenes = markdown_scenes(&read(&page));
        assert!(!scenes.is_empty(), "{}: no complete scene found in its json blocks", page.display());
        for (i, s) in scenes.into_iter().enumerate() {
            out.push((format!("{} block {i}", page.display()), s));
        }
    }
    out
}

#[test]
fn every_scene_the_repo_ships_passes_the_schema() {
    let scenes = shipped_scenes();
    // default scene, 5 Mitsuba comparison scenes, S1, S2, the fallback, two documented examples
    assert!(scenes.len() >= 11, "only {} scenes found", scenes.len());
    for (name, v) in &scenes {
        check(v).unwrap_or_else(|e| panic!("{name}: the schema refuses it: {e}"));
        // The same scenes pass the checks behind the schema, so the schema is not the only gate
        // they were tried against.
        let scene = Scene::from_json_value(v.clone()).unwrap_or_else(|e| panic!("{name}: {e}"));
        scene.validate_local(&Limits::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}

#[test]
fn the_fallback_scene_converter_keeps_values() {
    let js = "export const X = Object.freeze({\n  a: { b: 'c', d: [1, 2.5], },\n  e_f: 'g h',\n});\n";
    let v: Value = serde_json::from_str(&js_object_to_json(js)).unwrap();
    assert_eq!(v, json!({"a": {"b": "c", "d": [1, 2.5]}, "e_f": "g h"}));
}

/// The base scene every error case below edits.
fn base() -> Value {
    json!({
        "render": {"width": 32, "height": 24, "spp": 1, "max_depth": 3},
        "camera": {"type": "perspective", "eye": [0, -9, 2], "target": [0, 0, 0.7], "up": [0, 0, 1], "vfov_deg": 40},
        "environment": {"type": "constant", "radiance": [1, 1, 1]},
        "materials": {
            "red": {"type": "diffuse", "albedo": [0.8, 0.2, 0.2]},
            "0": {"type": "conductor", "albedo": [0.9, 0.9, 0.9], "roughness": 0.1}
        },
        "shapes": [
            {"type": "quad", "center": [0, 0, 0], "half_size": [10, 10], "material": "red"},
            {"type": "sphere", "center": [0, 0, 1], "radius": 1, "material": "0"}
        ],
        "lights": [{"type": "sun", "direction": [0, 0, -1], "irradiance": [1, 1, 1]}]
    })
}

#[test]
fn the_base_scene_passes() {
    check(&base()).unwrap();
    let scene = Scene::from_json_value(base()).unwrap();
    scene.validate(&Limits::default()).unwrap();
}

#[test]
fn schema_errors_name_the_exact_field() {
    type Edit = fn(&mut Value);
    let cases: &[(&str, Edit, &str, &[&str])] = &[
        (
            "albedo above 1",
            |v| v["materials"]["red"]["albedo"][1] = json!(1.5),
            "materials.red.albedo[1]",
            &["<= 1", "1.5"],
        ),
        (
            "material named 0",
            |v| v["materials"]["0"]["roughness"] = json!(2),
            "materials.0.roughness",
            &["<= 1"],
        ),
        ("radius as a string", |v| v["shapes"][1]["radius"] = json!("one"), "shapes[1].radius", &["number"]),
        (
            "sky sampling switch as a string",
            |v| v["render"]["sample_environment"] = json!("yes"),
            "render.sample_environment",
            &["boolean", "\"yes\""],
        ),
        ("zero radius", |v| v["shapes"][1]["radius"] = json!(0), "shapes[1].radius", &["> 0"]),
        ("zero half size", |v| v["shapes"][0]["half_size"][1] = json!(0), "shapes[0].half_size[1]", &["> 0"]),
        (
            "missing radius",
            |v| drop(v["shapes"][1].as_object_mut().unwrap().remove("radius")),
            "shapes[1].radius",
            &["missing"],
        ),
        (
            "unknown shape field",
            |v| v["shapes"][1]["colour"] = json!("red"),
            "shapes[1].colour",
            &["unknown field", "radius"],
        ),
        (
            "unknown shape type",
            |v| v["shapes"][1]["type"] = json!("torus"),
            "shapes[1].type",
            &["torus", "sphere, quad, box, mesh"],
        ),
        (
            "missing shape type",
            |v| drop(v["shapes"][1].as_object_mut().unwrap().remove("type")),
            "shapes[1].type",
            &["missing", "sphere"],
        ),
        ("two-element vector", |v| v["camera"]["eye"] = json!([0, 1]), "camera.eye", &["at least 3"]),
        ("four-element vector", |v| v["camera"]["up"] = json!([0, 0, 1, 0]), "camera.up", &["at most 3"]),
        ("vfov 180", |v| v["camera"]["vfov_deg"] = json!(180), "camera.vfov_deg", &["< 180"]),
        ("unknown top-level key", |v| v["extra"] = json!(1), "extra", &["unknown field", "render"]),
        ("missing camera", |v| drop(v.as_object_mut().unwrap().remove("camera")), "camera", &["missing"]),
        ("zero width", |v| v["render"]["width"] = json!(0), "render.width", &[">= 1"]),
        ("fractional spp", |v| v["render"]["spp"] = json!(1.5), "render.spp", &["integer"]),
        (
            "no spp",
            |v| drop(v["render"].as_object_mut().unwrap().remove("spp")),
            "render.spp",
            &["spp, samples"],
        ),
        ("spp and samples", |v| v["render"]["samples"] = json!(2), "render", &["spp", "samples"]),
        (
            "unknown distribution",
            |v| v["materials"]["0"]["distribution"] = json!("phong"),
            "materials.0.distribution",
            &["phong", "beckmann, ggx, sharp"],
        ),
        (
            "negative radiance",
            |v| v["environment"]["radiance"][2] = json!(-1),
            "environment.radiance[2]",
            &[">= 0"],
        ),
        (
            "unknown environment",
            |v| v["environment"]["type"] = json!("hdri"),
            "environment.type",
            &["hdri", "constant, gradient"],
        ),
        (
            "sun too wide",
            |v| v["lights"][0]["angular_radius_deg"] = json!(46),
            "lights[0].angular_radius_deg",
            &["<= 45"],
        ),
        (
            "transform step of an unknown kind",
            |v| v["camera"]["transform"] = json!([{"scale": [2, 2, 2]}]),
            "camera.transform[0].scale",
            &["translate, rotate"],
        ),
        (
            "bad rotate angle",
            |v| v["camera"]["transform"] = json!([{"rotate": {"angle_deg": "x", "axis": [0, 0, 1]}}]),
            "camera.transform[0].rotate.angle_deg",
            &["number"],
        ),
        (
            "65 transform steps",
            |v| v["camera"]["transform"] = json!(vec![json!({"translate": [0, 0, 0]}); 65]),
            "camera.transform",
            &["at most 64"],
        ),
        ("scene not an object", |v| *v = json!([1]), "", &["object"]),
    ];
    for (what, edit, field, needles) in cases {
        let mut v = base();
        edit(&mut v);
        let e = check(&v).expect_err(what);
        assert_eq!(e.field, *field, "{what}: {e}");
        for n in *needles {
            assert!(e.message.contains(n), "{what}: {e:?} does not mention {n:?}");
        }
    }
}

#[test]
fn what_the_schema_cannot_say_is_still_refused_by_name() {
    type Edit = fn(&mut Value);
    let cases: &[(&str, Edit, &str)] = &[
        ("unknown material", |v| v["shapes"][1]["material"] = json!("gold"), "scene.shapes[1].material"),
        (
            "box inside out",
            |v| {
                v["shapes"][0] =
                    json!({"type": "box", "min": [0, 0, 0], "max": [1, -1, 1], "material": "red"})
            },
            "scene.shapes[0].max[1]",
        ),
        (
            "index out of range",
            |v| {
                v["shapes"][0] = json!({"type": "mesh", "positions": [[0, 0, 0]], "indices": [[0, 0, 1]], "material": "red"})
            },
            "scene.shapes[0].indices[0][2]",
        ),
        (
            "zero rotation axis",
            |v| v["camera"]["transform"] = json!([{"rotate": {"angle_deg": 3, "axis": [0, 0, 0]}}]),
            "scene.camera.transform[0].rotate.axis",
        ),
        ("too wide for the limits", |v| v["render"]["width"] = json!(100_000), "scene.render.width"),
        ("width beyond u32", |v| v["render"]["width"] = json!(5_000_000_000u64), "scene.render.width"),
        (
            "radiance beyond f32",
            |v| v["environment"]["radiance"][0] = json!(1e300),
            "scene.environment.radiance[0]",
        ),
        (
            "mesh path on the farm",
            |v| v["shapes"][0] = json!({"type": "mesh", "path": "a.obj"}),
            "scene.shapes[0].path",
        ),
    ];
    for (what, edit, field) in cases {
        let mut v = base();
        edit(&mut v);
        check(&v).unwrap_or_else(|e| panic!("{what}: the schema should accept it (validate's job): {e}"));
        let e = tessera_kinds::render::parse_scene(v, &Limits::default()).expect_err(what);
        assert_eq!(e.field, *field, "{what}: {e}");
    }
}
