//! Materials and their sampling. Every scattering event is sampled (no BSDF evaluation is
//! needed while there is no light sampling), and returns the throughput weight f·cos/pdf.

use crate::math::{Frame, V3};
use tessera_types::scene::{Distribution, Material as MaterialDesc};

/// A material ready for shading.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Material {
    Diffuse { albedo: V3 },
    Conductor { albedo: V3, alpha: f32 },
    Dielectric { ior: f32 },
    Glossy { albedo: V3, alpha: f32, ior: f32 },
    Emitter { radiance: V3 },
}

impl Material {
    pub(crate) fn new(desc: &MaterialDesc) -> Material {
        match desc {
            MaterialDesc::Diffuse(d) => Material::Diffuse { albedo: V3::from(d.albedo) },
            MaterialDesc::Conductor(c) => {
                Material::Conductor { albedo: V3::from(c.albedo), alpha: c.roughness }
            }
            // Rough glass is rendered smooth until rough materials land (documented on the DTO).
            MaterialDesc::Dielectric(d) => Material::Dielectric { ior: d.ior },
            MaterialDesc::Glossy(g) => Material::Glossy {
                albedo: V3::from(g.albedo),
                // Beckmann is approximated by GGX of the same alpha.
                alpha: if g.distribution == Distribution::Sharp { 0.0 } else { g.roughness },
                ior: g.ior,
            },
            MaterialDesc::Emitter(e) => Material::Emitter { radiance: V3::from(e.radiance) },
        }
    }
}

/// Result of sampling a scattering direction.
pub(crate) struct Scatter {
    /// New direction (unit).
    pub wi: V3,
    /// Throughput multiplier f·cos/pdf.
    pub weight: V3,
    /// Relative IOR crossed (1 for reflection), for Russian roulette's radiance scaling.
    pub eta: f32,
}

#[inline(always)]
fn reflect(d: V3, n: V3) -> V3 {
    d - n * (2.0 * d.dot(n))
}

/// Unpolarised Fresnel reflectance for a dielectric; `cos_i` > 0, `eta` = n_transmitted /
/// n_incident. Returns (F, cos_t), with F = 1 on total internal reflection.
#[inline(always)]
pub(crate) fn fresnel(cos_i: f32, eta: f32) -> (f32, f32) {
    let sin2_t = (1.0 - cos_i * cos_i).max(0.0) / (eta * eta);
    if sin2_t >= 1.0 {
        return (1.0, 0.0);
    }
    let cos_t = (1.0 - sin2_t).sqrt();
    let rs = (cos_i - eta * cos_t) / (cos_i + eta * cos_t);
    let rp = (eta * cos_i - cos_t) / (eta * cos_i + cos_t);
    (0.5 * (rs * rs + rp * rp), cos_t)
}

/// Cosine-weighted hemisphere direction around +Z (Shirley–Chiu concentric map).
#[inline(always)]
fn cosine_hemisphere(u: f32, v: f32) -> V3 {
    let (a, b) = (2.0 * u - 1.0, 2.0 * v - 1.0);
    let (r, phi) = if a == 0.0 && b == 0.0 {
        (0.0, 0.0)
    } else if a.abs() > b.abs() {
        (a, std::f32::consts::FRAC_PI_4 * (b / a))
    } else {
        (b, std::f32::consts::FRAC_PI_2 - std::f32::consts::FRAC_PI_4 * (a / b))
    };
    let (s, c) = phi.sin_cos();
    let (x, y) = (r * c, r * s);
    V3::new(x, y, (1.0 - x * x - y * y).max(0.0).sqrt())
}

/// GGX normal with density D(m)·cos(m) around +Z.
#[inline(always)]
fn ggx_normal(alpha: f32, u: f32, v: f32) -> V3 {
    let tan2 = alpha * alpha * u / (1.0 - u).max(1e-12);
    let cos = 1.0 / (1.0 + tan2).sqrt();
    let sin = (1.0 - cos * cos).max(0.0).sqrt();
    let (s, c) = (2.0 * std::f32::consts::PI * v).sin_cos();
    V3::new(sin * c, sin * s, cos)
}

/// Smith masking for GGX, for a direction with local cosine `cos`.
#[inline(always)]
fn smith_g1(alpha: f32, cos: f32) -> f32 {
    let cos2 = cos * cos;
    let tan2 = (1.0 - cos2).max(0.0) / cos2.max(1e-12);
    2.0 / (1.0 + (1.0 + alpha * alpha * tan2).sqrt())
}

/// Samples GGX reflection around the frame's normal; weight = G·(wo·m)/((wo·n)(m·n)), the
/// standard estimator for normals drawn with density D·cos (without the Fresnel factor).
#[inline(always)]
fn ggx_reflect(frame: &Frame, wo_local: V3, alpha: f32, u: f32, v: f32) -> Option<(V3, f32)> {
    let m = ggx_normal(alpha, u, v);
    let o_m = wo_local.dot(m);
    if o_m <= 0.0 {
        return None;
    }
    let wi = m * (2.0 * o_m) - wo_local;
    if wi.z <= 0.0 {
        return None;
    }
    let g = smith_g1(alpha, wo_local.z) * smith_g1(alpha, wi.z);
    Some((frame.to_world(wi), g * o_m / (wo_local.z * m.z)))
}

impl Material {
    /// Samples a scattered direction for a ray travelling along `d` that hit a surface with unit
    /// geometric normal `n` (outward for closed shapes). `u_lobe` picks a lobe, (`u`, `v`) a
    /// direction. None means the path ends (absorbed or sampled below the surface).
    #[inline]
    pub(crate) fn sample(&self, d: V3, n: V3, u_lobe: f32, u: f32, v: f32) -> Option<Scatter> {
        let cos_o = -d.dot(n);
        // Shade on the side the ray arrived from: surfaces are two-sided.
        let nf = if cos_o >= 0.0 { n } else { -n };
        match *self {
            Material::Diffuse { albedo } => {
                let wi = Frame::new(nf).to_world(cosine_hemisphere(u, v));
                Some(Scatter { wi, weight: albedo, eta: 1.0 })
            }
            Material::Conductor { albedo, alpha } => {
                if alpha == 0.0 {
                    return Some(Scatter { wi: reflect(d, nf), weight: albedo, eta: 1.0 });
                }
                let frame = Frame::new(nf);
                let (wi, w) = ggx_reflect(&frame, frame.to_local(-d), alpha, u, v)?;
                Some(Scatter { wi, weight: albedo * w, eta: 1.0 })
            }
            Material::Dielectric { ior } => {
                let entering = cos_o >= 0.0;
                let eta = if entering { ior } else { 1.0 / ior };
                let cos_i = cos_o.abs();
                let (f, cos_t) = fresnel(cos_i, eta);
                if u_lobe < f {
                    Some(Scatter { wi: reflect(d, nf), weight: V3::ONE, eta: 1.0 })
                } else {
                    let wi = (d / eta + nf * (cos_i / eta - cos_t)).normalize();
                    // Radiance is compressed by eta^2 crossing into the denser side (solid angle).
                    Some(Scatter { wi, weight: V3::splat(1.0 / (eta * eta)), eta })
                }
            }
            Material::Glossy { albedo, alpha, ior } => {
                let (f, _) = fresnel(cos_o.abs(), ior);
                let frame = Frame::new(nf);
                if u_lobe < f {
                    if alpha == 0.0 {
                        return Some(Scatter { wi: reflect(d, nf), weight: V3::ONE, eta: 1.0 });
                    }
                    let (wi, w) = ggx_reflect(&frame, frame.to_local(-d), alpha, u, v)?;
                    Some(Scatter { wi, weight: V3::splat(w), eta: 1.0 })
                } else {
                    let wi = frame.to_world(cosine_hemisphere(u, v));
                    Some(Scatter { wi, weight: albedo, eta: 1.0 })
                }
            }
            Material::Emitter { .. } => None,
        }
    }
}
