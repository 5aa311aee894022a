//! Mesh import: OBJ (with MTL) through `tobj` and glTF 2.0 (`.gltf`, `.glb`) through `gltf`,
//! from inline document content or from files under a base directory, with the files'
//! materials mapped to ours.
//!
//! Material mapping (used unless the shape names a `material`, which then wins):
//! - OBJ/MTL: `Ke` > 0 → `emitter`; `d` < 1 or `illum` 4/6/7 → `dielectric` (`Ni`, default
//!   1.5); `Ks` > 0 → `glossy` over `Kd` (roughness from `Ns` by Walter's alpha = √(2/(Ns+2)),
//!   IOR `Ni` or 1.5) unless alpha ≥ 0.81; otherwise `diffuse` with `Kd`. A face without a
//!   material is mid grey.
//! - glTF: emissive > 0 → `emitter` (factor × `KHR_materials_emissive_strength`);
//!   `KHR_materials_transmission` > 0.5 → `dielectric` (`KHR_materials_ior`, default 1.5,
//!   roughness²); metallic ≥ 0.5 → `conductor` (base colour, roughness²); otherwise `glossy`
//!   (base colour, roughness², IOR 1.5, GGX), or `diffuse` when roughness² ≥ 0.81. glTF's
//!   roughness is perceptual, hence squared.

use crate::xform::Affine;
use base64::Engine;
use std::path::{Component, Path, PathBuf};
use tessera_types::scene::{
    Conductor, Dielectric, Diffuse, Distribution, Emitter, Glossy, Material as MaterialDesc, Mesh,
};

/// Where files come from and how much a loader may read.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Directory that mesh `path`s (and the files they reference) are resolved against; None
    /// refuses `path`.
    pub base_dir: Option<PathBuf>,
    /// Most triangles across the scene's meshes after loading.
    pub max_triangles: usize,
    /// Largest file a mesh may read, bytes.
    pub max_file_bytes: u64,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions { base_dir: None, max_triangles: 20_000_000, max_file_bytes: 1 << 30 }
    }
}

/// Triangles of one mesh shape, in world space, each with an index into `materials`.
#[derive(Debug, Default)]
pub(crate) struct Loaded {
    pub triangles: Vec<[[f32; 3]; 3]>,
    /// Per triangle: index into `materials`, or None for the shape's `material`.
    pub tri_material: Vec<Option<u32>>,
    /// Materials the file defined (already mapped to ours), with their names.
    pub materials: Vec<(String, MaterialDesc)>,
}

/// A loading failure: the field it concerns (`obj`, `path`, ...) and what went wrong.
#[derive(Debug)]
pub(crate) struct ImportError {
    pub field: &'static str,
    pub message: String,
}

fn err(field: &'static str, message: impl Into<String>) -> ImportError {
    ImportError { field, message: message.into() }
}

/// Resolves `rel` under `base`, refusing anything that could leave it.
fn resolve(base: &Path, rel: &Path) -> Option<PathBuf> {
    if rel.as_os_str().is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(base.join(rel))
}

fn read_limited(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.len() > max {
        return Err(format!("{}: {} bytes exceed the limit of {max}", path.display(), meta.len()));
    }
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Loads one mesh shape that has a file source (`path`, `obj`, `gltf` or `glb_base64`).
/// `budget` is the number of triangles still allowed in the scene.
pub(crate) fn load(mesh: &Mesh, opts: &LoadOptions, budget: usize) -> Result<Loaded, ImportError> {
    let xf = Affine::from_chain(&mesh.transform);
    let mut out = if let Some(text) = &mesh.obj {
        let mtl = mesh.mtl.clone();
        load_obj(text.as_bytes(), "obj", move |_| mtl.clone().map(|m| m.into_bytes()))?
    } else if let Some(text) = &mesh.gltf {
        load_gltf(text.as_bytes(), "gltf", None, opts)?
    } else if let Some(b64) = &mesh.glb_base64 {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| err("glb_base64", format!("not valid base64: {e}")))?;
        load_gltf(&bytes, "glb_base64", None, opts)?
    } else if let Some(path) = &mesh.path {
        let Some(base) = &opts.base_dir else {
            return Err(err(
                "path",
                "this renderer has no base directory for files; inline the mesh as obj, gltf or glb_base64",
            ));
        };
        let rel = Path::new(path);
        let full = resolve(base, rel)
            .ok_or_else(|| err("path", "must be a relative path inside the scene's directory"))?;
        let bytes = read_limited(&full, opts.max_file_bytes).map_err(|m| err("path", m))?;
        let dir = full.parent().map(Path::to_path_buf).unwrap_or_else(|| base.clone());
        let ext = rel.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if ext == "obj" {
            let max = opts.max_file_bytes;
            // mtllib names are resolved next to the OBJ and must stay inside its directory.
            load_obj(&bytes, "path", move |name| {
                resolve(&dir, name).and_then(|p| read_limited(&p, max).ok())
            })?
        } else {
            load_gltf(&bytes, "path", Some(&dir), opts)?
        }
    } else {
        return Ok(Loaded::default());
    };
    if out.triangles.len() > budget {
        let field = if mesh.path.is_some() {
            "path"
        } else if mesh.obj.is_some() {
            "obj"
        } else if mesh.gltf.is_some() {
            "gltf"
        } else {
            "glb_base64"
        };
        return Err(err(
            field,
            format!("the scene's meshes have more than {} triangles, the limit", opts.max_triangles),
        ));
    }
    if xf != Affine::IDENTITY {
        for t in &mut out.triangles {
            *t = t.map(|p| xf.point(p));
        }
    }
    Ok(out)
}

fn load_obj(
    bytes: &[u8],
    field: &'static str,
    mtl: impl Fn(&Path) -> Option<Vec<u8>>,
) -> Result<Loaded, ImportError> {
    let options = tobj::LoadOptions { triangulate: true, single_index: true, ..Default::default() };
    let (models, materials) = tobj::load_obj_buf(&mut &bytes[..], &options, |p| match mtl(p) {
        Some(text) => tobj::load_mtl_buf(&mut &text[..]),
        None => Err(tobj::LoadError::OpenFileFailed),
    })
    .map_err(|e| err(field, format!("OBJ: {e}")))?;
    // A missing or broken MTL leaves the faces without materials (grey), as viewers do.
    let materials = materials.unwrap_or_default();
    let mut out = Loaded {
        materials: materials.iter().map(|m| (m.name.clone(), map_mtl(m))).collect(),
        ..Loaded::default()
    };
    for model in &models {
        let m = &model.mesh;
        let pos = |i: u32| -> Option<[f32; 3]> {
            let i = i as usize * 3;
            Some([*m.positions.get(i)?, *m.positions.get(i + 1)?, *m.positions.get(i + 2)?])
        };
        let mat = m.material_id.filter(|&id| id < out.materials.len()).map(|id| id as u32);
        for tri in m.indices.chunks_exact(3) {
            let (Some(a), Some(b), Some(c)) = (pos(tri[0]), pos(tri[1]), pos(tri[2])) else {
                return Err(err(
                    field,
                    format!("OBJ: face of object {:?} refers to a missing vertex", model.name),
                ));
            };
            out.triangles.push([a, b, c]);
            out.tri_material.push(mat);
        }
    }
    check_finite(&out, field)?;
    Ok(out)
}

fn check_finite(l: &Loaded, field: &'static str) -> Result<(), ImportError> {
    if l.triangles.iter().flatten().flatten().all(|x| x.is_finite()) {
        Ok(())
    } else {
        Err(err(field, "the mesh has a non-finite vertex coordinate"))
    }
}

fn clamp01(c: [f32; 3]) -> [f32; 3] {
    c.map(|x| if x.is_finite() { x.clamp(0.0, 1.0) } else { 0.0 })
}

fn map_mtl(m: &tobj::Material) -> MaterialDesc {
    let kd = clamp01(m.diffuse.unwrap_or([0.8; 3]));
    let ks = clamp01(m.specular.unwrap_or([0.0; 3]));
    let ior = m.optical_density.filter(|n| n.is_finite() && *n > 0.0).unwrap_or(1.5);
    let emissive = m.emissive.unwrap_or([0.0; 3]).map(|x| if x.is_finite() { x.max(0.0) } else { 0.0 });
    if emissive.iter().any(|&x| x > 0.0) {
        return MaterialDesc::Emitter(Emitter { radiance: emissive });
    }
    let illum = m.illumination_model.unwrap_or(2);
    if m.dissolve.is_some_and(|d| d < 1.0) || matches!(illum, 4 | 6 | 7) {
        return MaterialDesc::Dielectric(Dielectric { ior, roughness: 0.0, distribution: Distribution::Ggx });
    }
    if ks.iter().any(|&x| x > 0.0) {
        let ns = m.shininess.filter(|s| s.is_finite() && *s >= 0.0).unwrap_or(0.0);
        let roughness = (2.0 / (ns + 2.0)).sqrt().clamp(0.0, 1.0);
        if roughness < ROUGH_AS_DIFFUSE {
            return MaterialDesc::Glossy(Glossy {
                albedo: kd,
                roughness,
                ior,
                distribution: Distribution::Ggx,
            });
        }
    }
    MaterialDesc::Diffuse(Diffuse { albedo: kd, roughness: 0.0 })
}

fn decode_data_uri(uri: &str) -> Option<Vec<u8>> {
    let rest = uri.strip_prefix("data:")?;
    let (_, data) = rest.split_once(";base64,")?;
    base64::engine::general_purpose::STANDARD.decode(data).ok()
}

fn load_gltf(
    bytes: &[u8],
    field: &'static str,
    dir: Option<&Path>,
    opts: &LoadOptions,
) -> Result<Loaded, ImportError> {
    let doc = gltf::Gltf::from_slice(bytes).map_err(|e| err(field, format!("glTF: {e}")))?;
    let mut buffers: Vec<Vec<u8>> = Vec::new();
    for b in doc.buffers() {
        let data = match b.source() {
            gltf::buffer::Source::Bin => {
                doc.blob.clone().ok_or_else(|| err(field, "glTF: buffer refers to a missing BIN chunk"))?
            }
            gltf::buffer::Source::Uri(uri) if uri.starts_with("data:") => decode_data_uri(uri)
                .ok_or_else(|| err(field, "glTF: a buffer's data: URI is not base64 data"))?,
            gltf::buffer::Source::Uri(uri) => {
                let Some(dir) = dir else {
                    return Err(err(
                        field,
                        format!("glTF: external buffer {uri:?}; inline glTF must embed its buffers"),
                    ));
                };
                let p = resolve(dir, Path::new(uri)).ok_or_else(|| {
                    err(field, format!("glTF: buffer {uri:?} must stay inside the scene's directory"))
                })?;
                read_limited(&p, opts.max_file_bytes).map_err(|m| err(field, format!("glTF: {m}")))?
            }
        };
        if data.len() < b.length() {
            return Err(err(field, format!("glTF: buffer {} is shorter than declared", b.index())));
        }
        buffers.push(data);
    }
    let mut out = Loaded::default();
    for m in doc.materials() {
        out.materials.push((format!("material{}", m.index().map_or(-1, |i| i as i64)), map_gltf(&m)));
    }
    let default_material = out.materials.len() as u32;
    let mut used_default = false;
    let scene = doc.default_scene().or_else(|| doc.scenes().next());
    let roots: Vec<gltf::Node> = match &scene {
        Some(s) => s.nodes().collect(),
        None => doc.nodes().collect(),
    };
    // Depth-first over the node tree with accumulated transforms; the depth cap guards against
    // cyclic documents (which the validator rejects anyway).
    let mut stack: Vec<(gltf::Node, Affine, u32)> =
        roots.into_iter().map(|n| (n, Affine::IDENTITY, 0)).collect();
    while let Some((node, parent, depth)) = stack.pop() {
        if depth > 64 {
            return Err(err(field, "glTF: node hierarchy deeper than 64"));
        }
        let xf = parent.then(&affine_of(node.transform().matrix()));
        if let Some(mesh) = node.mesh() {
            for prim in mesh.primitives() {
                if prim.mode() != gltf::mesh::Mode::Triangles {
                    continue;
                }
                let reader = prim.reader(|b| buffers.get(b.index()).map(|v| &v[..]));
                let Some(positions) = reader.read_positions() else { continue };
                let positions: Vec<[f32; 3]> = positions.map(|p| xf.point(p)).collect();
                let indices: Vec<u32> = match reader.read_indices() {
                    Some(ix) => ix.into_u32().collect(),
                    None => (0..positions.len() as u32).collect(),
                };
                let mat = match prim.material().index() {
                    Some(i) => i as u32,
                    None => {
                        used_default = true;
                        default_material
                    }
                };
                for tri in indices.chunks_exact(3) {
                    let get = |i: u32| positions.get(i as usize).copied();
                    let (Some(a), Some(b), Some(c)) = (get(tri[0]), get(tri[1]), get(tri[2])) else {
                        return Err(err(field, "glTF: an index is out of range"));
                    };
                    out.triangles.push([a, b, c]);
                    out.tri_material.push(Some(mat));
                }
                if out.triangles.len() > opts.max_triangles {
                    return Err(err(field, format!("more than {} triangles", opts.max_triangles)));
                }
            }
        }
        for child in node.children() {
            stack.push((child, xf, depth + 1));
        }
    }
    if used_default {
        // glTF's default material: white, fully rough, dielectric.
        out.materials
            .push(("default".into(), MaterialDesc::Diffuse(Diffuse { albedo: [1.0; 3], roughness: 0.0 })));
    }
    check_finite(&out, field)?;
    Ok(out)
}

/// A glTF column-major 4x4 matrix as an affine map.
fn affine_of(c: [[f32; 4]; 4]) -> Affine {
    let mut a = Affine::IDENTITY;
    for (i, row) in a.m.iter_mut().enumerate() {
        for (j, x) in row.iter_mut().enumerate() {
            *x = f64::from(c[j][i]);
        }
    }
    a.t = [f64::from(c[3][0]), f64::from(c[3][1]), f64::from(c[3][2])];
    a
}

fn map_gltf(m: &gltf::Material) -> MaterialDesc {
    let pbr = m.pbr_metallic_roughness();
    let base = pbr.base_color_factor();
    let albedo = clamp01([base[0], base[1], base[2]]);
    let alpha = pbr.roughness_factor().clamp(0.0, 1.0).powi(2);
    let strength = m.emissive_strength().unwrap_or(1.0);
    let emissive = m.emissive_factor().map(|x| (x * strength).max(0.0));
    if emissive.iter().any(|&x| x > 0.0 && x.is_finite()) {
        return MaterialDesc::Emitter(Emitter { radiance: emissive });
    }
    let ior = m.ior().filter(|n| n.is_finite() && *n > 0.0).unwrap_or(1.5);
    if m.transmission().is_some_and(|t| t.transmission_factor() > 0.5) {
        return MaterialDesc::Dielectric(Dielectric {
            ior,
            roughness: alpha,
            distribution: Distribution::Ggx,
        });
    }
    if pbr.metallic_factor() >= 0.5 {
        return MaterialDesc::Conductor(Conductor {
            albedo,
            roughness: alpha,
            distribution: Distribution::Ggx,
        });
    }
    if alpha >= ROUGH_AS_DIFFUSE {
        return MaterialDesc::Diffuse(Diffuse { albedo, roughness: 0.0 });
    }
    MaterialDesc::Glossy(Glossy { albedo, roughness: alpha, ior: 1.5, distribution: Distribution::Ggx })
}

/// Coat alpha from which a file's plastic-like material is imported as plain diffuse: such a
/// coat is a near-uniform haze in the file's (energy-preserving) model, while our single-
/// scattering rough coat would darken the base by half or more (glTF's default roughness 1
/// would otherwise render most models too dark).
const ROUGH_AS_DIFFUSE: f32 = 0.81;
