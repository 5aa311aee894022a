//! Scene format v1 (DESIGN 2.4): the JSON a render job carries, as plain data.
//!
//! Conventions: right-handed, +Z up, linear Rec.709 RGB; `vfov_deg` is the full vertical field of
//! view; image row 0 is the top; `max_depth` counts path segments including the camera ray
//! (depth 1 = emitters and the environment seen directly); a quad lies in the plane
//! `z = center.z` with normal +Z and is hit from both sides.
//!
//! Tagged objects (`camera`, `environment`, each material and shape) are enums whose variants wrap
//! a payload struct (`Shape::Sphere(Sphere { .. })`), so a payload can be built and validated on
//! its own and a parse error can name the exact field inside it.

use crate::{FieldError, Limits};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A point or direction in world space.
pub type Vec3 = [f32; 3];
/// A linear RGB triple.
pub type Rgb = [f32; 3];

/// A whole scene: what to render and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scene {
    /// Resolution, samples, depth and seed.
    pub render: RenderSettings,
    /// The pinhole camera.
    pub camera: Camera,
    /// Radiance arriving from infinitely far away.
    pub environment: Environment,
    /// Materials by name; shapes refer to them by that name.
    pub materials: BTreeMap<String, Material>,
    /// Everything that can be hit.
    pub shapes: Vec<Shape>,
}

/// Image size and sampling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenderSettings {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// Samples per pixel (`samples` is accepted as an alias).
    #[serde(alias = "samples")]
    pub spp: u32,
    /// Path segments including the camera ray; 1 shows emitters and the environment only.
    pub max_depth: u32,
    /// Seeds every random number (with pixel and sample index), so a scene renders to the same bytes.
    #[serde(default)]
    pub seed: u64,
}

/// Pinhole camera looking from `eye` at `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Camera {
    /// Perspective projection.
    Perspective(PerspectiveCamera),
    /// Parallel projection.
    Orthographic(OrthographicCamera),
}

/// Perspective camera parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerspectiveCamera {
    /// Position of the pinhole.
    pub eye: Vec3,
    /// A point the camera looks at.
    pub target: Vec3,
    /// Roughly up; must not be parallel to the view direction.
    pub up: Vec3,
    /// Full vertical field of view in degrees, in (0, 180).
    pub vfov_deg: f32,
}

/// Orthographic camera parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrthographicCamera {
    /// Centre of the image plane.
    pub eye: Vec3,
    /// A point the camera looks at.
    pub target: Vec3,
    /// Roughly up; must not be parallel to the view direction.
    pub up: Vec3,
    /// Height of the visible rectangle in world units.
    pub height: f32,
}

/// Radiance from directions where no shape is hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Environment {
    /// The same radiance from every direction.
    Constant(ConstantEnvironment),
    /// A sky: `horizon` at and below the horizon, blending linearly to `zenith` by direction z.
    Gradient(GradientEnvironment),
}

/// Constant environment parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstantEnvironment {
    /// Radiance from every direction.
    pub radiance: Rgb,
}

/// Gradient environment parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GradientEnvironment {
    /// Radiance straight up (+Z).
    pub zenith: Rgb,
    /// Radiance at the horizon and below.
    pub horizon: Rgb,
}

/// How a surface scatters or emits light.
///
/// The renderer treats rough variants approximately for now (rough materials are a later issue):
/// `conductor` with roughness > 0 perturbs the mirror direction with a GGX-distributed normal,
/// `dielectric` ignores roughness (smooth glass), and `glossy` is a Fresnel-weighted choice between
/// a (GGX-perturbed) specular coat and a diffuse base.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Material {
    /// Lambertian reflector.
    Diffuse(Diffuse),
    /// Metal: `albedo` is the reflectance at every angle (no Fresnel term).
    Conductor(Conductor),
    /// Glass: Fresnel reflection and refraction, no absorption.
    Dielectric(Dielectric),
    /// Plastic-like: a dielectric coat over a diffuse base.
    Glossy(Glossy),
    /// Opaque light source that reflects nothing.
    Emitter(Emitter),
}

/// Diffuse material parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Diffuse {
    /// Reflectance in [0, 1] per channel.
    pub albedo: Rgb,
}

/// Conductor material parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conductor {
    /// Reflectance in [0, 1] per channel, at every angle.
    pub albedo: Rgb,
    /// Microfacet roughness (GGX alpha) in [0, 1]; 0 is a perfect mirror.
    #[serde(default)]
    pub roughness: f32,
}

/// Dielectric material parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dielectric {
    /// Index of refraction inside relative to outside (> 0).
    pub ior: f32,
    /// Microfacet roughness in [0, 1]; 0 is smooth glass (the only kind rendered exactly for now).
    #[serde(default)]
    pub roughness: f32,
}

/// Glossy material parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Glossy {
    /// Diffuse base reflectance in [0, 1].
    pub albedo: Rgb,
    /// Coat roughness in [0, 1].
    pub roughness: f32,
    /// Coat index of refraction (> 0).
    pub ior: f32,
    /// Microfacet distribution of the coat.
    #[serde(default)]
    pub distribution: Distribution,
}

/// Microfacet normal distribution of a glossy coat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// Beckmann distribution.
    Beckmann,
    /// GGX (Trowbridge–Reitz) distribution.
    #[default]
    Ggx,
    /// A perfectly smooth coat, whatever the roughness.
    Sharp,
}

/// Emitter material parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Emitter {
    /// Emitted radiance (>= 0 per channel).
    pub radiance: Rgb,
}

/// Geometry, each with the name of its material.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Shape {
    /// A sphere.
    Sphere(Sphere),
    /// An axis-aligned rectangle in the plane z = center.z, normal +Z, hit from both sides.
    Quad(Quad),
    /// An axis-aligned box.
    Box(BoxShape),
    /// A triangle mesh given inline.
    Mesh(Mesh),
}

/// Sphere parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sphere {
    /// Centre.
    pub center: Vec3,
    /// Radius (> 0).
    pub radius: f32,
    /// Name of a material in `materials`.
    pub material: String,
}

/// Quad parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quad {
    /// Centre; the quad lies in the plane z = center.z.
    pub center: Vec3,
    /// Half extents along X and Y (> 0).
    pub half_size: [f32; 2],
    /// Name of a material in `materials`.
    pub material: String,
}

/// Axis-aligned box parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoxShape {
    /// Minimum corner.
    pub min: Vec3,
    /// Maximum corner (each coordinate > min's).
    pub max: Vec3,
    /// Name of a material in `materials`.
    pub material: String,
}

/// Triangle mesh parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mesh {
    /// Vertex positions.
    #[serde(default)]
    pub positions: Vec<Vec3>,
    /// Triangles as indices into `positions`.
    #[serde(default)]
    pub indices: Vec<[u32; 3]>,
    /// A file to load instead (OBJ/glTF); refused by validation for now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Name of a material in `materials`.
    pub material: String,
}

impl Shape {
    /// Name of the shape's material.
    pub fn material(&self) -> &str {
        match self {
            Shape::Sphere(s) => &s.material,
            Shape::Quad(s) => &s.material,
            Shape::Box(s) => &s.material,
            Shape::Mesh(s) => &s.material,
        }
    }
}

const DEFAULT_SCENE_JSON: &str = include_str!("default_scene.json");

impl Scene {
    /// Parses JSON; errors name the field path (`shapes[1].radius`) and what was expected.
    pub fn from_json_value(v: Value) -> Result<Scene, FieldError> {
        match serde_path_to_error::deserialize::<_, Scene>(&v) {
            Ok(scene) => Ok(scene),
            // serde buffers internally tagged enums, which hides the path inside them, so on
            // failure walk the document by hand to find the exact field.
            Err(e) => Err(diagnose(&v).err().unwrap_or_else(|| path_error(e, ""))),
        }
    }

    /// Parses a JSON string; see [`Scene::from_json_value`].
    pub fn from_json_str(s: &str) -> Result<Scene, FieldError> {
        let v: Value =
            serde_json::from_str(s).map_err(|e| FieldError::new("", format!("malformed JSON: {e}")))?;
        Scene::from_json_value(v)
    }

    /// The default scene of the web app and CLI: coloured spheres on a ground plane under a sky.
    pub fn default_scene() -> Scene {
        Scene::from_json_str(DEFAULT_SCENE_JSON).expect("default_scene.json is a valid scene")
    }

    /// Semantic checks the parser cannot make: finite numbers, positive sizes, known materials,
    /// a usable camera and every count within `limits`.
    pub fn validate(&self, limits: &Limits) -> Result<(), FieldError> {
        validate_render(&self.render, limits).map_err(|e| e.within("render"))?;
        validate_camera(&self.camera).map_err(|e| e.within("camera"))?;
        validate_environment(&self.environment).map_err(|e| e.within("environment"))?;
        if self.materials.len() > limits.max_materials {
            return Err(FieldError::new(
                "materials",
                format!("{} materials exceed the limit of {}", self.materials.len(), limits.max_materials),
            ));
        }
        for (name, m) in &self.materials {
            validate_material(m).map_err(|e| e.within(&format!("materials.{name}")))?;
        }
        if self.shapes.len() > limits.max_shapes {
            return Err(FieldError::new(
                "shapes",
                format!("{} shapes exceed the limit of {}", self.shapes.len(), limits.max_shapes),
            ));
        }
        let mut triangles = 0usize;
        for (i, s) in self.shapes.iter().enumerate() {
            let at = format!("shapes[{i}]");
            validate_shape(s).map_err(|e| e.within(&at))?;
            if !self.materials.contains_key(s.material()) {
                return Err(FieldError::new(
                    format!("{at}.material"),
                    format!("unknown material {:?}; define it under \"materials\"", s.material()),
                ));
            }
            if let Shape::Mesh(m) = s {
                triangles += m.indices.len();
                if triangles > limits.max_triangles {
                    return Err(FieldError::new(
                        format!("{at}.indices"),
                        format!(
                            "the scene's meshes have more than {} triangles, the limit",
                            limits.max_triangles
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn finite(field: &str, x: f32) -> Result<(), FieldError> {
    if x.is_finite() {
        Ok(())
    } else {
        Err(FieldError::new(field, format!("must be a finite number, got {x}")))
    }
}

fn finite3(field: &str, v: &[f32; 3]) -> Result<(), FieldError> {
    for (i, x) in v.iter().enumerate() {
        finite(&format!("{field}[{i}]"), *x)?;
    }
    Ok(())
}

fn in_range3(field: &str, v: &[f32; 3], lo: f32, hi: f32) -> Result<(), FieldError> {
    finite3(field, v)?;
    for (i, x) in v.iter().enumerate() {
        if *x < lo || *x > hi {
            return Err(FieldError::new(
                format!("{field}[{i}]"),
                format!("must be in [{lo}, {hi}], got {x}"),
            ));
        }
    }
    Ok(())
}

fn non_negative3(field: &str, v: &[f32; 3]) -> Result<(), FieldError> {
    in_range3(field, v, 0.0, f32::MAX)
}

fn roughness(field: &str, r: f32) -> Result<(), FieldError> {
    finite(field, r)?;
    if !(0.0..=1.0).contains(&r) {
        return Err(FieldError::new(field, format!("must be in [0, 1], got {r}")));
    }
    Ok(())
}

fn positive(field: &str, x: f32) -> Result<(), FieldError> {
    finite(field, x)?;
    if x <= 0.0 {
        return Err(FieldError::new(field, format!("must be > 0, got {x}")));
    }
    Ok(())
}

fn validate_render(r: &RenderSettings, limits: &Limits) -> Result<(), FieldError> {
    let bounded = |field: &str, v: u32, max: u32| -> Result<(), FieldError> {
        if v < 1 {
            Err(FieldError::new(field, format!("must be at least 1, got {v}")))
        } else if v > max {
            Err(FieldError::new(field, format!("{v} exceeds the limit of {max}")))
        } else {
            Ok(())
        }
    };
    bounded("width", r.width, limits.max_width)?;
    bounded("height", r.height, limits.max_height)?;
    let pixels = u64::from(r.width) * u64::from(r.height);
    if pixels > limits.max_pixels {
        return Err(FieldError::new(
            "width",
            format!(
                "{}x{} = {pixels} pixels exceeds the limit of {} pixels",
                r.width, r.height, limits.max_pixels
            ),
        ));
    }
    bounded("spp", r.spp, limits.max_spp)?;
    bounded("max_depth", r.max_depth, limits.max_depth)?;
    Ok(())
}

fn validate_view(eye: &Vec3, target: &Vec3, up: &Vec3) -> Result<(), FieldError> {
    finite3("eye", eye)?;
    finite3("target", target)?;
    finite3("up", up)?;
    let f = [target[0] - eye[0], target[1] - eye[1], target[2] - eye[2]];
    let fl = (f[0] * f[0] + f[1] * f[1] + f[2] * f[2]).sqrt();
    if fl <= 0.0 || !fl.is_finite() {
        return Err(FieldError::new("target", "must differ from eye"));
    }
    let ul = (up[0] * up[0] + up[1] * up[1] + up[2] * up[2]).sqrt();
    if ul <= 0.0 || !ul.is_finite() {
        return Err(FieldError::new("up", "must be a non-zero vector"));
    }
    let c = [f[1] * up[2] - f[2] * up[1], f[2] * up[0] - f[0] * up[2], f[0] * up[1] - f[1] * up[0]];
    let sin = (c[0] * c[0] + c[1] * c[1] + c[2] * c[2]).sqrt() / (fl * ul);
    // Below about 1e-4 the camera's right vector is dominated by rounding.
    if sin.is_nan() || sin < 1e-4 {
        return Err(FieldError::new("up", "must not be parallel to the view direction (target - eye)"));
    }
    Ok(())
}

fn validate_camera(c: &Camera) -> Result<(), FieldError> {
    match c {
        Camera::Perspective(p) => {
            validate_view(&p.eye, &p.target, &p.up)?;
            finite("vfov_deg", p.vfov_deg)?;
            if !(p.vfov_deg > 0.0 && p.vfov_deg < 180.0) {
                return Err(FieldError::new(
                    "vfov_deg",
                    format!("must be in (0, 180) degrees, got {}", p.vfov_deg),
                ));
            }
        }
        Camera::Orthographic(o) => {
            validate_view(&o.eye, &o.target, &o.up)?;
            positive("height", o.height)?;
        }
    }
    Ok(())
}

fn validate_environment(e: &Environment) -> Result<(), FieldError> {
    match e {
        Environment::Constant(c) => non_negative3("radiance", &c.radiance),
        Environment::Gradient(g) => {
            non_negative3("zenith", &g.zenith)?;
            non_negative3("horizon", &g.horizon)
        }
    }
}

fn validate_material(m: &Material) -> Result<(), FieldError> {
    match m {
        Material::Diffuse(d) => in_range3("albedo", &d.albedo, 0.0, 1.0),
        Material::Conductor(c) => {
            in_range3("albedo", &c.albedo, 0.0, 1.0)?;
            roughness("roughness", c.roughness)
        }
        Material::Dielectric(d) => {
            positive("ior", d.ior)?;
            roughness("roughness", d.roughness)
        }
        Material::Glossy(g) => {
            in_range3("albedo", &g.albedo, 0.0, 1.0)?;
            roughness("roughness", g.roughness)?;
            positive("ior", g.ior)
        }
        Material::Emitter(e) => non_negative3("radiance", &e.radiance),
    }
}

fn validate_shape(s: &Shape) -> Result<(), FieldError> {
    match s {
        Shape::Sphere(s) => {
            finite3("center", &s.center)?;
            positive("radius", s.radius)
        }
        Shape::Quad(q) => {
            finite3("center", &q.center)?;
            positive("half_size[0]", q.half_size[0])?;
            positive("half_size[1]", q.half_size[1])
        }
        Shape::Box(b) => {
            finite3("min", &b.min)?;
            finite3("max", &b.max)?;
            for i in 0..3 {
                if b.min[i] >= b.max[i] {
                    return Err(FieldError::new(
                        format!("max[{i}]"),
                        format!("must be greater than min[{i}] ({} >= {})", b.min[i], b.max[i]),
                    ));
                }
            }
            Ok(())
        }
        Shape::Mesh(m) => {
            if m.path.is_some() {
                return Err(FieldError::new(
                    "path",
                    "loading meshes from files (OBJ/glTF) is not supported yet; give positions and indices inline",
                ));
            }
            if m.indices.is_empty() {
                return Err(FieldError::new("indices", "a mesh needs at least one triangle"));
            }
            for (i, p) in m.positions.iter().enumerate() {
                finite3(&format!("positions[{i}]"), p)?;
            }
            let n = m.positions.len();
            for (i, tri) in m.indices.iter().enumerate() {
                for (k, &ix) in tri.iter().enumerate() {
                    if ix as usize >= n {
                        return Err(FieldError::new(
                            format!("indices[{i}][{k}]"),
                            format!("index {ix} is out of range: the mesh has {n} positions"),
                        ));
                    }
                }
            }
            Ok(())
        }
    }
}

// ---------------------------------------------------------------- precise parse errors

fn path_error(e: serde_path_to_error::Error<serde_json::Error>, prefix: &str) -> FieldError {
    let mut path = String::new();
    for seg in e.path().iter() {
        match seg {
            serde_path_to_error::Segment::Seq { index } => path.push_str(&format!("[{index}]")),
            serde_path_to_error::Segment::Map { key } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
            }
            serde_path_to_error::Segment::Enum { variant } => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(variant);
            }
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    let message = e.into_inner().to_string();
    // serde reports a missing field at its parent; name the field itself, as for other errors.
    if let Some(name) = message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(name);
    }
    FieldError::new(path, message).within_if(prefix)
}

trait WithinIf {
    fn within_if(self, prefix: &str) -> Self;
}

impl WithinIf for FieldError {
    fn within_if(self, prefix: &str) -> Self {
        if prefix.is_empty() {
            self
        } else {
            self.within(prefix)
        }
    }
}

fn de<T: DeserializeOwned>(v: &Value, at: &str) -> Result<T, FieldError> {
    serde_path_to_error::deserialize::<_, T>(v).map_err(|e| path_error(e, at))
}

/// Splits a tagged object into its `type` and the rest, naming `at` in errors.
fn tagged<'a>(v: &'a Value, at: &str, kinds: &[&str]) -> Result<(&'a str, Value), FieldError> {
    let Some(obj) = v.as_object() else {
        return Err(FieldError::new(at, format!("expected an object with a \"type\", got {v}")));
    };
    let ty = match obj.get("type") {
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(FieldError::new(format!("{at}.type"), format!("expected a string, got {other}")))
        }
        None => {
            return Err(FieldError::new(
                format!("{at}.type"),
                format!("missing; expected one of {}", kinds.join(", ")),
            ))
        }
    };
    if !kinds.contains(&ty) {
        return Err(FieldError::new(
            format!("{at}.type"),
            format!("unknown type {ty:?}; expected one of {}", kinds.join(", ")),
        ));
    }
    let mut rest = obj.clone();
    rest.remove("type");
    Ok((ty, Value::Object(rest)))
}

fn check_camera(v: &Value) -> Result<(), FieldError> {
    let at = "camera";
    match tagged(v, at, &["perspective", "orthographic"])? {
        ("perspective", o) => de::<PerspectiveCamera>(&o, at).map(drop),
        (_, o) => de::<OrthographicCamera>(&o, at).map(drop),
    }
}

fn check_environment(v: &Value) -> Result<(), FieldError> {
    let at = "environment";
    match tagged(v, at, &["constant", "gradient"])? {
        ("constant", o) => de::<ConstantEnvironment>(&o, at).map(drop),
        (_, o) => de::<GradientEnvironment>(&o, at).map(drop),
    }
}

fn check_material(v: &Value, at: &str) -> Result<(), FieldError> {
    match tagged(v, at, &["diffuse", "conductor", "dielectric", "glossy", "emitter"])? {
        ("diffuse", o) => de::<Diffuse>(&o, at).map(drop),
        ("conductor", o) => de::<Conductor>(&o, at).map(drop),
        ("dielectric", o) => de::<Dielectric>(&o, at).map(drop),
        ("glossy", o) => de::<Glossy>(&o, at).map(drop),
        (_, o) => de::<Emitter>(&o, at).map(drop),
    }
}

fn check_shape(v: &Value, at: &str) -> Result<(), FieldError> {
    match tagged(v, at, &["sphere", "quad", "box", "mesh"])? {
        ("sphere", o) => de::<Sphere>(&o, at).map(drop),
        ("quad", o) => de::<Quad>(&o, at).map(drop),
        ("box", o) => de::<BoxShape>(&o, at).map(drop),
        (_, o) => de::<Mesh>(&o, at).map(drop),
    }
}

/// Re-parses a document that failed, part by part, so the error names the exact field.
fn diagnose(v: &Value) -> Result<(), FieldError> {
    let Some(obj) = v.as_object() else {
        return Err(FieldError::new("", format!("expected a JSON object, got {v}")));
    };
    const TOP: [&str; 5] = ["render", "camera", "environment", "materials", "shapes"];
    for k in obj.keys() {
        if !TOP.contains(&k.as_str()) {
            return Err(FieldError::new(
                k.clone(),
                format!("unknown field; expected one of {}", TOP.join(", ")),
            ));
        }
    }
    for k in TOP {
        if !obj.contains_key(k) {
            return Err(FieldError::new(k, "missing field"));
        }
    }
    de::<RenderSettings>(&obj["render"], "render")?;
    check_camera(&obj["camera"])?;
    check_environment(&obj["environment"])?;
    let Some(materials) = obj["materials"].as_object() else {
        return Err(FieldError::new("materials", "expected an object mapping names to materials"));
    };
    for (name, m) in materials {
        check_material(m, &format!("materials.{name}"))?;
    }
    let Some(shapes) = obj["shapes"].as_array() else {
        return Err(FieldError::new("shapes", "expected an array of shapes"));
    };
    for (i, s) in shapes.iter().enumerate() {
        check_shape(s, &format!("shapes[{i}]"))?;
    }
    Ok(())
}
