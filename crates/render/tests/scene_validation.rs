//! Scene parsing and validation: every refusal names the field (and the limit, for limits).

use serde_json::json;
use tessera_render::{PreparedScene, RenderError};
use tessera_types::scene::{Camera, Material, Scene, Shape};
use tessera_types::Limits;

fn base() -> serde_json::Value {
    json!({
        "render": {"width": 64, "height": 32, "spp": 4, "max_depth": 4, "seed": 1},
        "camera": {"type": "perspective", "eye": [0, -5, 1], "target": [0, 0, 0.5], "up": [0, 0, 1], "vfov_deg": 40},
        "environment": {"type": "constant", "radiance": [1, 1, 1]},
        "materials": {"grey": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5]}},
        "shapes": [
            {"type": "quad", "center": [0, 0, 0], "half_size": [10, 10], "material": "grey"},
            {"type": "sphere", "center": [0, 0, 1], "radius": 1, "material": "grey"}
        ]
    })
}

fn parse_err(v: serde_json::Value) -> tessera_types::FieldError {
    Scene::from_json_value(v).expect_err("should be refused")
}

fn validate_err(v: serde_json::Value) -> tessera_types::FieldError {
    Scene::from_json_value(v).expect("parses").validate(&Limits::default()).expect_err("should be refused")
}

#[test]
fn base_scene_and_default_scene_are_valid() {
    let s = Scene::from_json_value(base()).unwrap();
    s.validate(&Limits::default()).unwrap();
    let d = Scene::default_scene();
    d.validate(&Limits::default()).unwrap();
    assert_eq!((d.render.width, d.render.height, d.render.spp, d.render.max_depth), (640, 360, 32, 6));
    // Round trip through JSON keeps the scene.
    assert_eq!(Scene::from_json_value(serde_json::to_value(&d).unwrap()).unwrap(), d);
}

#[test]
fn samples_is_an_alias_of_spp_and_seed_defaults() {
    let mut v = base();
    v["render"] = json!({"width": 8, "height": 8, "samples": 9, "max_depth": 2});
    let s = Scene::from_json_value(v).unwrap();
    assert_eq!((s.render.spp, s.render.seed), (9, 0));
}

#[test]
fn malformed_json_is_refused() {
    let e = Scene::from_json_str("{\"render\": ").unwrap_err();
    assert!(e.message.contains("malformed JSON"), "{e}");
}

#[test]
fn wrong_type_inside_a_shape_names_the_field() {
    let mut v = base();
    v["shapes"][1]["radius"] = json!("big");
    let e = parse_err(v);
    assert_eq!(e.field, "shapes[1].radius", "{e}");
    assert!(e.message.contains("expected"), "{e}");
}

#[test]
fn missing_field_is_named() {
    let mut v = base();
    v["camera"].as_object_mut().unwrap().remove("vfov_deg");
    let e = parse_err(v);
    assert_eq!(e.field, "camera.vfov_deg", "{e}");
    assert!(e.message.contains("missing field"), "{e}");
    let mut v = base();
    v["render"].as_object_mut().unwrap().remove("spp");
    assert_eq!(parse_err(v).field, "render.spp");
    let mut v = base();
    v.as_object_mut().unwrap().remove("shapes");
    assert_eq!(parse_err(v).field, "shapes");
}

#[test]
fn unknown_fields_and_types_are_refused() {
    let mut v = base();
    v["shapes"][0]["colour"] = json!(1);
    let e = parse_err(v);
    assert_eq!(e.field, "shapes[0].colour", "{e}");
    assert!(e.message.contains("unknown field"), "{e}");
    let mut v = base();
    v["shapes"][1]["type"] = json!("torus");
    let e = parse_err(v);
    assert_eq!(e.field, "shapes[1].type", "{e}");
    assert!(e.message.contains("torus") && e.message.contains("sphere"), "{e}");
    let mut v = base();
    v["materials"]["grey"]["albedo"] = json!([0.5, 0.5]);
    let e = parse_err(v);
    assert_eq!(e.field, "materials.grey.albedo", "{e}");
}

#[test]
fn unknown_material_is_named() {
    let mut v = base();
    v["shapes"][1]["material"] = json!("gold");
    let e = validate_err(v);
    assert_eq!(e.field, "shapes[1].material");
    assert!(e.message.contains("gold"), "{e}");
}

#[test]
fn negative_radius_is_refused() {
    let mut v = base();
    v["shapes"][1]["radius"] = json!(-1.0);
    let e = validate_err(v);
    assert_eq!(e.field, "shapes[1].radius");
    assert!(e.message.contains("> 0"), "{e}");
}

#[test]
fn non_finite_numbers_are_refused() {
    // JSON cannot carry NaN; 1e300 is a finite f64 that overflows f32 to infinity.
    let mut v = base();
    v["shapes"][1]["center"] = json!([0.0, 1e300, 0.0]);
    let e = validate_err(v);
    assert_eq!(e.field, "shapes[1].center[1]");
    assert!(e.message.contains("finite"), "{e}");
    // 1e999 is not even valid JSON number for serde_json: a parse error, not a panic.
    assert!(Scene::from_json_str(r#"{"render": {"width": 1e999}}"#).is_err());
    // NaN built directly.
    let mut s = Scene::from_json_value(base()).unwrap();
    if let Camera::Perspective(p) = &mut s.camera {
        p.vfov_deg = f32::NAN;
    }
    let e = s.validate(&Limits::default()).unwrap_err();
    assert_eq!(e.field, "camera.vfov_deg");
    let mut s = Scene::from_json_value(base()).unwrap();
    s.materials.insert(
        "bad".into(),
        Material::Diffuse(tessera_types::scene::Diffuse { albedo: [f32::NAN, 0.0, 0.0], roughness: 0.0 }),
    );
    assert_eq!(s.validate(&Limits::default()).unwrap_err().field, "materials.bad.albedo[0]");
    // And the renderer refuses it too rather than render garbage.
    assert!(matches!(PreparedScene::new(&s), Err(RenderError::InvalidScene(_))));
}

#[test]
fn limits_are_named() {
    let mut v = base();
    v["render"]["width"] = json!(100_000);
    v["render"]["height"] = json!(100_000);
    let e = validate_err(v);
    assert_eq!(e.to_string(), "render.width: 100000 exceeds the limit of 8192");
    let mut v = base();
    v["render"]["spp"] = json!(1_000_000_000u32);
    let e = validate_err(v);
    assert_eq!(e.to_string(), "render.spp: 1000000000 exceeds the limit of 65536");
    let mut v = base();
    v["render"]["max_depth"] = json!(0);
    assert_eq!(validate_err(v).field, "render.max_depth");
    let limits = Limits { max_pixels: 1000, ..Limits::default() };
    let e = Scene::from_json_value(base()).unwrap().validate(&limits).unwrap_err();
    assert!(e.message.contains("limit of 1000 pixels"), "{e}");
    let limits = Limits { max_shapes: 1, ..Limits::default() };
    let e = Scene::from_json_value(base()).unwrap().validate(&limits).unwrap_err();
    assert_eq!(e.to_string(), "shapes: 2 shapes exceed the limit of 1");
}

#[test]
fn geometry_and_camera_checks() {
    let mut v = base();
    v["shapes"][0] = json!({"type": "box", "min": [0, 0, 0], "max": [1, 0, 1], "material": "grey"});
    assert_eq!(validate_err(v).field, "shapes[0].max[1]");
    let mut v = base();
    v["shapes"][0]["half_size"] = json!([1, 0]);
    assert_eq!(validate_err(v).field, "shapes[0].half_size[1]");
    let mut v = base();
    v["camera"]["vfov_deg"] = json!(180);
    assert_eq!(validate_err(v).field, "camera.vfov_deg");
    let mut v = base();
    v["camera"]["target"] = json!([0, -5, 1]);
    assert_eq!(validate_err(v).field, "camera.target");
    let mut v = base();
    v["camera"]["up"] = json!([0, 5, -0.5]);
    assert_eq!(validate_err(v).field, "camera.up");
    let mut v = base();
    v["shapes"][0] = json!({"type": "mesh", "positions": [[0, 0, 0], [1, 0, 0]], "indices": [[0, 1, 2]], "material": "grey"});
    let e = validate_err(v);
    assert_eq!(e.field, "shapes[0].indices[0][2]");
    // 1e39 overflows f32 to infinity; the error names the position and its component.
    let mut v = base();
    v["shapes"][0] = json!({"type": "mesh", "positions": [[0, 0, 0], [1, 0, 0], [0, 1e39, 0]], "indices": [[0, 1, 2]], "material": "grey"});
    let e = validate_err(v);
    assert_eq!(
        (e.field.as_str(), e.message.as_str()),
        ("shapes[0].positions[2][1]", "must be a finite number, got inf")
    );
    let mut v = base();
    v["camera"]["transform"] =
        json!([{"rotate": {"angle_deg": 5, "axis": [0, 0, 1]}}, {"translate": [0, 0, -1e39]}]);
    assert_eq!(validate_err(v).field, "camera.transform[1].translate[2]");
    let mut v = base();
    v["shapes"][0] = json!({"type": "mesh", "path": "bunny.obj", "material": "grey"});
    let e = validate_err(v);
    assert_eq!(e.field, "shapes[0].path");
    let mut s = Scene::from_json_value(base()).unwrap();
    s.shapes.push(Shape::Mesh(tessera_types::scene::Mesh {
        positions: vec![[0.0; 3], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
        indices: vec![[0, 1, 2]; 3],
        material: Some("grey".into()),
        ..Default::default()
    }));
    let e = s.validate(&Limits { max_triangles: 2, ..Limits::default() }).unwrap_err();
    assert!(e.field == "shapes[2].indices" && e.message.contains("2"), "{e}");
}

/// The additions of this format revision: lights, transforms, rough materials and mesh sources
/// are checked, and every refusal names its field.
#[test]
fn lights_transforms_and_mesh_sources_are_checked() {
    let with = |path: &str, value: serde_json::Value| {
        let mut v = base();
        let mut cur = &mut v;
        let parts: Vec<&str> = path.split('/').collect();
        for p in &parts[..parts.len() - 1] {
            cur = match p.parse::<usize>() {
                Ok(i) => &mut cur[i],
                Err(_) => &mut cur[*p],
            };
        }
        let last = parts[parts.len() - 1];
        match last.parse::<usize>() {
            Ok(i) => cur[i] = value,
            Err(_) => cur[last] = value,
        }
        v
    };
    // Valid: every new feature at once.
    let mut ok = base();
    ok["lights"] = json!([
        {"type": "point", "position": [0, 0, 3], "intensity": [1, 1, 1]},
        {"type": "spot", "position": [0, 0, 3], "direction": [0, 0, -1], "intensity": [1, 1, 1], "cone_deg": 30, "falloff_deg": 10},
        {"type": "sun", "direction": [0, 1, -1], "irradiance": [1, 1, 1], "angular_radius_deg": 0.27}
    ]);
    ok["camera"]["transform"] =
        json!([{"translate": [0, 1, 0]}, {"rotate": {"angle_deg": 10, "axis": [0, 0, 1]}}]);
    ok["materials"]["rough"] = json!({"type": "diffuse", "albedo": [0.5, 0.5, 0.5], "roughness": 0.5});
    ok["materials"]["metal"] =
        json!({"type": "conductor", "albedo": [1, 1, 1], "roughness": 0.2, "distribution": "beckmann"});
    ok["shapes"][1] =
        json!({"type": "mesh", "obj": "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "material": "metal"});
    Scene::from_json_value(ok.clone()).unwrap().validate(&Limits::default()).unwrap();

    let cases = [
        (
            with("lights", json!([{"type": "point", "position": [0, 0, 3], "intensity": [-1, 1, 1]}])),
            "lights[0].intensity[0]",
        ),
        (
            with(
                "lights",
                json!([{"type": "spot", "position": [0, 0, 3], "direction": [0, 0, 0], "intensity": [1, 1, 1], "cone_deg": 30}]),
            ),
            "lights[0].direction",
        ),
        (
            with(
                "lights",
                json!([{"type": "spot", "position": [0, 0, 3], "direction": [0, 0, -1], "intensity": [1, 1, 1], "cone_deg": 30, "falloff_deg": 40}]),
            ),
            "lights[0].falloff_deg",
        ),
        (
            with(
                "lights",
                json!([{"type": "sun", "direction": [0, 0, -1], "irradiance": [1, 1, 1], "angular_radius_deg": 50}]),
            ),
            "lights[0].angular_radius_deg",
        ),
        (
            with("camera/transform", json!([{"rotate": {"angle_deg": 10, "axis": [0, 0, 0]}}])),
            "camera.transform[0].rotate.axis",
        ),
        (with("materials/grey/roughness", json!(1.5)), "materials.grey.roughness"),
        (with("shapes/1", json!({"type": "mesh", "material": "grey"})), "shapes[1].indices"),
        (
            with("shapes/1", json!({"type": "mesh", "obj": "f 1 2 3", "gltf": "{}", "material": "grey"})),
            "shapes[1].gltf",
        ),
        (
            with("shapes/1", json!({"type": "mesh", "positions": [[0, 0, 0]], "indices": [[0, 0, 0]]})),
            "shapes[1].material",
        ),
        (with("shapes/1", json!({"type": "mesh", "mtl": "newmtl a", "path": "a.obj"})), "shapes[1].mtl"),
        // Jobs for the farm cannot name files.
        (with("shapes/1", json!({"type": "mesh", "path": "a.obj"})), "shapes[1].path"),
    ];
    for (doc, field) in cases {
        let e = validate_err(doc);
        assert_eq!(e.field, field, "{e}");
    }
    // Unknown light types and fields are parse errors naming the field.
    assert_eq!(parse_err(with("lights", json!([{"type": "area"}]))).field, "lights[0].type");
    assert_eq!(
        parse_err(with(
            "lights",
            json!([{"type": "point", "position": [0, 0, 1], "intensity": [1, 1, 1], "radius": 1}])
        ))
        .field,
        "lights[0].radius"
    );
    // Local renders accept relative paths inside the base directory only.
    let local = |path: &str| {
        Scene::from_json_value(with("shapes/1", json!({"type": "mesh", "path": path})))
            .unwrap()
            .validate_local(&Limits::default())
    };
    local("models/a.obj").unwrap();
    assert_eq!(local("../a.obj").unwrap_err().field, "shapes[1].path");
    assert_eq!(local("/abs/a.obj").unwrap_err().field, "shapes[1].path");
    assert_eq!(local("a.stl").unwrap_err().field, "shapes[1].path");
    // The OBJ triangle count is bounded at validation: a quad face is two triangles.
    let quad = with(
        "shapes/1",
        json!({"type": "mesh", "obj": "v 0 0 0\nv 1 0 0\nv 1 1 0\nv 0 1 0\nf 1 2 3 4\n", "material": "grey"}),
    );
    let e = Scene::from_json_value(quad)
        .unwrap()
        .validate(&Limits { max_triangles: 1, ..Limits::default() })
        .unwrap_err();
    assert_eq!(e.field, "shapes[1].obj", "{e}");
}
