//! The coordinator checks every submitted scene against `docs/scene.schema.json` first: over
//! REST and the WebSocket a scene the schema refuses gets a 400 (or an `error` message) naming
//! the exact field as a path, and no random edit of a valid scene panics or slips through
//! unnamed.

mod common;

use common::{scene, Farm, Ws};
use proptest::prelude::*;
use serde_json::{json, Value};
use std::sync::Arc;
use tessera_backend::{Backend, Timing};
use tessera_backend_sqlite::SqliteBackend;
use tessera_coordinator::{AppState, CoordinatorConfig};
use tessera_kinds::Registry;
use tessera_types::scene::Scene;
use tessera_types::{JobId, Limits};

/// One schema-level mistake: what it is, how to make it, the field the error must name and
/// words the message must contain.
struct Case {
    what: &'static str,
    edit: fn(&mut Value),
    field: &'static str,
    needles: &'static [&'static str],
}

/// The six kinds of mistake a schema catches (and two more), on the default scene.
fn cases() -> Vec<Case> {
    vec![
        Case {
            what: "wrong type",
            edit: |s| s["shapes"][1]["radius"] = json!("big"),
            field: "scene.shapes[1].radius",
            needles: &["expected number", "\"big\""],
        },
        Case {
            what: "out of range",
            edit: |s| s["materials"]["red"]["albedo"][1] = json!(1.5),
            field: "scene.materials.red.albedo[1]",
            needles: &["<= 1", "1.5"],
        },
        Case {
            what: "unknown field",
            edit: |s| s["shapes"][2]["colour"] = json!("green"),
            field: "scene.shapes[2].colour",
            needles: &["unknown field", "radius"],
        },
        Case {
            what: "missing required field",
            edit: |s| drop(s["camera"].as_object_mut().unwrap().remove("vfov_deg")),
            field: "scene.camera.vfov_deg",
            needles: &["missing"],
        },
        Case {
            what: "wrong enum tag",
            edit: |s| s["materials"]["blue"]["type"] = json!("velvet"),
            field: "scene.materials.blue.type",
            needles: &["velvet", "diffuse, conductor, dielectric, glossy, emitter"],
        },
        Case {
            what: "array of wrong length",
            edit: |s| s["camera"]["eye"] = json!([0, -9]),
            field: "scene.camera.eye",
            needles: &["at least 3", "got 2"],
        },
        Case {
            what: "unknown enum value",
            edit: |s| s["materials"]["gold"]["distribution"] = json!("phong"),
            field: "scene.materials.gold.distribution",
            needles: &["phong", "beckmann, ggx, sharp"],
        },
        Case {
            what: "exclusive bound",
            edit: |s| s["camera"]["vfov_deg"] = json!(180),
            field: "scene.camera.vfov_deg",
            needles: &["< 180", "got 180"],
        },
    ]
}

fn bad_scene(case: &Case) -> Value {
    let mut s = scene(32, 24, 1);
    (case.edit)(&mut s);
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_names_the_path_of_a_schema_error() {
    let farm = Farm::start_with(CoordinatorConfig { port: 0, ..Default::default() }, false);
    for case in cases() {
        let doc = json!({"kind": "render", "scene": bad_scene(&case)});
        let resp = farm.client().post(farm.url("/api/jobs")).json(&doc).send().await.unwrap();
        let status = resp.status().as_u16();
        let v: Value = resp.json().await.unwrap();
        assert_eq!(status, 400, "{}: {v}", case.what);
        assert_eq!(v["field"], case.field, "{}: {v}", case.what);
        let error = v["error"].as_str().unwrap();
        assert!(error.starts_with(&format!("{}: ", case.field)), "{}: {error}", case.what);
        for n in case.needles {
            assert!(error.contains(n), "{}: {error:?} does not mention {n:?}", case.what);
        }
    }
    let st = farm.get_json("/api/status").await;
    let jobs: u64 = st["jobs"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
    assert_eq!(jobs, 0, "a refused scene created a job: {st}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_names_the_path_of_a_schema_error() {
    let farm = Farm::start_with(CoordinatorConfig { port: 0, ..Default::default() }, false);
    let mut ws = Ws::connect(&farm.ws).await;
    assert_eq!(ws.next().await.unwrap()["type"], "hello");
    for case in cases() {
        // Both ways a WebSocket client can send a scene: the `render` action and `submit`.
        for frame in [
            json!({"action": "render", "scene": bad_scene(&case)}),
            json!({"action": "submit", "job": {"kind": "render", "scene": bad_scene(&case)}}),
        ] {
            ws.send(frame).await;
            let m = ws.next().await.expect("connection stays open");
            assert_eq!(m["type"], "error", "{}: {m}", case.what);
            let text = m["message"].as_str().unwrap();
            assert!(text.starts_with(&format!("{}: ", case.field)), "{}: {text}", case.what);
            for n in case.needles {
                assert!(text.contains(n), "{}: {text:?} does not mention {n:?}", case.what);
            }
        }
    }
}

// ------------------------------------------------------------------ random edits

/// One edit of a scene, at a node chosen by index among all its nodes.
#[derive(Debug, Clone)]
enum Mutation {
    Replace(prop::sample::Index, Value),
    Remove(prop::sample::Index),
    AddKey(prop::sample::Index, &'static str, Value),
    /// Scales a float or sets an integer: edits that often keep the scene valid.
    Nudge(prop::sample::Index, f32, u32),
}

/// Values that hit the schema's edges: wrong types, bounds, tags, vectors of every length.
/// Floats are drawn as f32 so the schema (f64) and the parser (f32) see the same number.
fn values() -> impl Strategy<Value = Value> {
    let float = prop_oneof![
        (-2.0f32..2.0).prop_map(f64::from),
        (-1e6f32..1e6).prop_map(f64::from),
        prop::sample::select(vec![0.0, -0.0, 1.0, 45.0, 90.0, 180.0, 1e30, f64::from(f32::MAX)]),
    ];
    let number = prop_oneof![
        float.prop_map(|f| json!(f)),
        any::<i64>().prop_map(|i| json!(i)),
        prop::sample::select(vec![0u64, 1, 64, 65, 8192, 8193, u64::from(u32::MAX) + 1])
            .prop_map(|u| json!(u)),
    ];
    let word = prop::sample::select(vec![
        "",
        "sphere",
        "mesh",
        "diffuse",
        "emitter",
        "ggx",
        "phong",
        "red",
        "blue",
        "spot",
        "sun",
        "gradient",
        "perspective",
        "orthographic",
        "models/a.obj",
        "../a.obj",
    ])
    .prop_map(|s| json!(s));
    let leaf = prop_oneof![Just(Value::Null), any::<bool>().prop_map(|b| json!(b)), number, word];
    leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec!["type", "radius", "translate", "rotate", "albedo", "x"]),
                inner,
                0..3
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let key = prop::sample::select(vec![
        "extra",
        "type",
        "radius",
        "spp",
        "samples",
        "transform",
        "falloff_deg",
        "lights",
        "obj",
        "path",
    ]);
    prop_oneof![
        3 => (any::<prop::sample::Index>(), values()).prop_map(|(i, v)| Mutation::Replace(i, v)),
        1 => any::<prop::sample::Index>().prop_map(Mutation::Remove),
        1 => (any::<prop::sample::Index>(), key, values()).prop_map(|(i, k, v)| Mutation::AddKey(i, k, v)),
        6 => (any::<prop::sample::Index>(), 0.0f32..1.5, 1u32..20).prop_map(|(i, f, n)| Mutation::Nudge(i, f, n)),
    ]
}

/// JSON pointers of every node below the root.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(o) => {
            for (k, x) in o {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(x, p, out);
            }
        }
        _ => {}
    }
}

fn apply(scene: &mut Value, m: &Mutation) {
    let mut all = Vec::new();
    pointers(scene, String::new(), &mut all);
    match m {
        Mutation::Replace(i, v) => *scene.pointer_mut(i.get(&all).as_str()).unwrap() = v.clone(),
        Mutation::Remove(i) => {
            let p: &String = i.get(&all);
            let (parent, last) = p.rsplit_once('/').unwrap();
            let last = last.replace("~1", "/").replace("~0", "~");
            match scene.pointer_mut(parent).unwrap() {
                Value::Object(o) => drop(o.remove(&last)),
                Value::Array(a) => drop(a.remove(last.parse::<usize>().unwrap())),
                _ => unreachable!("a parent is a container"),
            }
        }
        Mutation::Nudge(i, f, n) => {
            let node = scene.pointer_mut(i.get(&all).as_str()).unwrap();
            if node.is_u64() {
                *node = json!(n);
            } else if let Some(x) = node.as_f64() {
                *node = json!(f64::from(x as f32 * f));
            }
        }
        Mutation::AddKey(i, k, v) => {
            // The object at or above the chosen node gets the key.
            let mut p: String = i.get(&all).clone();
            loop {
                if let Some(Value::Object(o)) = scene.pointer_mut(&p) {
                    o.insert(k.to_string(), v.clone());
                    return;
                }
                match p.rsplit_once('/') {
                    Some((parent, _)) => p = parent.to_string(),
                    None => return,
                }
            }
        }
    }
}

/// The checks there were before the schema: serde then [`Scene::validate`].
fn typed_checks(scene: &Value, limits: &Limits) -> Result<(), String> {
    let s = Scene::from_json_value(scene.clone()).map_err(|e| e.to_string())?;
    s.validate(limits).map_err(|e| e.to_string())
}

#[test]
fn random_edits_of_a_valid_scene_are_accepted_or_refused_by_name() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let backend: Arc<dyn Backend> = Arc::new(SqliteBackend::open(dir.path(), Timing::default()).unwrap());
    let config = CoordinatorConfig { port: 0, ..Default::default() };
    let limits = config.limits.clone();
    let state = AppState::new(backend, Registry::standard(), config);
    let mut base = scene(16, 8, 1);
    // Give the random edits every kind of node to work on.
    base["lights"] = json!([
        {"type": "spot", "position": [0, 0, 4], "direction": [0, 0, -1], "intensity": [5, 5, 5], "cone_deg": 30, "falloff_deg": 20},
        {"type": "sun", "direction": [0, 0.5, -1], "irradiance": [1, 1, 1], "angular_radius_deg": 0.3}
    ]);
    base["camera"]["transform"] =
        json!([{"translate": [0, 0, 0.1]}, {"rotate": {"angle_deg": 5, "axis": [0, 0, 1]}}]);
    base["shapes"].as_array_mut().unwrap().push(json!(
        {"type": "mesh", "positions": [[0, 0, 2], [1, 0, 2], [0, 1, 2]], "indices": [[0, 1, 2]], "material": "red"}
    ));
    base["materials"]["glass"] = json!({"type": "dielectric", "ior": 1.5, "roughness": 0.1});
    typed_checks(&base, &limits).expect("the base scene is valid");

    let (accepted, refused) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
    proptest!(ProptestConfig::with_cases(400), |(edits in prop::collection::vec(mutation(), 1..4))| {
        let mut s = base.clone();
        for m in &edits {
            apply(&mut s, m);
        }
        let schema = tessera_kinds::scene_schema::check(&s);
        let typed = typed_checks(&s, &limits);
        // The schema states nothing the typed checks do not: what it refuses, they refuse too.
        if let Err(e) = &schema {
            prop_assert!(typed.is_err(), "the schema refuses ({e}) what serde + validate accept: {s}");
        }
        let doc = json!({"kind": "render", "scene": s});
        match rt.block_on(state.submit_value(doc, JobId::new())) {
            Ok(_) => {
                accepted.set(accepted.get() + 1);
                prop_assert!(schema.is_ok() && typed.is_ok(), "accepted although {schema:?} / {typed:?}: {s}");
            }
            Err(e) => {
                refused.set(refused.get() + 1);
                prop_assert!(e.status().is_client_error(), "{e} is not a 4xx");
                let field = e.field().unwrap_or_default();
                prop_assert!(field.starts_with("scene"), "error {e:?} names no field of the scene");
                prop_assert!(e.to_string().starts_with(&format!("{field}: ")), "{e}");
                prop_assert!(schema.is_err() || typed.is_err(), "refused ({e}) though both checks pass: {s}");
            }
        }
    });
    // Both outcomes occurred, so the property was tested on each side.
    let (accepted, refused) = (accepted.get(), refused.get());
    assert!(accepted > 0 && refused > 0, "accepted {accepted}, refused {refused}");
}
