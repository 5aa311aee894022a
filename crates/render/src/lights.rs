//! Next-event estimation: picking an emitter and a direction towards it, and the density of
//! that choice for multiple importance sampling against BSDF sampling.
//!
//! Spheres are sampled by the cone of directions they subtend (uniform in solid angle), quads and
//! triangles by area. Box emitters are not sampled: they are found by BSDF sampling alone and so
//! keep MIS weight 1, which stays unbiased.

use crate::geometry::{Kind, Prim};
use crate::material::Material;
use crate::math::{Frame, Ray, V3};

/// No light for this primitive.
pub(crate) const NONE: u32 = u32::MAX;

#[derive(Debug, Clone)]
pub(crate) struct Lights {
    /// Primitive index of each light.
    prims: Vec<u32>,
    /// Cumulative selection probabilities (last = 1).
    cdf: Vec<f32>,
    /// Selection probability of each light.
    pmf: Vec<f32>,
    /// Light index of each primitive, or NONE.
    of_prim: Vec<u32>,
}

/// A direction towards a light and what arrives along it if nothing is in the way.
pub(crate) struct LightSample {
    pub wi: V3,
    pub prim: u32,
    pub radiance: V3,
    /// Solid-angle density including the light's selection probability.
    pub pdf: f32,
}

fn area(p: &Prim) -> f32 {
    match p.kind {
        Kind::Sphere => 4.0 * std::f32::consts::PI * p.b.x * p.b.x,
        Kind::Quad => 4.0 * p.b.x * p.b.y,
        Kind::Triangle => 0.5 * p.b.cross(p.c).length(),
        Kind::Box => 0.0,
    }
}

impl Lights {
    /// Collects the emitters among `prims` (in their final, BVH order).
    pub(crate) fn new(prims: &[Prim], materials: &[Material]) -> Lights {
        let mut of_prim = vec![NONE; prims.len()];
        let mut lp = Vec::new();
        let mut power = Vec::new();
        for (i, p) in prims.iter().enumerate() {
            if let Material::Emitter { radiance } = materials[p.material as usize] {
                // Selection proportional to emitted power puts samples where the light is.
                let lum = 0.2126 * radiance.x + 0.7152 * radiance.y + 0.0722 * radiance.z;
                let w = area(p) * lum;
                if w > 0.0 && w.is_finite() {
                    of_prim[i] = lp.len() as u32;
                    lp.push(i as u32);
                    power.push(f64::from(w));
                }
            }
        }
        let total: f64 = power.iter().sum();
        let pmf: Vec<f32> = power.iter().map(|w| (w / total) as f32).collect();
        let mut acc = 0.0f64;
        let mut cdf: Vec<f32> = power
            .iter()
            .map(|w| {
                acc += w / total;
                acc as f32
            })
            .collect();
        if let Some(last) = cdf.last_mut() {
            *last = 1.0;
        }
        Lights { prims: lp, cdf, pmf, of_prim }
    }

    /// True when there is nothing to sample.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.prims.is_empty()
    }

    /// Light index of a primitive (NONE if it is not a sampled light).
    #[inline]
    pub(crate) fn of_prim(&self, prim: u32) -> u32 {
        self.of_prim[prim as usize]
    }

    /// Picks a light with `u_sel` and a direction towards it from `o` with (`u`, `v`).
    #[inline]
    pub(crate) fn sample(
        &self,
        prims: &[Prim],
        materials: &[Material],
        o: V3,
        u_sel: f32,
        u: f32,
        v: f32,
    ) -> Option<LightSample> {
        let li = self.cdf.partition_point(|&c| c <= u_sel).min(self.prims.len() - 1);
        let prim_ix = self.prims[li];
        let p = &prims[prim_ix as usize];
        let Material::Emitter { radiance } = materials[p.material as usize] else {
            return None;
        };
        let pmf = self.pmf[li];
        let (wi, pdf) = match p.kind {
            Kind::Sphere => {
                let d = p.a - o;
                let dist2 = d.dot(d);
                let r2 = p.b.x * p.b.x;
                if dist2 <= r2 {
                    return None; // inside: the sphere shines outwards only
                }
                let sin2_max = r2 / dist2;
                let cos_max = (1.0 - sin2_max).max(0.0).sqrt();
                // 1 - cos written to keep precision for small, distant spheres.
                let one_minus = sin2_max / (1.0 + cos_max);
                let um = u * one_minus;
                let cos = 1.0 - um;
                let sin = (um * (2.0 - um)).max(0.0).sqrt();
                let (s, c) = (2.0 * std::f32::consts::PI * v).sin_cos();
                let wi = Frame::new(d / dist2.sqrt()).to_world(V3::new(sin * c, sin * s, cos));
                (wi, 1.0 / (2.0 * std::f32::consts::PI * one_minus))
            }
            Kind::Quad | Kind::Triangle => {
                let (q, n, a) = if p.kind == Kind::Quad {
                    let q = p.a + V3::new((2.0 * u - 1.0) * p.b.x, (2.0 * v - 1.0) * p.b.y, 0.0);
                    (q, V3::new(0.0, 0.0, 1.0), 4.0 * p.b.x * p.b.y)
                } else {
                    let su = u.sqrt();
                    let q = p.a + p.b * (su * (1.0 - v)) + p.c * (su * v);
                    let cr = p.b.cross(p.c);
                    let len = cr.length();
                    (q, cr / len, 0.5 * len)
                };
                let d = q - o;
                let dist2 = d.dot(d);
                let wi = d / dist2.sqrt();
                let cos_l = wi.dot(n).abs();
                if cos_l < 1e-7 {
                    return None;
                }
                (wi, dist2 / (cos_l * a))
            }
            Kind::Box => return None,
        };
        Some(LightSample { wi, prim: prim_ix, radiance, pdf: pdf * pmf })
    }

    /// Density with which [`Lights::sample`] from `ray.o` would have produced `ray.d`, given that
    /// the ray hits light `li` at distance `t`.
    #[inline]
    pub(crate) fn pdf(&self, prims: &[Prim], li: u32, ray: &Ray, t: f32) -> f32 {
        let p = &prims[self.prims[li as usize] as usize];
        let pdf = match p.kind {
            Kind::Sphere => {
                let d = p.a - ray.o;
                let dist2 = d.dot(d);
                let r2 = p.b.x * p.b.x;
                if dist2 <= r2 {
                    return 0.0;
                }
                let sin2_max = r2 / dist2;
                let cos_max = (1.0 - sin2_max).max(0.0).sqrt();
                1.0 / (2.0 * std::f32::consts::PI * sin2_max / (1.0 + cos_max))
            }
            Kind::Quad => t * t / (ray.d.z.abs() * 4.0 * p.b.x * p.b.y),
            Kind::Triangle => {
                let cr = p.b.cross(p.c);
                let len = cr.length();
                t * t / ((ray.d.dot(cr) / len).abs() * 0.5 * len)
            }
            Kind::Box => return 0.0,
        };
        pdf * self.pmf[li as usize]
    }
}
