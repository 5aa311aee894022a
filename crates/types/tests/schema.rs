//! The JSON Schema of scene format v1 (`docs/scene.schema.json`) is generated from the serde
//! types; this test regenerates it and fails if the committed file differs (re-bless with
//! `TESSERA_BLESS=1 cargo test -p tessera-types --test schema`), and checks that every scene
//! the parser accepts validates against it and that malformed ones do not.
//!
//! The validator here implements the keywords schemars emits (type, properties, required,
//! additionalProperties, items, prefixItems, minItems, maxItems, enum, const, oneOf, anyOf,
//! allOf, $ref, minimum, maximum, exclusiveMinimum, exclusiveMaximum); an unknown keyword fails the test so it cannot be silently
//! ignored.

use serde_json::{json, Value};
use std::path::PathBuf;
use tessera_types::scene::Scene;

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/scene.schema.json")
}

fn generated() -> Value {
    Scene::json_schema()
}

#[test]
fn committed_schema_is_up_to_date() {
    let text = serde_json::to_string_pretty(&generated()).unwrap() + "\n";
    if std::env::var_os("TESSERA_BLESS").is_some() {
        std::fs::write(schema_path(), &text).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(schema_path())
        .unwrap_or_else(|e| panic!("{}: {e}; bless with TESSERA_BLESS=1", schema_path().display()));
    assert!(
        committed == text,
        "docs/scene.schema.json is stale; regenerate with TESSERA_BLESS=1 cargo test -p tessera-types --test schema"
    );
}

struct Validator<'a> {
    root: &'a Value,
}

impl Validator<'_> {
    fn check(&self, schema: &Value, v: &Value, at: &str) -> Result<(), String> {
        let s = match schema {
            Value::Bool(true) => return Ok(()),
            Value::Bool(false) => return Err(format!("{at}: not allowed")),
            Value::Object(o) => o,
            _ => panic!("schema at {at} is not an object"),
        };
        for (k, kv) in s {
            match k.as_str() {
                "$schema" | "$id" | "title" | "description" | "default" | "format" | "$defs" | "examples" => {
                }
                "$ref" => {
                    let name = kv.as_str().unwrap().strip_prefix("#/$defs/").expect("local $ref");
                    self.check(&self.root["$defs"][name], v, at)?;
                }
                "type" => {
                    let types: Vec<&str> = match kv {
                        Value::String(t) => vec![t.as_str()],
                        Value::Array(a) => a.iter().map(|t| t.as_str().unwrap()).collect(),
                        _ => panic!("bad type"),
                    };
                    let ok = types.iter().any(|t| match *t {
                        "object" => v.is_object(),
                        "array" => v.is_array(),
                        "string" => v.is_string(),
                        "number" => v.is_number(),
                        "integer" => v.is_u64() || v.is_i64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
                        "boolean" => v.is_boolean(),
                        "null" => v.is_null(),
                        other => panic!("type {other}"),
                    });
                    if !ok {
                        return Err(format!("{at}: expected {types:?}, got {v}"));
                    }
                }
                "properties" => {
                    if let Some(o) = v.as_object() {
                        for (p, ps) in kv.as_object().unwrap() {
                            if let Some(x) = o.get(p) {
                                self.check(ps, x, &format!("{at}.{p}"))?;
                            }
                        }
                    }
                }
                "required" => {
                    if let Some(o) = v.as_object() {
                        for r in kv.as_array().unwrap() {
                            if !o.contains_key(r.as_str().unwrap()) {
                                return Err(format!("{at}: missing {r}"));
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if let Some(o) = v.as_object() {
                        let props = s.get("properties").and_then(Value::as_object);
                        for (p, x) in o {
                            if props.is_some_and(|ps| ps.contains_key(p)) {
                                continue;
                            }
                            self.check(kv, x, &format!("{at}.{p}"))?;
                        }
                    }
                }
                "items" => {
                    if let Some(a) = v.as_array() {
                        let skip = s.get("prefixItems").and_then(Value::as_array).map_or(0, Vec::len);
                        for (i, x) in a.iter().enumerate().skip(skip) {
                            self.check(kv, x, &format!("{at}[{i}]"))?;
                        }
                    }
                }
                "prefixItems" => {
                    if let Some(a) = v.as_array() {
                        for (i, (ps, x)) in kv.as_array().unwrap().iter().zip(a).enumerate() {
                            self.check(ps, x, &format!("{at}[{i}]"))?;
                        }
                    }
                }
                "minItems" | "maxItems" => {
                    if let Some(a) = v.as_array() {
                        let n = kv.as_u64().unwrap() as usize;
                        if (k == "minItems" && a.len() < n) || (k == "maxItems" && a.len() > n) {
                            return Err(format!("{at}: {k} {n}, got {}", a.len()));
                        }
                    }
                }
                "minimum" | "maximum" | "exclusiveMinimum" | "exclusiveMaximum" => {
                    if let Some(x) = v.as_f64() {
                        let b = kv.as_f64().unwrap();
                        let out = match k.as_str() {
                            "minimum" => x < b,
                            "maximum" => x > b,
                            "exclusiveMinimum" => x <= b,
                            _ => x >= b,
                        };
                        if out {
                            return Err(format!("{at}: {k} {b}, got {x}"));
                        }
                    }
                }
                "enum" => {
                    if !kv.as_array().unwrap().contains(v) {
                        return Err(format!("{at}: {v} not in {kv}"));
                    }
                }
                "const" => {
                    if kv != v {
                        return Err(format!("{at}: expected {kv}, got {v}"));
                    }
                }
                "oneOf" => {
                    let n = kv.as_array().unwrap().iter().filter(|x| self.check(x, v, at).is_ok()).count();
                    if n != 1 {
                        return Err(format!("{at}: matches {n} of oneOf"));
                    }
                }
                "anyOf" => {
                    if !kv.as_array().unwrap().iter().any(|x| self.check(x, v, at).is_ok()) {
                        return Err(format!("{at}: matches none of anyOf"));
                    }
                }
                "allOf" => {
                    for x in kv.as_array().unwrap() {
                        self.check(x, v, at)?;
                    }
                }
                other => {
                    panic!("schema keyword {other:?} at {at} is not implemented by this test's validator")
                }
            }
        }
        Ok(())
    }
}

fn validate(doc: &Value) -> Result<(), String> {
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(schema_path()).unwrap()).unwrap();
    Validator { root: &schema }.check(&schema, doc, "")
}

/// Scenes that use every part of the format.
fn valid_scenes() -> Vec<Value> {
    let mut out = vec![serde_json::to_value(Scene::default_scene()).unwrap()];
    out.push(json!({
        "render": {"width": 64, "height": 32, "samples": 4, "max_depth": 3},
        "camera": {"type": "orthographic", "eye": [0, 0, 5], "target": [0, 0, 0], "up": [0, 1, 0], "height": 2,
                   "transform": [{"translate": [1, 2, 3]}, {"rotate": {"angle_deg": 20, "axis": [0, 1, 0]}}]},
        "environment": {"type": "gradient", "zenith": [0, 0, 1], "horizon": [1, 1, 1]},
        "materials": {
            "d": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5], "roughness": 0.3},
            "c": {"type": "conductor", "albedo": [1, 1, 1], "roughness": 0.2, "distribution": "beckmann"},
            "g": {"type": "dielectric", "ior": 1.5, "roughness": 0.1, "distribution": "ggx"},
            "p": {"type": "glossy", "albedo": [0.2, 0.3, 0.4], "roughness": 0.1, "ior": 1.5, "distribution": "sharp"},
            "e": {"type": "emitter", "radiance": [5, 5, 5]}
        },
        "shapes": [
            {"type": "sphere", "center": [0, 0, 1], "radius": 1, "material": "d"},
            {"type": "quad", "center": [0, 0, 0], "half_size": [5, 5], "material": "c"},
            {"type": "box", "min": [0, 0, 0], "max": [1, 1, 1], "material": "e"},
            {"type": "mesh", "positions": [[0, 0, 0], [1, 0, 0], [0, 1, 0]], "indices": [[0, 1, 2]], "material": "g",
             "transform": [{"rotate": {"angle_deg": 90, "axis": [1, 0, 0]}}]},
            {"type": "mesh", "obj": "v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n", "mtl": "newmtl a\nKd 1 0 0\n"},
            {"type": "mesh", "gltf": "{}", "material": "p"},
            {"type": "mesh", "glb_base64": "Z2xURg==", "material": "p"},
            {"type": "mesh", "path": "models/a.glb"}
        ],
        "lights": [
            {"type": "point", "position": [0, 0, 3], "intensity": [10, 10, 10]},
            {"type": "spot", "position": [0, 0, 3], "direction": [0, 0, -1], "intensity": [10, 10, 10], "cone_deg": 30, "falloff_deg": 20},
            {"type": "sun", "direction": [0, 0.5, -1], "irradiance": [3, 3, 3], "angular_radius_deg": 0.27},
            {"type": "sun", "direction": [0, 0.5, -1], "irradiance": [3, 3, 3]}
        ]
    }));
    // The benchmark scenes beside the repository, when present.
    let shared = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/scenes");
    if let Ok(dir) = std::fs::read_dir(&shared) {
        for e in dir.flatten() {
            if e.path().extension().is_some_and(|x| x == "json") {
                out.push(serde_json::from_str(&std::fs::read_to_string(e.path()).unwrap()).unwrap());
            }
        }
    }
    out
}

#[test]
fn valid_scenes_validate_against_the_schema() {
    for (i, doc) in valid_scenes().iter().enumerate() {
        // The parser accepts each (so the list really is of valid documents)...
        Scene::from_json_value(doc.clone()).unwrap_or_else(|e| panic!("scene {i}: {e}"));
        // ...and so does the schema.
        validate(doc).unwrap_or_else(|e| panic!("scene {i} fails the schema: {e}"));
    }
}

#[test]
fn malformed_scenes_fail_the_schema() {
    let base = valid_scenes()[1].clone();
    type Edit = Box<dyn Fn(&mut Value)>;
    let edits: Vec<(&str, Edit)> = vec![
        ("unknown top-level key", Box::new(|v| v["extra"] = json!(1))),
        ("unknown material type", Box::new(|v| v["materials"]["d"]["type"] = json!("velvet"))),
        ("unknown distribution", Box::new(|v| v["materials"]["c"]["distribution"] = json!("phong"))),
        ("two-element vector", Box::new(|v| v["shapes"][0]["center"] = json!([0, 0]))),
        (
            "missing radius",
            Box::new(|v| v["shapes"][0].as_object_mut().unwrap().remove("radius").map(drop).unwrap()),
        ),
        ("bad transform step", Box::new(|v| v["camera"]["transform"] = json!([{"scale": [1, 1, 1]}]))),
        ("unknown light", Box::new(|v| v["lights"][0]["type"] = json!("area"))),
        ("negative width", Box::new(|v| v["render"]["width"] = json!(-5))),
        ("both spp and samples", Box::new(|v| v["render"]["spp"] = json!(4))),
        ("unknown mesh field", Box::new(|v| v["shapes"][3]["normals"] = json!([]))),
    ];
    for (what, edit) in edits {
        let mut doc = base.clone();
        edit(&mut doc);
        assert!(Scene::from_json_value(doc.clone()).is_err(), "{what}: the parser should refuse it");
        assert!(validate(&doc).is_err(), "{what}: the schema should refuse it");
    }
}
