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
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// A point or direction in world space.
pub type Vec3 = [f32; 3];
/// A linear RGB triple.
pub type Rgb = [f32; 3];

/// A whole scene: what to render and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// Lights that are not shapes: points, spots and the sun (optional; at most `max_shapes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lights: Vec<Light>,
}

/// Image size and sampling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RenderSettings {
    /// Image width in pixels (at least 1; the coordinator's limits cap it).
    #[schemars(range(min = 1))]
    pub width: u32,
    /// Image height in pixels (at least 1; the coordinator's limits cap it).
    #[schemars(range(min = 1))]
    pub height: u32,
    /// Samples per pixel (`samples` is accepted as an alias).
    #[serde(alias = "samples")]
    #[schemars(range(min = 1))]
    pub spp: u32,
    /// Path segments including the camera ray; 1 shows emitters and the environment only.
    #[schemars(range(min = 1))]
    pub max_depth: u32,
    /// Seeds every random number (with pixel and sample index), so a scene renders to the same bytes.
    #[serde(default)]
    pub seed: u64,
    /// Whether next-event estimation also picks the environment as a light, combined with BSDF
    /// sampling by multiple importance sampling. Unset means off: for constant and gradient
    /// skies BSDF sampling alone was measured as good or better; turn it on for a sky with strong
    /// contrast (zenith many times the horizon). The image converges to the same values either way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sample_environment: Option<bool>,
}

/// Pinhole camera looking from `eye` at `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Camera {
    /// Perspective projection.
    Perspective(PerspectiveCamera),
    /// Parallel projection.
    Orthographic(OrthographicCamera),
}

/// Perspective camera parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PerspectiveCamera {
    /// Position of the pinhole.
    pub eye: Vec3,
    /// A point the camera looks at.
    pub target: Vec3,
    /// Roughly up; must not be parallel to the view direction.
    pub up: Vec3,
    /// Full vertical field of view in degrees, in (0, 180).
    #[schemars(extend("exclusiveMinimum" = 0, "exclusiveMaximum" = 180))]
    pub vfov_deg: f32,
    /// Transforms applied to the camera after `eye`/`target`/`up` place it (see [`Transform`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_TRANSFORM_STEPS))]
    pub transform: Vec<Transform>,
}

/// Orthographic camera parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrthographicCamera {
    /// Centre of the image plane.
    pub eye: Vec3,
    /// A point the camera looks at.
    pub target: Vec3,
    /// Roughly up; must not be parallel to the view direction.
    pub up: Vec3,
    /// Height of the visible rectangle in world units (> 0).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub height: f32,
    /// Transforms applied to the camera after `eye`/`target`/`up` place it (see [`Transform`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_TRANSFORM_STEPS))]
    pub transform: Vec<Transform>,
}

/// One step of a transform chain, written `{"translate": [x, y, z]}` or
/// `{"rotate": {"angle_deg": a, "axis": [x, y, z]}}`.
///
/// A chain `[T1, T2, ..., Tn]` is the matrix `M = T1 · T2 · … · Tn`: each step acts in the
/// coordinate frame left by the steps before it (seed 001's `translate(..).rotate(..)`), so
/// `[{"translate": [0, 4, -2]}, {"rotate": ...}]` rotates about an axis through (0, 4, -2).
/// The object (camera or mesh) is placed in that frame: every point `p` becomes `M · p`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Transform {
    /// Moves by (x, y, z).
    Translate(Vec3),
    /// Rotates about an axis through the frame's origin.
    Rotate(Rotate),
}

/// A rotation by `angle_deg` about `axis`, counter-clockwise looking down the axis towards the
/// origin (right-hand rule).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Rotate {
    /// Angle in degrees.
    pub angle_deg: f32,
    /// Axis direction (need not be unit length, must not be zero).
    pub axis: Vec3,
}

/// Radiance from directions where no shape is hit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Environment {
    /// The same radiance from every direction.
    Constant(ConstantEnvironment),
    /// A sky: `horizon` at and below the horizon, blending linearly to `zenith` by direction z.
    Gradient(GradientEnvironment),
}

/// Constant environment parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConstantEnvironment {
    /// Radiance from every direction (>= 0 per channel).
    #[schemars(inner(range(min = 0)))]
    pub radiance: Rgb,
}

/// Gradient environment parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GradientEnvironment {
    /// Radiance straight up (+Z), >= 0 per channel.
    #[schemars(inner(range(min = 0)))]
    pub zenith: Rgb,
    /// Radiance at the horizon and below, >= 0 per channel.
    #[schemars(inner(range(min = 0)))]
    pub horizon: Rgb,
}

/// How a surface scatters or emits light.
///
/// Roughness of `conductor`, `dielectric` and `glossy` is the microfacet alpha of the chosen
/// `distribution` (Mitsuba's convention, not squared); 0 or `sharp` gives a smooth surface.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Diffuse {
    /// Reflectance in [0, 1] per channel.
    #[schemars(inner(range(min = 0, max = 1)))]
    pub albedo: Rgb,
    /// Oren–Nayar roughness σ in [0, 1] (Fujii's energy-conserving form, as OpenPBR's
    /// `base_diffuse_roughness`); 0 is Lambertian.
    #[serde(default)]
    #[schemars(range(min = 0, max = 1))]
    pub roughness: f32,
}

/// Conductor material parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Conductor {
    /// Reflectance in [0, 1] per channel, at every angle.
    #[schemars(inner(range(min = 0, max = 1)))]
    pub albedo: Rgb,
    /// Microfacet roughness (alpha) in [0, 1]; 0 is a perfect mirror.
    #[serde(default)]
    #[schemars(range(min = 0, max = 1))]
    pub roughness: f32,
    /// Microfacet distribution.
    #[serde(default)]
    pub distribution: Distribution,
}

/// Dielectric material parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Dielectric {
    /// Index of refraction inside relative to outside (> 0).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub ior: f32,
    /// Microfacet roughness (alpha) in [0, 1]; 0 is smooth glass.
    #[serde(default)]
    #[schemars(range(min = 0, max = 1))]
    pub roughness: f32,
    /// Microfacet distribution.
    #[serde(default)]
    pub distribution: Distribution,
}

/// Glossy material parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Glossy {
    /// Diffuse base reflectance in [0, 1].
    #[schemars(inner(range(min = 0, max = 1)))]
    pub albedo: Rgb,
    /// Coat roughness in [0, 1].
    #[schemars(range(min = 0, max = 1))]
    pub roughness: f32,
    /// Coat index of refraction (> 0).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub ior: f32,
    /// Microfacet distribution of the coat.
    #[serde(default)]
    pub distribution: Distribution,
}

/// Microfacet normal distribution of a rough surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Distribution {
    /// Beckmann distribution.
    Beckmann,
    /// GGX (Trowbridge–Reitz) distribution.
    #[default]
    Ggx,
    /// A perfectly smooth surface, whatever the roughness.
    Sharp,
}

/// Emitter material parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Emitter {
    /// Emitted radiance (>= 0 per channel).
    #[schemars(inner(range(min = 0)))]
    pub radiance: Rgb,
}

/// Geometry, each with the name of its material.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Shape {
    /// A sphere.
    Sphere(Sphere),
    /// An axis-aligned rectangle in the plane z = center.z, normal +Z, hit from both sides.
    Quad(Quad),
    /// An axis-aligned box.
    Box(BoxShape),
    /// A triangle mesh: inline, inline file content or a file.
    Mesh(Mesh),
}

/// Sphere parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sphere {
    /// Centre.
    pub center: Vec3,
    /// Radius (> 0).
    #[schemars(extend("exclusiveMinimum" = 0))]
    pub radius: f32,
    /// Name of a material in `materials`.
    pub material: String,
}

/// Quad parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Quad {
    /// Centre; the quad lies in the plane z = center.z.
    pub center: Vec3,
    /// Half extents along X and Y (> 0).
    #[schemars(extend("items" = {"type": "number", "format": "float", "exclusiveMinimum": 0}))]
    pub half_size: [f32; 2],
    /// Name of a material in `materials`.
    pub material: String,
}

/// Axis-aligned box parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BoxShape {
    /// Minimum corner.
    pub min: Vec3,
    /// Maximum corner (each coordinate > min's).
    pub max: Vec3,
    /// Name of a material in `materials`.
    pub material: String,
}

/// Triangle mesh parameters. Exactly one source: `positions` + `indices`, `obj` (with optional
/// `mtl`), `gltf`, `glb_base64`, or `path` (a `.obj`, `.gltf` or `.glb` file, local renders only).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Mesh {
    /// Vertex positions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub positions: Vec<Vec3>,
    /// Triangles as indices into `positions`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indices: Vec<[u32; 3]>,
    /// A file relative to the scene's base directory; refused in jobs sent to the farm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Inline Wavefront OBJ text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub obj: Option<String>,
    /// Inline MTL text for `obj` (its `mtllib` line is ignored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtl: Option<String>,
    /// Inline glTF 2.0 JSON text; buffers must be embedded as base64 `data:` URIs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gltf: Option<String>,
    /// Inline binary glTF (`.glb`), base64-encoded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub glb_base64: Option<String>,
    /// Transforms applied to every vertex (see [`Transform`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = MAX_TRANSFORM_STEPS))]
    pub transform: Vec<Transform>,
    /// Name of a material in `materials`. Required for inline triangles; for files it overrides
    /// the file's own materials, which are otherwise mapped to ours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub material: Option<String>,
}

/// Lights that are not shapes. Intensities and irradiance are linear RGB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Light {
    /// An isotropic point light.
    Point(PointLight),
    /// A point light restricted to a cone.
    Spot(SpotLight),
    /// A directional light from infinitely far away, optionally a disc of directions.
    Sun(SunLight),
}

/// Point light parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PointLight {
    /// Position.
    pub position: Vec3,
    /// Radiant intensity (W/sr per channel, >= 0): irradiance at distance r is intensity·cosθ/r².
    #[schemars(inner(range(min = 0)))]
    pub intensity: Rgb,
}

/// Spot light parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SpotLight {
    /// Position.
    pub position: Vec3,
    /// The direction the spot points (need not be unit length).
    pub direction: Vec3,
    /// Intensity on the axis (W/sr per channel, >= 0).
    #[schemars(inner(range(min = 0)))]
    pub intensity: Rgb,
    /// Half-angle of the cone in degrees, in (0, 90]; no light outside it.
    #[schemars(range(max = 90), extend("exclusiveMinimum" = 0))]
    pub cone_deg: f32,
    /// Half-angle where the smooth falloff to the cone edge starts, in [0, cone_deg]; defaults
    /// to `cone_deg` (a hard edge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 90))]
    pub falloff_deg: Option<f32>,
}

/// Sun (directional light) parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SunLight {
    /// The direction the light travels, from the sun towards the scene (need not be unit length).
    pub direction: Vec3,
    /// Irradiance on a surface facing the sun (W/m² per channel, >= 0).
    #[schemars(inner(range(min = 0)))]
    pub irradiance: Rgb,
    /// Angular radius of the sun's disc in degrees, in [0, 45]; 0 is a delta (hard shadows).
    /// The real sun is about 0.27.
    #[serde(default)]
    #[schemars(range(min = 0, max = 45))]
    pub angular_radius_deg: f32,
}

impl Shape {
    /// Name of the shape's material; None for a file mesh that keeps the file's materials.
    pub fn material(&self) -> Option<&str> {
        match self {
            Shape::Sphere(s) => Some(&s.material),
            Shape::Quad(s) => Some(&s.material),
            Shape::Box(s) => Some(&s.material),
            Shape::Mesh(s) => s.material.as_deref(),
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

    /// The JSON Schema (2020-12) of scene format v1, generated from these types; committed as
    /// `docs/scene.schema.json`, and the coordinator checks every submitted scene against it.
    /// It holds structure and plain ranges; [`Scene::validate`] adds what a schema cannot say
    /// (references to materials, mesh index ranges, non-zero vectors, configured limits).
    pub fn json_schema() -> Value {
        let mut v = serde_json::to_value(schemars::schema_for!(Scene)).expect("schema serialises");
        v["$id"] = Value::from("https://tessera.invalid/scene.schema.json");
        v["title"] = Value::from("Tessera scene format v1");
        // serde's `alias` is invisible to schemars: accept `samples` in place of `spp`.
        let r = &mut v["$defs"]["RenderSettings"];
        let spp = r["properties"]["spp"].clone();
        r["properties"]["samples"] = spp;
        if let Some(req) = r["required"].as_array_mut() {
            req.retain(|x| x != "spp");
        }
        r["oneOf"] = serde_json::json!([{"required": ["spp"]}, {"required": ["samples"]}]);
        v
    }

    /// The default scene of the web app and CLI: coloured spheres on a ground plane under a sky.
    pub fn default_scene() -> Scene {
        Scene::from_json_str(DEFAULT_SCENE_JSON).expect("default_scene.json is a valid scene")
    }

    /// Semantic checks the parser cannot make: finite numbers, positive sizes, known materials,
    /// a usable camera and every count within `limits`. Mesh `path`s are refused: a job sent to
    /// the farm must carry its files inline (`obj`, `gltf`, `glb_base64`).
    pub fn validate(&self, limits: &Limits) -> Result<(), FieldError> {
        self.check(limits, false)
    }

    /// [`Scene::validate`] for a local render that resolves mesh `path`s against a base
    /// directory: paths must be relative and stay inside it (no `..`).
    pub fn validate_local(&self, limits: &Limits) -> Result<(), FieldError> {
        self.check(limits, true)
    }

    /// True when some mesh names a file by `path`.
    pub fn uses_files(&self) -> bool {
        self.shapes.iter().any(|s| matches!(s, Shape::Mesh(m) if m.path.is_some()))
    }

    fn check(&self, limits: &Limits, allow_paths: bool) -> Result<(), FieldError> {
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
            validate_shape(s, limits, allow_paths).map_err(|e| e.within(&at))?;
            if let Some(name) = s.material() {
                if !self.materials.contains_key(name) {
                    return Err(FieldError::new(
                        format!("{at}.material"),
                        format!("unknown material {name:?}; define it under \"materials\""),
                    ));
                }
            }
            if let Shape::Mesh(m) = s {
                // Inline OBJ faces are counted from the text (an upper bound on the triangles
                // it fans into); glTF and file meshes are counted again by the loader.
                let (n, field) = match &m.obj {
                    Some(text) => (obj_triangle_bound(text), "obj"),
                    None => (m.indices.len(), "indices"),
                };
                triangles = triangles.saturating_add(n);
                if triangles > limits.max_triangles {
                    return Err(FieldError::new(
                        format!("{at}.{field}"),
                        format!(
                            "the scene's meshes have more than {} triangles, the limit",
                            limits.max_triangles
                        ),
                    ));
                }
            }
        }
        if self.lights.len() > limits.max_shapes {
            return Err(FieldError::new(
                "lights",
                format!("{} lights exceed the limit of {}", self.lights.len(), limits.max_shapes),
            ));
        }
        for (i, l) in self.lights.iter().enumerate() {
            validate_light(l).map_err(|e| e.within(&format!("lights[{i}]")))?;
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

fn finite3(field: impl std::fmt::Display, v: &[f32; 3]) -> Result<(), FieldError> {
    match v.iter().position(|x| !x.is_finite()) {
        Some(i) => finite(&format!("{field}[{i}]"), v[i]),
        None => Ok(()),
    }
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

/// Checks a transform chain: finite numbers and non-zero rotation axes.
fn validate_transform(chain: &[Transform]) -> Result<(), FieldError> {
    if chain.len() > MAX_TRANSFORM_STEPS {
        return Err(FieldError::new(
            "transform",
            format!("{} steps exceed the limit of {MAX_TRANSFORM_STEPS}", chain.len()),
        ));
    }
    for (i, t) in chain.iter().enumerate() {
        match t {
            Transform::Translate(v) => finite3(format_args!("transform[{i}].translate"), v)?,
            Transform::Rotate(r) => {
                finite(&format!("transform[{i}].rotate.angle_deg"), r.angle_deg)?;
                let at = format!("transform[{i}].rotate.axis");
                finite3(&at, &r.axis)?;
                let len2 = r.axis.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>();
                if len2 <= 0.0 {
                    return Err(FieldError::new(at, "must be a non-zero vector"));
                }
            }
        }
    }
    Ok(())
}

/// Most steps in one transform chain (a guard against absurd documents, not a modelling limit).
pub const MAX_TRANSFORM_STEPS: usize = 64;

fn validate_camera(c: &Camera) -> Result<(), FieldError> {
    match c {
        Camera::Perspective(p) => {
            validate_transform(&p.transform)?;
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
            validate_transform(&o.transform)?;
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
        Material::Diffuse(d) => {
            in_range3("albedo", &d.albedo, 0.0, 1.0)?;
            roughness("roughness", d.roughness)
        }
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

fn validate_shape(s: &Shape, limits: &Limits, allow_paths: bool) -> Result<(), FieldError> {
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
        Shape::Mesh(m) => validate_mesh(m, limits, allow_paths),
    }
}

/// Upper bound on the triangles an OBJ text fans into: each `f` line of n vertices gives n - 2.
pub fn obj_triangle_bound(text: &str) -> usize {
    text.lines()
        .filter_map(|l| l.trim_start().strip_prefix("f "))
        .map(|rest| rest.split_whitespace().count().saturating_sub(2))
        .sum()
}

fn validate_mesh(m: &Mesh, limits: &Limits, allow_paths: bool) -> Result<(), FieldError> {
    validate_transform(&m.transform)?;
    let inline = !m.positions.is_empty() || !m.indices.is_empty();
    let sources: Vec<&str> = [
        ("positions", inline),
        ("path", m.path.is_some()),
        ("obj", m.obj.is_some()),
        ("gltf", m.gltf.is_some()),
        ("glb_base64", m.glb_base64.is_some()),
    ]
    .iter()
    .filter(|(_, on)| *on)
    .map(|(name, _)| *name)
    .collect();
    match sources.as_slice() {
        [] => {
            return Err(FieldError::new(
                "indices",
                "a mesh needs triangles: positions and indices, obj, gltf, glb_base64 or path",
            ))
        }
        [_] => {}
        [_, second, ..] => {
            return Err(FieldError::new(
                *second,
                format!("give one mesh source, not {}", sources.join(" and ")),
            ))
        }
    }
    if m.mtl.is_some() && m.obj.is_none() {
        return Err(FieldError::new("mtl", "only meaningful with obj"));
    }
    // Inline file content larger than a request body cannot have arrived over the API anyway;
    // the cap keeps a local document from asking the parser for unbounded work.
    for (field, data) in [("obj", &m.obj), ("mtl", &m.mtl), ("gltf", &m.gltf), ("glb_base64", &m.glb_base64)]
    {
        if let Some(d) = data {
            if d.len() > limits.max_body_bytes {
                return Err(FieldError::new(
                    field,
                    format!("{} bytes exceed the limit of {}", d.len(), limits.max_body_bytes),
                ));
            }
        }
    }
    if let Some(path) = &m.path {
        if !allow_paths {
            return Err(FieldError::new(
                "path",
                "a job cannot name files on the farm; inline the mesh as obj, gltf or glb_base64",
            ));
        }
        let p = std::path::Path::new(path);
        let ext = p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
        if !matches!(ext.as_deref(), Some("obj" | "gltf" | "glb")) {
            return Err(FieldError::new("path", "must end in .obj, .gltf or .glb"));
        }
        if path.is_empty()
            || p.is_absolute()
            || p.components().any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(FieldError::new(
                "path",
                "must be a relative path inside the scene's directory (no `..`, no leading `/`)",
            ));
        }
    }
    if !inline {
        return Ok(());
    }
    if m.material.is_none() {
        return Err(FieldError::new("material", "missing field; inline triangles need a material"));
    }
    if m.indices.is_empty() {
        return Err(FieldError::new("indices", "a mesh needs at least one triangle"));
    }
    for (i, p) in m.positions.iter().enumerate() {
        // `format_args!` leaves the field name unformatted unless the position is bad: a
        // 1M-triangle mesh has half a million of them.
        finite3(format_args!("positions[{i}]"), p)?;
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

fn validate_light(l: &Light) -> Result<(), FieldError> {
    match l {
        Light::Point(p) => {
            finite3("position", &p.position)?;
            non_negative3("intensity", &p.intensity)
        }
        Light::Spot(s) => {
            finite3("position", &s.position)?;
            unit_direction("direction", &s.direction)?;
            non_negative3("intensity", &s.intensity)?;
            finite("cone_deg", s.cone_deg)?;
            if !(s.cone_deg > 0.0 && s.cone_deg <= 90.0) {
                return Err(FieldError::new("cone_deg", format!("must be in (0, 90], got {}", s.cone_deg)));
            }
            if let Some(f) = s.falloff_deg {
                finite("falloff_deg", f)?;
                if !(0.0..=s.cone_deg).contains(&f) {
                    return Err(FieldError::new(
                        "falloff_deg",
                        format!("must be in [0, cone_deg = {}], got {f}", s.cone_deg),
                    ));
                }
            }
            Ok(())
        }
        Light::Sun(s) => {
            unit_direction("direction", &s.direction)?;
            non_negative3("irradiance", &s.irradiance)?;
            finite("angular_radius_deg", s.angular_radius_deg)?;
            if !(0.0..=45.0).contains(&s.angular_radius_deg) {
                return Err(FieldError::new(
                    "angular_radius_deg",
                    format!("must be in [0, 45], got {}", s.angular_radius_deg),
                ));
            }
            Ok(())
        }
    }
}

fn unit_direction(field: &str, v: &Vec3) -> Result<(), FieldError> {
    finite3(field, v)?;
    let len2 = v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>();
    if len2 <= 1e-20 {
        return Err(FieldError::new(field, "must be a non-zero vector"));
    }
    Ok(())
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

fn check_light(v: &Value, at: &str) -> Result<(), FieldError> {
    match tagged(v, at, &["point", "spot", "sun"])? {
        ("point", o) => de::<PointLight>(&o, at).map(drop),
        ("spot", o) => de::<SpotLight>(&o, at).map(drop),
        (_, o) => de::<SunLight>(&o, at).map(drop),
    }
}

/// Re-parses a document that failed, part by part, so the error names the exact field.
fn diagnose(v: &Value) -> Result<(), FieldError> {
    let Some(obj) = v.as_object() else {
        return Err(FieldError::new("", format!("expected a JSON object, got {v}")));
    };
    const TOP: [&str; 6] = ["render", "camera", "environment", "materials", "shapes", "lights"];
    for k in obj.keys() {
        if !TOP.contains(&k.as_str()) {
            return Err(FieldError::new(
                k.clone(),
                format!("unknown field; expected one of {}", TOP.join(", ")),
            ));
        }
    }
    for k in &TOP[..5] {
        if !obj.contains_key(*k) {
            return Err(FieldError::new(*k, "missing field"));
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
    if let Some(lights) = obj.get("lights") {
        let Some(lights) = lights.as_array() else {
            return Err(FieldError::new("lights", "expected an array of lights"));
        };
        for (i, l) in lights.iter().enumerate() {
            check_light(l, &format!("lights[{i}]"))?;
        }
    }
    Ok(())
}
