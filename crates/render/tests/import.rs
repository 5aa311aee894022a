//! OBJ and glTF import: a small generated mesh written as OBJ text, glTF JSON with an embedded
//! buffer, and binary glTF renders bit-for-bit like the same triangles given inline, whether
//! the file content is inline in the document or read from disk; file materials map to ours.

mod common;
use base64::Engine;
use common::*;
use serde_json::{json, Value};
use tessera_render::{PreparedScene, RenderError};
use tessera_types::scene::Scene;

/// A small closed mesh: an octahedron around (0, 0, 0.8) with a squashed top, 8 triangles.
fn mesh() -> (Vec<[f32; 3]>, Vec<[u32; 3]>) {
    let c = [0.1f32, -0.2, 0.8];
    let p = vec![
        [c[0] + 0.7, c[1], c[2]],
        [c[0], c[1] + 0.6, c[2]],
        [c[0] - 0.7, c[1], c[2]],
        [c[0], c[1] - 0.6, c[2]],
        [c[0], c[1], c[2] + 0.55],
        [c[0] + 0.05, c[1], c[2] - 0.75],
    ];
    let t = vec![[0, 1, 4], [1, 2, 4], [2, 3, 4], [3, 0, 4], [1, 0, 5], [2, 1, 5], [3, 2, 5], [0, 3, 5]];
    (p, t)
}

fn obj_text(with_mtl: bool) -> String {
    let (p, t) = mesh();
    let mut s = String::from("# generated\n");
    if with_mtl {
        s += "mtllib m.mtl\nusemtl paint\n";
    }
    for v in &p {
        // `{}` prints the shortest text that parses back to the same f32.
        s += &format!("v {} {} {}\n", v[0], v[1], v[2]);
    }
    for f in &t {
        s += &format!("f {} {} {}\n", f[0] + 1, f[1] + 1, f[2] + 1);
    }
    s
}

/// glTF JSON and its one buffer (positions then u32 indices); `uri` None means the GLB BIN chunk.
fn gltf_parts(uri: Option<String>, material: Value) -> (Value, Vec<u8>) {
    let (p, t) = mesh();
    let mut bin = Vec::new();
    for v in &p {
        for x in v {
            bin.extend_from_slice(&x.to_le_bytes());
        }
    }
    let pos_len = bin.len();
    for f in &t {
        for i in f {
            bin.extend_from_slice(&i.to_le_bytes());
        }
    }
    let (mut min, mut max) = ([f32::MAX; 3], [f32::MIN; 3]);
    for v in &p {
        for k in 0..3 {
            min[k] = min[k].min(v[k]);
            max[k] = max[k].max(v[k]);
        }
    }
    let mut buffer = json!({"byteLength": bin.len()});
    if let Some(u) = uri {
        buffer["uri"] = json!(u);
    }
    let doc = json!({
        "asset": {"version": "2.0"},
        "scene": 0,
        "scenes": [{"nodes": [0]}],
        "nodes": [{"mesh": 0}],
        "meshes": [{"primitives": [{"attributes": {"POSITION": 0}, "indices": 1, "material": 0}]}],
        "materials": [material],
        "buffers": [buffer],
        "bufferViews": [
            {"buffer": 0, "byteOffset": 0, "byteLength": pos_len, "target": 34962},
            {"buffer": 0, "byteOffset": pos_len, "byteLength": bin.len() - pos_len, "target": 34963}
        ],
        "accessors": [
            {"bufferView": 0, "componentType": 5126, "count": p.len(), "type": "VEC3", "min": min, "max": max},
            {"bufferView": 1, "componentType": 5125, "count": t.len() * 3, "type": "SCALAR"}
        ]
    });
    (doc, bin)
}

fn gltf_embedded(material: Value) -> String {
    let (_, bin) = gltf_parts(None, material.clone());
    let uri = format!(
        "data:application/octet-stream;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&bin)
    );
    gltf_parts(Some(uri), material).0.to_string()
}

fn glb(material: Value) -> Vec<u8> {
    let (doc, mut bin) = gltf_parts(None, material);
    let mut json_bytes = doc.to_string().into_bytes();
    while json_bytes.len() % 4 != 0 {
        json_bytes.push(b' ');
    }
    while bin.len() % 4 != 0 {
        bin.push(0);
    }
    let total = 12 + 8 + json_bytes.len() + 8 + bin.len();
    let mut out = Vec::new();
    out.extend_from_slice(b"glTF");
    out.extend_from_slice(&2u32.to_le_bytes());
    out.extend_from_slice(&(total as u32).to_le_bytes());
    out.extend_from_slice(&(json_bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(b"JSON");
    out.extend_from_slice(&json_bytes);
    out.extend_from_slice(&(bin.len() as u32).to_le_bytes());
    out.extend_from_slice(b"BIN\0");
    out.extend_from_slice(&bin);
    out
}

fn with_mesh(shape: Value, materials: Value) -> Value {
    scene(
        32,
        24,
        4,
        4,
        json!({"type": "perspective", "eye": [0, -4, 2], "target": [0, 0, 0.7], "up": [0, 0, 1], "vfov_deg": 40}),
        json!({"type": "gradient", "zenith": [0.3, 0.5, 1.0], "horizon": [1, 0.9, 0.8]}),
        materials,
        json!([{"type": "quad", "center": [0, 0, 0], "half_size": [10, 10], "material": "ground"}, shape]),
    )
}

fn mats(extra: Value) -> Value {
    let mut m = json!({"ground": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5]}});
    for (k, v) in extra.as_object().unwrap() {
        m[k] = v.clone();
    }
    m
}

fn inline_render(material: Value) -> Vec<f32> {
    let (p, t) = mesh();
    render(&prepare(with_mesh(
        json!({"type": "mesh", "positions": p, "indices": t, "material": "m"}),
        mats(json!({"m": material})),
    )))
}

fn render_local(v: Value, dir: &std::path::Path) -> Result<Vec<f32>, RenderError> {
    let s = Scene::from_json_value(v).unwrap();
    Ok(render(&PreparedScene::with_base_dir(&s, dir)?))
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("tessera-import-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Every source, with the shape's `material` overriding the file's, renders the inline bits.
#[test]
fn every_source_matches_inline_bit_for_bit() {
    let grey = json!({"type": "diffuse", "albedo": [0.7, 0.6, 0.5]});
    let want = inline_render(grey.clone());
    let m = mats(json!({"m": grey}));
    let dir = tempdir("sources");
    let gl_mat = json!({"pbrMetallicRoughness": {"baseColorFactor": [1, 1, 1, 1]}});
    std::fs::write(dir.join("mesh.obj"), obj_text(false)).unwrap();
    std::fs::write(dir.join("mesh.gltf"), gltf_embedded(gl_mat.clone())).unwrap();
    std::fs::write(dir.join("mesh.glb"), glb(gl_mat.clone())).unwrap();
    // A .gltf with an external .bin beside it.
    let (doc, bin) = gltf_parts(Some("mesh.bin".into()), gl_mat.clone());
    std::fs::write(dir.join("ext.gltf"), doc.to_string()).unwrap();
    std::fs::write(dir.join("mesh.bin"), bin).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(glb(gl_mat.clone()));
    let inline_sources = [
        ("obj", json!({"type": "mesh", "obj": obj_text(false), "material": "m"})),
        ("gltf", json!({"type": "mesh", "gltf": gltf_embedded(gl_mat.clone()), "material": "m"})),
        ("glb_base64", json!({"type": "mesh", "glb_base64": b64, "material": "m"})),
    ];
    for (name, shape) in inline_sources {
        let got = render(&prepare(with_mesh(shape, m.clone())));
        assert!(got == want, "inline {name} differs from the inline triangles");
    }
    for file in ["mesh.obj", "mesh.gltf", "mesh.glb", "ext.gltf"] {
        let got =
            render_local(with_mesh(json!({"type": "mesh", "path": file, "material": "m"}), m.clone()), &dir)
                .unwrap();
        assert!(got == want, "{file} differs from the inline triangles");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// File materials map to ours: MTL `Kd` → diffuse; glTF metallic 1 / roughness 0.6 → conductor
/// with alpha 0.36; glTF emissive → emitter. Each renders exactly as the equivalent inline
/// material (the material's index in the table does not enter the random keys).
#[test]
fn file_materials_map_to_ours() {
    let obj = json!({"type": "mesh", "obj": obj_text(true), "mtl": "newmtl paint\nKd 0.2 0.4 0.6\n"});
    let got = render(&prepare(with_mesh(obj, mats(json!({})))));
    assert!(got == inline_render(json!({"type": "diffuse", "albedo": [0.2, 0.4, 0.6]})), "MTL diffuse");

    let metal = json!({"pbrMetallicRoughness": {"baseColorFactor": [0.9, 0.7, 0.3, 1], "metallicFactor": 1.0, "roughnessFactor": 0.6}});
    let got =
        render(&prepare(with_mesh(json!({"type": "mesh", "gltf": gltf_embedded(metal)}), mats(json!({})))));
    let alpha = 0.6f32 * 0.6;
    assert!(
        got == inline_render(json!({"type": "conductor", "albedo": [0.9, 0.7, 0.3], "roughness": alpha})),
        "glTF metal"
    );

    let lamp = json!({"emissiveFactor": [1, 0.5, 0.25], "extensions": {"KHR_materials_emissive_strength": {"emissiveStrength": 4}}});
    let b64 = base64::engine::general_purpose::STANDARD.encode(glb(lamp));
    let got = render(&prepare(with_mesh(json!({"type": "mesh", "glb_base64": b64}), mats(json!({})))));
    assert!(got == inline_render(json!({"type": "emitter", "radiance": [4, 2, 1]})), "glTF emitter");
}

/// Paths are for local renders only and stay inside the base directory; broken files name the
/// field.
#[test]
fn paths_and_errors() {
    let m = mats(json!({"m": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5]}}));
    // No base directory (the farm): refused with the field named.
    let s = Scene::from_json_value(with_mesh(
        json!({"type": "mesh", "path": "mesh.obj", "material": "m"}),
        m.clone(),
    ))
    .unwrap();
    match PreparedScene::new(&s) {
        Err(RenderError::InvalidScene(e)) => assert_eq!(e.field, "shapes[1].path", "{e}"),
        other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
    }
    let dir = tempdir("paths");
    for bad in ["../mesh.obj", "/etc/mesh.obj", "sub/../../x.obj"] {
        let v = with_mesh(json!({"type": "mesh", "path": bad, "material": "m"}), m.clone());
        let e = render_local(v, &dir).unwrap_err();
        assert!(e.to_string().contains("shapes[1].path"), "{bad}: {e}");
    }
    let v = with_mesh(json!({"type": "mesh", "path": "missing.obj", "material": "m"}), m.clone());
    assert!(render_local(v, &dir).unwrap_err().to_string().contains("shapes[1].path"));
    let v = with_mesh(json!({"type": "mesh", "glb_base64": "not base64!", "material": "m"}), m.clone());
    let e = PreparedScene::new(&Scene::from_json_value(v).unwrap()).unwrap_err();
    assert!(e.to_string().contains("shapes[1].glb_base64"), "{e}");
    let v = with_mesh(json!({"type": "mesh", "gltf": "{\"asset\": 1}", "material": "m"}), m.clone());
    let e = PreparedScene::new(&Scene::from_json_value(v).unwrap()).unwrap_err();
    assert!(e.to_string().contains("shapes[1].gltf"), "{e}");
    // Triangle limit applies to loaded files too.
    let s = Scene::from_json_value(with_mesh(
        json!({"type": "mesh", "gltf": gltf_embedded(json!({})), "material": "m"}),
        m,
    ))
    .unwrap();
    let opts = tessera_render::LoadOptions { max_triangles: 5, ..Default::default() };
    let e = PreparedScene::with_options(&s, &opts).unwrap_err();
    assert!(e.to_string().contains("shapes[1].gltf") && e.to_string().contains("5"), "{e}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Transforms: a glTF node's translation and a shape's `transform` chain place the mesh the same
/// way (bit for bit: both are exact in f64 for a translation), and a 90° rotation about +Z of
/// the inline mesh matches the mesh rotated by hand (to 1e-4: cos 90° is not exactly 0 in f64).
#[test]
fn node_and_shape_transforms_place_the_mesh() {
    let m = mats(json!({"m": {"type": "diffuse", "albedo": [0.7, 0.6, 0.5]}}));
    let t = [0.5f32, -0.25, 0.125];
    let (mut doc, _) = gltf_parts(None, json!({}));
    doc["nodes"][0]["translation"] = json!(t);
    let (_, bin) = gltf_parts(None, json!({}));
    let uri = format!(
        "data:application/octet-stream;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(&bin)
    );
    doc["buffers"][0]["uri"] = json!(uri);
    let via_node = render(&prepare(with_mesh(
        json!({"type": "mesh", "gltf": doc.to_string(), "material": "m"}),
        m.clone(),
    )));
    let (p, tris) = mesh();
    let via_chain = render(&prepare(with_mesh(
        json!({"type": "mesh", "positions": p, "indices": tris, "material": "m", "transform": [{"translate": t}]}),
        m.clone(),
    )));
    assert!(via_node == via_chain, "glTF node translation differs from the transform chain");

    let rotated: Vec<[f32; 3]> = p.iter().map(|v| [-v[1], v[0], v[2]]).collect();
    let by_hand = render(&prepare(with_mesh(
        json!({"type": "mesh", "positions": rotated, "indices": tris, "material": "m"}),
        m.clone(),
    )));
    let by_chain = render(&prepare(with_mesh(
        json!({"type": "mesh", "positions": p, "indices": tris, "material": "m",
               "transform": [{"rotate": {"angle_deg": 90, "axis": [0, 0, 1]}}]}),
        m,
    )));
    let worst = by_hand.iter().zip(&by_chain).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-4, "rotated mesh differs by {worst}");
    assert!(by_hand != via_chain, "the rotation moved nothing");
}
