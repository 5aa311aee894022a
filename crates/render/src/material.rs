//! Materials: BSDF evaluation, sampling and densities.
//!
//! Everything is computed in a local frame whose +Z is the surface normal. Reflection-only
//! materials are two-sided: the frame is flipped to the side the ray arrived from. Dielectrics
//! keep the outward normal, so they know whether a ray enters or leaves.
//!
//! Values are `f·|cos θi|` ("projected" BSDF), so a sample's throughput weight is value / pdf
//! and a light sample's contribution is value · Li / pdf_light.

use crate::math::{sincos_quarter, Frame, Real, Vec3, V3};
use crate::microfacet::{Microfacet, MIN_ALPHA};
use std::f32::consts::FRAC_1_PI;
use tessera_types::scene::{Distribution, Material as MaterialDesc};

/// A material ready for shading.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Material {
    /// Lambertian (`b` = 0) or Oren–Nayar (Fujii's form) with coefficients `a` and `b`.
    Diffuse { albedo: V3, a: f32, b: f32 },
    /// Reflectance `albedo` at every angle; None is a perfect mirror.
    Conductor { albedo: V3, dist: Option<Microfacet> },
    /// Glass with inside/outside IOR `ior`; None is smooth.
    Dielectric { ior: f32, dist: Option<Microfacet> },
    /// A dielectric coat (IOR `ior`, None = smooth) over a diffuse base; `fdr_int` is the
    /// coat's hemispherical reflectance seen from inside, `trans` its transmittance by cos θ.
    Glossy { albedo: V3, dist: Option<Microfacet>, ior: f32, fdr_int: f32, trans: Transmittance },
    /// Opaque light source that reflects nothing.
    Emitter { radiance: V3 },
}

fn microfacet(roughness: f32, distribution: Distribution) -> Option<Microfacet> {
    match distribution {
        Distribution::Sharp => None,
        _ if roughness < MIN_ALPHA => None,
        Distribution::Ggx => Some(Microfacet { alpha: roughness, beckmann: false }),
        Distribution::Beckmann => Some(Microfacet { alpha: roughness, beckmann: true }),
    }
}

/// Hemispherical average of the Fresnel reflectance, 2∫F(μ)μdμ, for relative IOR `eta`
/// (transmitted over incident). Midpoint rule on 1024 steps: smooth integrand, error < 1e-5.
fn diffuse_fresnel(eta: f32) -> f32 {
    const N: usize = 1024;
    let mut sum = 0.0f64;
    for k in 0..N {
        let mu = (k as f32 + 0.5) / N as f32;
        sum += f64::from(fresnel(mu, eta).0 * mu);
    }
    (2.0 * sum / N as f64) as f32
}

impl Material {
    /// Builds the shading form of a scene material.
    pub(crate) fn new(desc: &MaterialDesc) -> Material {
        match desc {
            MaterialDesc::Diffuse(d) => {
                // Fujii's energy-conserving Oren–Nayar form (as in OpenPBR's base diffuse
                // roughness): A = 1/(1 + (1/2 - 2/(3π))σ), B = σ·A.
                let sigma = d.roughness;
                let a = 1.0 / (1.0 + (0.5 - 2.0 / (3.0 * std::f32::consts::PI)) * sigma);
                Material::Diffuse {
                    albedo: V3::from(d.albedo),
                    a: if sigma > 0.0 { a } else { 1.0 },
                    b: sigma * a,
                }
            }
            MaterialDesc::Conductor(c) => Material::Conductor {
                albedo: V3::from(c.albedo),
                dist: microfacet(c.roughness, c.distribution),
            },
            MaterialDesc::Dielectric(d) => {
                Material::Dielectric { ior: d.ior, dist: microfacet(d.roughness, d.distribution) }
            }
            MaterialDesc::Glossy(g) => {
                let dist = microfacet(g.roughness, g.distribution);
                let (fdr_int, trans) = match dist {
                    None => (diffuse_fresnel(1.0 / g.ior), Transmittance::Smooth),
                    Some(m) => rough_coat(g.ior, &m),
                };
                Material::Glossy { albedo: V3::from(g.albedo), dist, ior: g.ior, fdr_int, trans }
            }
            MaterialDesc::Emitter(e) => Material::Emitter { radiance: V3::from(e.radiance) },
        }
    }

    /// True when every lobe is a delta (mirror, smooth glass) or there is none (emitter): light
    /// sampling cannot help and emitters hit after it keep full weight.
    #[inline]
    pub(crate) fn is_delta(&self) -> bool {
        match self {
            Material::Conductor { dist, .. } | Material::Dielectric { dist, .. } => dist.is_none(),
            Material::Emitter { .. } => true,
            Material::Diffuse { .. } | Material::Glossy { .. } => false,
        }
    }

    /// Whether [`Material::sample`] reads `u_lobe` (it picks between lobes).
    #[inline]
    pub(crate) fn has_lobe_choice(&self) -> bool {
        matches!(self, Material::Dielectric { .. } | Material::Glossy { .. })
    }

    /// Whether [`Material::sample`] reads (`u`, `v`) (some lobe is not a delta).
    #[inline]
    pub(crate) fn has_direction_choice(&self) -> bool {
        match self {
            Material::Conductor { dist, .. } | Material::Dielectric { dist, .. } => dist.is_some(),
            Material::Diffuse { .. } | Material::Glossy { .. } => true,
            Material::Emitter { .. } => false,
        }
    }

    /// The shading frame for a ray travelling along `d` hitting a surface of normal `n`.
    #[inline(always)]
    fn frame(&self, d: V3, n: V3) -> Frame {
        match self {
            Material::Dielectric { .. } => Frame::new(n),
            _ => Frame::new(if d.dot(n) <= 0.0 { n } else { -n }),
        }
    }

    /// Samples a scattered direction for a ray travelling along `d` that hit a surface with unit
    /// geometric normal `n` (outward for closed shapes). `u_lobe` picks a lobe, (`u`, `v`) a
    /// direction. None means the path ends (absorbed or sampled below the surface).
    #[inline]
    pub(crate) fn sample(&self, d: V3, n: V3, u_lobe: f32, u: f32, v: f32) -> Option<Scatter> {
        let frame = self.frame(d, n);
        let s = self.sample_local(frame.to_local(-d), u_lobe, u, v)?;
        Some(Scatter { wi: frame.to_world(s.wi), ..s })
    }

    /// BSDF value times |cos θi| and the density [`Material::sample`] would give `wi`, for a
    /// ray along `d` at normal `n`. Delta lobes contribute nothing here.
    #[inline]
    pub(crate) fn eval(&self, d: V3, n: V3, wi: V3) -> (V3, f32) {
        let frame = self.frame(d, n);
        self.eval_local(frame.to_local(-d), frame.to_local(wi))
    }

    /// [`Material::sample`] in the local frame; `wo` points away from the surface.
    pub(crate) fn sample_local(&self, wo: V3, u_lobe: f32, u: f32, v: f32) -> Option<Scatter> {
        match *self {
            Material::Diffuse { albedo, b, .. } => {
                if wo.z <= 0.0 {
                    return None;
                }
                let wi = cosine_hemisphere(u, v);
                if b == 0.0 {
                    // Lambertian: f·cos/pdf is exactly the albedo; skip the division.
                    return Some(Scatter {
                        wi,
                        weight: albedo,
                        pdf: wi.z * FRAC_1_PI,
                        delta: false,
                        eta: 1.0,
                    });
                }
                self.sample_by_eval(wo, wi)
            }
            Material::Conductor { albedo, dist } => {
                if wo.z <= 0.0 {
                    return None;
                }
                match dist {
                    None => Some(Scatter {
                        wi: V3::new(-wo.x, -wo.y, wo.z),
                        weight: albedo,
                        pdf: 1.0,
                        delta: true,
                        eta: 1.0,
                    }),
                    Some(m) => {
                        let h = m.sample(wo, u, v);
                        let wi = reflect(wo, h);
                        if wi.z <= 0.0 {
                            return None;
                        }
                        self.sample_by_eval(wo, wi)
                    }
                }
            }
            Material::Dielectric { ior, dist } => sample_dielectric(ior, dist, wo, u_lobe, u, v),
            Material::Glossy { albedo, dist, ior, .. } => {
                if wo.z <= 0.0 {
                    return None;
                }
                let f_o = fresnel(wo.z, ior).0;
                let p_spec = spec_probability(f_o, albedo);
                if u_lobe < p_spec {
                    match dist {
                        None => Some(Scatter {
                            wi: V3::new(-wo.x, -wo.y, wo.z),
                            weight: V3::splat(f_o / p_spec),
                            pdf: p_spec,
                            delta: true,
                            eta: 1.0,
                        }),
                        Some(m) => {
                            let wi = reflect(wo, m.sample(wo, u, v));
                            if wi.z <= 0.0 {
                                return None;
                            }
                            self.sample_by_eval(wo, wi)
                        }
                    }
                } else {
                    self.sample_by_eval(wo, cosine_hemisphere(u, v))
                }
            }
            Material::Emitter { .. } => None,
        }
    }

    /// A sample whose weight is value / pdf from [`Material::eval_local`] (every non-delta case).
    #[inline]
    fn sample_by_eval(&self, wo: V3, wi: V3) -> Option<Scatter> {
        let (f, pdf) = self.eval_local(wo, wi);
        if pdf <= 0.0 || !pdf.is_finite() {
            return None;
        }
        Some(Scatter { wi, weight: f / pdf, pdf, delta: false, eta: 1.0 })
    }

    /// [`Material::eval`] in the local frame.
    pub(crate) fn eval_local(&self, wo: V3, wi: V3) -> (V3, f32) {
        match *self {
            Material::Diffuse { albedo, a, b } => {
                if wo.z <= 0.0 || wi.z <= 0.0 {
                    return (V3::ZERO, 0.0);
                }
                let mut k = a;
                if b > 0.0 {
                    k += b * oren_nayar_term(wo, wi);
                }
                (albedo * (k * FRAC_1_PI * wi.z), wi.z * FRAC_1_PI)
            }
            Material::Conductor { albedo, dist } => {
                let Some(m) = dist else { return (V3::ZERO, 0.0) };
                if wo.z <= 0.0 || wi.z <= 0.0 {
                    return (V3::ZERO, 0.0);
                }
                let h = (wo + wi).normalize();
                let (f, pdf) = microfacet_reflection(&m, wo, wi, h);
                (albedo * f, pdf)
            }
            Material::Dielectric { ior, dist } => match dist {
                None => (V3::ZERO, 0.0),
                Some(m) => eval_rough_dielectric(ior, &m, wo, wi),
            },
            Material::Glossy { albedo, dist, ior, fdr_int, trans } => {
                if wo.z <= 0.0 || wi.z <= 0.0 {
                    return (V3::ZERO, 0.0);
                }
                let f_o = fresnel(wo.z, ior).0;
                let p_spec = spec_probability(f_o, albedo);
                // Mitsuba's plastic / roughplastic (nonlinear): light crosses the coat (its
                // transmittance t), scatters diffusely any number of times between base and
                // coat (the geometric series in 1/(1 - albedo·Fdr)) and crosses back; 1/eta²
                // is the radiance compression inside the coat.
                let k = trans.at(wo.z, ior) * trans.at(wi.z, ior) / (ior * ior) * FRAC_1_PI * wi.z;
                let diffuse = V3::new(
                    albedo.x / (1.0 - albedo.x * fdr_int),
                    albedo.y / (1.0 - albedo.y * fdr_int),
                    albedo.z / (1.0 - albedo.z * fdr_int),
                ) * k;
                let mut value = diffuse;
                let mut pdf = (1.0 - p_spec) * wi.z * FRAC_1_PI;
                if let Some(m) = dist {
                    let h = (wo + wi).normalize();
                    let (f, spdf) = microfacet_reflection(&m, wo, wi, h);
                    value += V3::splat(f * fresnel(wo.dot(h).max(0.0), ior).0);
                    pdf += p_spec * spdf;
                }
                (value, pdf)
            }
            Material::Emitter { .. } => (V3::ZERO, 0.0),
        }
    }
}

/// Energy transmittance of a glossy coat by cos θ: 1 - F for a smooth coat, a table for a
/// rough one (as Mitsuba's roughplastic), linear in cos θ between 16 entries.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Transmittance {
    Smooth,
    Table([f32; T_RES]),
}

const T_RES: usize = 16;

impl Transmittance {
    #[inline]
    fn at(&self, cos: f32, ior: f32) -> f32 {
        match self {
            Transmittance::Smooth => 1.0 - fresnel(cos, ior).0,
            Transmittance::Table(t) => {
                let x = cos.clamp(0.0, 1.0) * (T_RES - 1) as f32;
                let i = (x as usize).min(T_RES - 2);
                let f = x - i as f32;
                t[i] * (1.0 - f) + t[i + 1] * f
            }
        }
    }
}

/// A rough coat's internal hemispherical reflectance and transmittance table, integrated from
/// the rough dielectric's own BSDF with its microfacet sampler (16x16 stratified normals per
/// angle; each normal's reflected and refracted energy are both counted, so there is no lobe
/// noise). About 8k BSDF evaluations per material.
fn rough_coat(ior: f32, m: &Microfacet) -> (f32, Transmittance) {
    const N: usize = 16;
    // Energy scattered into the hemisphere on the other side (transmit) or the same side.
    let energy = |wo: V3, transmit: bool| -> f32 {
        let mut sum = 0.0f64;
        for a in 0..N {
            for b in 0..N {
                let (u, v) = ((a as f32 + 0.5) / N as f32, (b as f32 + 0.5) / N as f32);
                let h = m.sample(wo, u, v);
                let o_h = wo.dot(h);
                if o_h * wo.z <= 0.0 {
                    continue;
                }
                let f = fresnel_signed(o_h, ior);
                let (wi, share, eta) = if transmit {
                    match refract(wo, h, ior) {
                        Some((wi, eta)) => (wi.normalize(), 1.0 - f, eta),
                        None => continue,
                    }
                } else {
                    (reflect(wo, h), f, 1.0)
                };
                if (wi.z * wo.z < 0.0) != transmit || wi.z == 0.0 {
                    continue;
                }
                let (value, pdf) = eval_rough_dielectric(ior, m, wo, wi);
                if pdf > 0.0 {
                    // value / pdf is the weight of choosing this lobe with probability `share`;
                    // times `share` it is this normal's contribution. eta² undoes the radiance
                    // compression, giving energy.
                    sum += f64::from(value.y / pdf * share * eta * eta);
                }
            }
        }
        (sum / (N * N) as f64) as f32
    };
    let dir = |cos: f32, up: bool| {
        let c = cos.clamp(0.02, 1.0);
        V3::new((1.0 - c * c).sqrt(), 0.0, if up { c } else { -c })
    };
    let mut table = [0.0f32; T_RES];
    for (k, t) in table.iter_mut().enumerate() {
        *t = energy(dir(k as f32 / (T_RES - 1) as f32, true), true).min(1.0);
    }
    // Internal reflectance: 2∫R(μ)μdμ from inside, midpoint rule over μ.
    let mut r = 0.0f32;
    for k in 0..T_RES {
        let mu = (k as f32 + 0.5) / T_RES as f32;
        r += energy(dir(mu, false), false) * mu;
    }
    (2.0 * r / T_RES as f32, Transmittance::Table(table))
}

/// Probability of sampling a glossy coat's specular lobe: its share of the reflected energy,
/// estimated from the Fresnel reflectance and the base's mean albedo.
#[inline]
fn spec_probability(f_o: f32, albedo: V3) -> f32 {
    let diffuse = (1.0 - f_o) * (albedo.x + albedo.y + albedo.z) / 3.0;
    if f_o + diffuse > 0.0 {
        (f_o / (f_o + diffuse)).clamp(0.05, 1.0)
    } else {
        1.0
    }
}

/// Fujii's Oren–Nayar angular term s/t: s = wi·wo - cos θi cos θo, t = max(cos θi, cos θo)
/// where s > 0 (1 otherwise). Symmetric in its arguments, so the BSDF is reciprocal.
#[inline]
fn oren_nayar_term(wo: V3, wi: V3) -> f32 {
    let s = wi.dot(wo) - wi.z * wo.z;
    if s > 0.0 {
        s / wi.z.max(wo.z)
    } else {
        s
    }
}

/// Microfacet reflection without Fresnel: D·G/(4 cos_o) (times cos_i cancelled) and the density
/// of sampling `wi` through half vector `h`.
#[inline]
fn microfacet_reflection(m: &Microfacet, wo: V3, wi: V3, h: V3) -> (f32, f32) {
    let o_h = wo.dot(h);
    if o_h <= 0.0 || h.z <= 0.0 {
        return (0.0, 0.0);
    }
    let f = m.d(h) * m.g(wo, wi) / (4.0 * wo.z);
    let pdf = m.pdf(wo, h) / (4.0 * o_h);
    (f, pdf)
}

/// Result of sampling a scattering direction.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scatter {
    /// New direction (unit).
    pub wi: V3,
    /// Throughput multiplier f·|cos|/pdf.
    pub weight: V3,
    /// Solid-angle density of `wi` (for delta lobes: the lobe's selection probability).
    pub pdf: f32,
    /// Whether `wi` came from a delta lobe (no light sampling could have produced it).
    pub delta: bool,
    /// Relative IOR crossed (1 for reflection), for Russian roulette's radiance scaling.
    pub eta: f32,
}

#[inline(always)]
fn reflect(wo: V3, h: V3) -> V3 {
    h * (2.0 * wo.dot(h)) - wo
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

/// Fresnel reflectance for a direction on either side of an interface with IOR `ior` inside
/// (the side -Z points to); `cos` is the cosine with the (micro)normal.
#[inline(always)]
fn fresnel_signed(cos: f32, ior: f32) -> f32 {
    if cos >= 0.0 {
        fresnel(cos, ior).0
    } else {
        fresnel(-cos, 1.0 / ior).0
    }
}

/// Refracts `wo` through a surface with normal `h` (any side); returns the direction and the
/// relative IOR crossed (transmitted over incident), or None on total internal reflection.
#[inline(always)]
fn refract(wo: V3, h: V3, ior: f32) -> Option<(V3, f32)> {
    let mut cos_i = wo.dot(h);
    let (mut eta, mut n) = (ior, h);
    if cos_i < 0.0 {
        eta = 1.0 / ior;
        cos_i = -cos_i;
        n = -h;
    }
    let sin2_t = (1.0 - cos_i * cos_i).max(0.0) / (eta * eta);
    if sin2_t >= 1.0 {
        return None;
    }
    let cos_t = (1.0 - sin2_t).sqrt();
    Some((-wo / eta + n * (cos_i / eta - cos_t), eta))
}

fn sample_dielectric(
    ior: f32,
    dist: Option<Microfacet>,
    wo: V3,
    u_lobe: f32,
    u: f32,
    v: f32,
) -> Option<Scatter> {
    let Some(m) = dist else {
        // Smooth: choose reflection with probability F, so both weights are exact.
        let f = fresnel_signed(wo.z, ior);
        if u_lobe < f {
            return Some(Scatter {
                wi: V3::new(-wo.x, -wo.y, wo.z),
                weight: V3::ONE,
                pdf: f,
                delta: true,
                eta: 1.0,
            });
        }
        let (wi, eta) = refract(wo, V3::new(0.0, 0.0, 1.0), ior)?;
        // Radiance is compressed by eta² crossing into the denser side (solid angle).
        return Some(Scatter {
            wi: wi.normalize(),
            weight: V3::splat(1.0 / (eta * eta)),
            pdf: 1.0 - f,
            delta: true,
            eta,
        });
    };
    if wo.z == 0.0 {
        return None;
    }
    let h = m.sample(wo, u, v);
    // Visible-normal sampling never returns a normal facing away from wo except through f32
    // rounding at grazing angles; such a normal cannot scatter wo (and refracting through it
    // would treat the ray as coming from the other side).
    if wo.dot(h) * wo.z <= 0.0 {
        return None;
    }
    let f = fresnel_signed(wo.dot(h), ior);
    let (wi, eta) = if u_lobe < f {
        let wi = reflect(wo, h);
        if wi.z * wo.z <= 0.0 {
            return None;
        }
        (wi, 1.0)
    } else {
        let (wi, eta) = refract(wo, h, ior)?;
        let wi = wi.normalize();
        if wi.z * wo.z >= 0.0 {
            return None;
        }
        (wi, eta)
    };
    let (value, pdf) = eval_rough_dielectric(ior, &m, wo, wi);
    if pdf <= 0.0 || !pdf.is_finite() {
        return None;
    }
    Some(Scatter { wi, weight: value / pdf, pdf, delta: false, eta })
}

/// Walter et al. 2007 rough dielectric, in pbrt-v4's form (radiance transport: transmission is
/// divided by eta²). The normal +Z points outside; `ior` is inside over outside.
fn eval_rough_dielectric(ior: f32, m: &Microfacet, wo: V3, wi: V3) -> (V3, f32) {
    let (cos_o, cos_i) = (wo.z, wi.z);
    if cos_o == 0.0 || cos_i == 0.0 {
        return (V3::ZERO, 0.0);
    }
    let reflect = cos_o * cos_i > 0.0;
    let etap = if reflect {
        1.0
    } else if cos_o > 0.0 {
        ior
    } else {
        1.0 / ior
    };
    let h = wi * etap + wo;
    let len2 = h.dot(h);
    if len2 == 0.0 {
        return (V3::ZERO, 0.0);
    }
    let mut h = h * (1.0 / len2.sqrt());
    if h.z < 0.0 {
        h = -h;
    }
    let (o_h, i_h) = (wo.dot(h), wi.dot(h));
    // Microfacets seen from behind cannot scatter.
    if i_h * cos_i < 0.0 || o_h * cos_o < 0.0 {
        return (V3::ZERO, 0.0);
    }
    let f = fresnel_signed(o_h, ior);
    let d = m.d(h);
    let g = m.g(wo, wi);
    let pdf_h = m.pdf(wo, h);
    if reflect {
        let value = d * g * f / (4.0 * cos_o.abs());
        let pdf = pdf_h / (4.0 * o_h.abs()) * f;
        (V3::splat(value), pdf)
    } else {
        let denom = i_h + o_h / etap;
        let denom2 = denom * denom;
        let value = d * (1.0 - f) * g * (i_h * o_h / (cos_o * denom2)).abs() / (etap * etap);
        let pdf = pdf_h * i_h.abs() / denom2 * (1.0 - f);
        (V3::splat(value), pdf)
    }
}

/// Cosine-weighted hemisphere direction around +Z (Shirley–Chiu concentric map), for one path
/// or for a lane of paths. Branch-free: a path's wedge is a coin flip a branch predictor cannot
/// learn. Each wedge's angle is π/4·t for a t in [-1, 1] (from the x axis, or from the y axis
/// towards x), so one short polynomial on [-π/4, π/4] serves both, with sine and cosine swapped
/// for the second.
#[inline(always)]
pub(crate) fn cosine_hemisphere<T: Real>(u: T, v: T) -> Vec3<T> {
    let (zero, one, two) = (T::splat(0.0), T::splat(1.0), T::splat(2.0));
    let (a, b) = (two * u - one, two * v - one);
    let wedge_a = a.abs().gt(b.abs());
    let r = T::select(wedge_a, a, b);
    let t = T::select(wedge_a, b, a) / r;
    // The centre maps to the pole; 0/0 there is replaced.
    let centre = a.eq_(zero) & b.eq_(zero);
    let (r, t) = (T::select(centre, zero, r), T::select(centre, zero, t));
    let (s, c) = sincos_quarter(T::splat(std::f32::consts::FRAC_PI_4) * t);
    let (x, y) = (r * T::select(wedge_a, c, s), r * T::select(wedge_a, s, c));
    Vec3::new(x, y, (one - x * x - y * y).fmax(zero).sqrt())
}

/// A material's BSDF in its local frame (+Z = normal), for tests and tools: the same code the
/// integrator runs.
#[derive(Debug, Clone, Copy)]
pub struct Bsdf(Material);

/// One sampled direction of a [`Bsdf`].
#[derive(Debug, Clone, Copy)]
pub struct BsdfSample {
    /// Sampled direction (local frame).
    pub wi: V3,
    /// Throughput weight f·|cos θi| / pdf per channel.
    pub weight: V3,
    /// Solid-angle density (for a delta lobe, the probability of choosing it).
    pub pdf: f32,
    /// True when the direction came from a delta lobe (mirror, smooth glass).
    pub delta: bool,
}

impl Bsdf {
    /// The BSDF of a scene material.
    pub fn new(desc: &MaterialDesc) -> Bsdf {
        Bsdf(Material::new(desc))
    }

    /// Samples a direction for outgoing direction `wo` with random numbers in [0, 1).
    pub fn sample(&self, wo: V3, u_lobe: f32, u: f32, v: f32) -> Option<BsdfSample> {
        let s = self.0.sample_local(wo, u_lobe, u, v)?;
        Some(BsdfSample { wi: s.wi, weight: s.weight, pdf: s.pdf, delta: s.delta })
    }

    /// f(wo, wi)·|cos θi| per channel and the density of sampling `wi` (non-delta lobes only).
    pub fn eval(&self, wo: V3, wi: V3) -> (V3, f32) {
        self.0.eval_local(wo, wi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffuse_fresnel_matches_known_values() {
        // Fdr for eta = 1.5 seen from outside is about 0.092 (d'Eon & Irving's fit gives 0.0918).
        let f = diffuse_fresnel(1.5);
        assert!((f - 0.092).abs() < 0.002, "{f}");
        // Reciprocity of the two sides: 1 - Fdr_int = (1 - Fdr_ext) / eta².
        let (ext, int) = (diffuse_fresnel(1.5), diffuse_fresnel(1.0 / 1.5));
        assert!(((1.0 - int) - (1.0 - ext) / 2.25).abs() < 1e-3, "{ext} {int}");
    }

    /// The integrator leaves `u_lobe` or (`u`, `v`) unread when a material says it does not
    /// use them, so such a material's samples must not depend on them; and one that says it
    /// does must depend on them somewhere (else its flag costs draws for nothing).
    #[test]
    fn choice_flags_match_what_sampling_reads() {
        let descs = [
            r#"{"type": "diffuse", "albedo": [0.5, 0.5, 0.5]}"#,
            r#"{"type": "diffuse", "albedo": [0.5, 0.5, 0.5], "roughness": 0.5}"#,
            r#"{"type": "conductor", "albedo": [0.9, 0.8, 0.7], "roughness": 0}"#,
            r#"{"type": "conductor", "albedo": [0.9, 0.8, 0.7], "roughness": 0.3}"#,
            r#"{"type": "conductor", "albedo": [0.9, 0.8, 0.7], "roughness": 0.3, "distribution": "beckmann"}"#,
            r#"{"type": "dielectric", "ior": 1.5, "roughness": 0}"#,
            r#"{"type": "dielectric", "ior": 1.5, "roughness": 0.2}"#,
            r#"{"type": "glossy", "albedo": [0.5, 0.5, 0.5], "ior": 1.5, "roughness": 0}"#,
            r#"{"type": "glossy", "albedo": [0.5, 0.5, 0.5], "ior": 1.5, "roughness": 0.2}"#,
            r#"{"type": "emitter", "radiance": [1, 1, 1]}"#,
        ];
        let same = |a: Option<Scatter>, b: Option<Scatter>| match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => a.wi == b.wi && a.weight == b.weight && a.pdf == b.pdf && a.eta == b.eta,
            _ => false,
        };
        for desc in descs {
            let m = Material::new(&serde_json::from_str(desc).expect("material parses"));
            let (mut lobe_matters, mut dir_matters) = (false, false);
            for k in 0..400u32 {
                let f = |i: u32| ((k.wrapping_mul(2_654_435_761) >> i) & 0xffff) as f32 / 65536.0;
                let theta = f(1) * 1.5;
                // Both sides, so glass is seen from inside too.
                let wo = V3::new(theta.sin(), 0.0, if k % 2 == 0 { theta.cos() } else { -theta.cos() });
                let (ul, u, v) = (f(3), f(7), f(11));
                let base = m.sample_local(wo, ul, u, v);
                let other_lobe = m.sample_local(wo, 1.0 - ul, u, v);
                let other_dir = m.sample_local(wo, ul, 1.0 - u, (v + 0.37) % 1.0);
                if m.has_lobe_choice() {
                    lobe_matters |= !same(base, other_lobe);
                } else {
                    assert!(same(base, other_lobe), "{desc}: u_lobe read at {wo:?}");
                }
                if m.has_direction_choice() {
                    dir_matters |= !same(base, other_dir);
                } else {
                    assert!(same(base, other_dir), "{desc}: (u, v) read at {wo:?}");
                }
            }
            assert_eq!(lobe_matters, m.has_lobe_choice(), "{desc}: lobe flag");
            assert_eq!(dir_matters, m.has_direction_choice(), "{desc}: direction flag");
        }
    }
}
