//! Next-event estimation: picking a light (emitting shape, point, spot, sun or the environment)
//! and a direction towards it, and the density of that choice for multiple importance sampling
//! against BSDF sampling.
//!
//! Lights are picked in proportion to their power. The environment is sampled in proportion to
//! its luminance (see `env.rs`). Spheres are sampled by the cone of directions
//! they subtend (uniform in solid angle), quads and triangles by area, sun discs uniformly in
//! their cone. Box emitters are not sampled: they are found by BSDF sampling alone and so keep
//! MIS weight 1, which stays unbiased. Point, spot and delta-sun lights can only be sampled.

use crate::env::{luminance, Env};
use crate::geometry::{Kind, Prim};
use crate::lane::{splat3, Lanes, F, M, V};
use crate::material::Material;
use crate::math::{sincos_turn, Frame, Ray, Real, Vec3, V3};
use std::f32::consts::PI;
use tessera_types::scene::Light as LightDesc;

/// No light for this primitive.
pub(crate) const NONE: u32 = u32::MAX;

/// One light the integrator can sample.
#[derive(Debug, Clone, Copy)]
enum Entry {
    /// An emitting primitive (index into the primitive array).
    Prim(u32),
    /// Isotropic point light.
    Point { pos: V3, intensity: V3 },
    /// Point light in a cone around `axis` with a smoothstep edge from `cos_falloff` to
    /// `cos_total` (pbrt-v4's spot light).
    Spot { pos: V3, axis: V3, intensity: V3, cos_total: f32, cos_falloff: f32 },
    /// Directional light towards `to_sun`. `one_minus` = 1 - cos of the disc's angular radius;
    /// 0 makes it a delta with irradiance `radiance`, otherwise `radiance` is the disc's
    /// uniform radiance.
    Sun { to_sun: V3, radiance: V3, one_minus: f32 },
    /// The environment, sampled by luminance; a shadow ray towards it is unbounded.
    Env(Env),
}

/// The lights of a scene and the distribution used to pick one per shading point.
#[derive(Debug, Clone)]
pub(crate) struct Lights {
    entries: Vec<Entry>,
    /// Cumulative selection probabilities (last = 1).
    cdf: Vec<f32>,
    /// Selection probability of each light.
    pmf: Vec<f32>,
    /// Light index of each primitive, or NONE.
    of_prim: Vec<u32>,
    /// Indices of suns with a disc, which escaping rays can hit.
    discs: Vec<u32>,
    /// Index of the environment if it is sampled, or NONE.
    env: u32,
}

/// A direction towards a light and what arrives along it if nothing is in the way.
pub(crate) struct LightSample {
    pub wi: V3,
    /// The emitting primitive, or NONE for point, spot and sun lights and the environment.
    pub prim: u32,
    /// Distance to the light's point (infinite for suns and the environment); shadow rays stop
    /// short of it.
    pub dist: f32,
    /// Radiance (area lights, sun discs) or irradiance at normal incidence (delta lights).
    pub radiance: V3,
    /// Solid-angle density including the light's selection probability; for delta lights the
    /// selection probability alone.
    pub pdf: f32,
    /// True for point, spot and delta-sun lights, which BSDF sampling can never hit.
    pub delta: bool,
}

/// Light samples for `N` shading points (`Lights::sample_lanes`): lane i holds the fields of
/// the `LightSample` for point i.
pub(crate) struct LightSamples<const N: usize> {
    /// The lanes with a sample of positive density; the others hold zeros.
    pub lanes: u32,
    pub wi: V<N>,
    pub radiance: V<N>,
    pub pdf: F<N>,
    pub delta: M<N>,
    pub prim: [u32; N],
    pub dist: F<N>,
}

impl<const N: usize> Default for LightSamples<N> {
    fn default() -> LightSamples<N> {
        LightSamples {
            lanes: 0,
            wi: V::default(),
            radiance: V::default(),
            pdf: F::default(),
            delta: M::default(),
            prim: [0; N],
            dist: F::default(),
        }
    }
}

impl<const N: usize> LightSamples<N> {
    /// Sets lane `i` to `s`.
    #[inline(always)]
    fn set(&mut self, i: usize, s: &LightSample) {
        self.lanes |= 1 << i;
        self.wi.set(i, s.wi);
        self.radiance.set(i, s.radiance);
        self.pdf.0[i] = s.pdf;
        self.delta.0[i] = if s.delta { u32::MAX } else { 0 };
        self.prim[i] = s.prim;
        self.dist.0[i] = s.dist;
    }
}

fn area(p: &Prim) -> f32 {
    match p.kind {
        Kind::Sphere => 4.0 * PI * p.b.x * p.b.x,
        Kind::Quad => 4.0 * p.b.x * p.b.y,
        Kind::Triangle => 0.5 * p.b.cross(p.c).length(),
        Kind::Box => 0.0,
    }
}

/// A direction uniform in solid angle within the cone around unit `axis` whose half-angle θ
/// has 1 − cos θ = `one_minus` (a sun disc, a sphere seen from outside); its density is
/// 1 / (2π·one_minus). Generic over the lane type: one path or a group.
#[inline(always)]
fn uniform_cone<T: Real>(axis: Vec3<T>, one_minus: T, u: T, v: T) -> Vec3<T> {
    let um = u * one_minus;
    let cos = T::splat(1.0) - um;
    let sin = (um * (T::splat(2.0) - um)).fmax(T::splat(0.0)).sqrt();
    let (s, c) = sincos_turn(v);
    Frame::new(axis).to_world(Vec3::new(sin * c, sin * s, cos))
}

/// A direction from `o` towards the sphere (`center`, `radius`), uniform in the solid angle
/// it subtends, and that density; the mask is false where `o` is inside, from where the
/// sphere (which shines outwards only) cannot be sampled.
#[inline(always)]
fn toward_sphere<T: Real>(center: Vec3<T>, radius: T, o: Vec3<T>, u: T, v: T) -> (Vec3<T>, T, T::Mask) {
    let (zero, one) = (T::splat(0.0), T::splat(1.0));
    let d = center - o;
    let dist2 = d.dot(d);
    let r2 = radius * radius;
    let sin2_max = r2 / dist2;
    let cos_max = (one - sin2_max).fmax(zero).sqrt();
    // 1 - cos written to keep precision for small, distant spheres.
    let one_minus = sin2_max / (one + cos_max);
    let wi = uniform_cone(d / dist2.sqrt(), one_minus, u, v);
    (wi, one / (T::splat(2.0 * PI) * one_minus), dist2.gt(r2))
}

/// pbrt-v4's smoothstep: 0 at or below `a`, 1 at or above `b`, a hard step when they are equal.
#[inline]
fn smoothstep(x: f32, a: f32, b: f32) -> f32 {
    if a == b {
        return if x < a { 0.0 } else { 1.0 };
    }
    let t = ((x - a) / (b - a)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

impl Lights {
    /// Collects the emitters among `prims` (in their final, BVH order), the scene's lights and,
    /// if given, the environment. Distant lights (suns, the environment) have no finite power;
    /// as in pbrt they are weighed by the flux they send through a disc of `radius`, the size
    /// of the region the image shows (see `prepare::light_radius`).
    pub(crate) fn new(
        prims: &[Prim],
        materials: &[Material],
        descs: &[LightDesc],
        env: Option<Env>,
        radius: f32,
    ) -> Lights {
        let mut of_prim = vec![NONE; prims.len()];
        let mut entries = Vec::new();
        let mut power = Vec::new();
        let mut discs = Vec::new();
        // Selection proportional to emitted power (pbrt's power light sampler) puts samples
        // where the light is.
        let mut push = |e: Entry, w: f32, entries: &mut Vec<Entry>| -> Option<u32> {
            if w > 0.0 && w.is_finite() {
                entries.push(e);
                power.push(f64::from(w));
                Some(entries.len() as u32 - 1)
            } else {
                None
            }
        };
        for (i, p) in prims.iter().enumerate() {
            if let Material::Emitter { radiance } = materials[p.material as usize] {
                if let Some(ix) =
                    push(Entry::Prim(i as u32), PI * area(p) * luminance(radiance), &mut entries)
                {
                    of_prim[i] = ix;
                }
            }
        }
        for d in descs {
            match d {
                LightDesc::Point(p) => {
                    let intensity = V3::from(p.intensity);
                    push(
                        Entry::Point { pos: V3::from(p.position), intensity },
                        4.0 * PI * luminance(intensity),
                        &mut entries,
                    );
                }
                LightDesc::Spot(s) => {
                    let intensity = V3::from(s.intensity);
                    let cos_total = libm::cosf(s.cone_deg.to_radians());
                    let cos_falloff = libm::cosf(s.falloff_deg.unwrap_or(s.cone_deg).to_radians());
                    let e = Entry::Spot {
                        pos: V3::from(s.position),
                        axis: V3::from(s.direction).normalize(),
                        intensity,
                        cos_total,
                        cos_falloff,
                    };
                    let w = 2.0 * PI * luminance(intensity) * (1.0 - 0.5 * (cos_falloff + cos_total));
                    push(e, w, &mut entries);
                }
                LightDesc::Sun(s) => {
                    let irradiance = V3::from(s.irradiance);
                    let theta = s.angular_radius_deg.to_radians();
                    let sin2 = libm::sinf(theta) * libm::sinf(theta);
                    let one_minus = if theta > 0.0 { sin2 / (1.0 + libm::cosf(theta)) } else { 0.0 };
                    // A disc of uniform radiance L gives irradiance L·π·sin²θ at normal incidence.
                    let radiance = if one_minus > 0.0 { irradiance / (PI * sin2) } else { irradiance };
                    let e = Entry::Sun { to_sun: -V3::from(s.direction).normalize(), radiance, one_minus };
                    let w = PI * radius * radius * luminance(irradiance);
                    if let Some(ix) = push(e, w, &mut entries) {
                        if one_minus > 0.0 {
                            discs.push(ix);
                        }
                    }
                }
            }
        }
        let env = env
            .and_then(|e| push(Entry::Env(e), PI * radius * radius * e.power(), &mut entries))
            .unwrap_or(NONE);
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
        Lights { entries, cdf, pmf, of_prim, discs, env }
    }

    /// Radiance of every sun disc along escaping direction `d`, each with the light-sampling
    /// density of that direction (for MIS against the BSDF sample that left).
    #[inline]
    pub(crate) fn sun_discs(&self, d: V3) -> impl Iterator<Item = (V3, f32)> + '_ {
        self.discs.iter().filter_map(move |&ix| {
            let Entry::Sun { to_sun, radiance, one_minus } = self.entries[ix as usize] else {
                return None;
            };
            if 1.0 - d.dot(to_sun) <= one_minus {
                Some((radiance, self.pmf[ix as usize] / (2.0 * PI * one_minus)))
            } else {
                None
            }
        })
    }

    /// Light-sampling density (selection included) of the environment along escaping
    /// direction `d`; 0 when the environment is not sampled as a light.
    #[inline]
    pub(crate) fn env_pdf(&self, d: V3) -> f32 {
        if self.env == NONE {
            return 0.0;
        }
        let Entry::Env(e) = self.entries[self.env as usize] else {
            return 0.0;
        };
        self.pmf[self.env as usize] * e.pdf(d)
    }

    /// True when a path that escapes gets the environment's radiance at full weight: the
    /// environment is not sampled as a light and there is no sun disc to hit.
    #[inline]
    pub(crate) fn escapes_unweighted(&self) -> bool {
        self.env == NONE && self.discs.is_empty()
    }

    /// True when there is nothing to sample.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Light index of a primitive (NONE if it is not a sampled light).
    #[inline]
    pub(crate) fn of_prim(&self, prim: u32) -> u32 {
        self.of_prim[prim as usize]
    }

    /// The light `u_sel` picks.
    #[inline(always)]
    fn pick(&self, u_sel: f32) -> usize {
        self.cdf.partition_point(|&c| c <= u_sel).min(self.entries.len() - 1)
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
        self.sample_light(prims, materials, self.pick(u_sel), o, u, v)
    }

    /// `sample` for the lanes of `lanes`, `N` shading points at once, keeping the samples of
    /// positive density: lanes that picked the same emitting sphere are sampled together, any
    /// other light one lane at a time. Every lane gets the bits `sample` gives it.
    // One argument per piece of the query, as `sample` has.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn sample_lanes<const N: usize>(
        &self,
        prims: &[Prim],
        materials: &[Material],
        o: V<N>,
        u_sel: F<N>,
        u: F<N>,
        v: F<N>,
        lanes: u32,
    ) -> LightSamples<N> {
        let mut out = LightSamples::default();
        let mut picked = [0usize; N];
        // With one light every lane picks it (`pick` searches a one-entry table).
        if self.entries.len() > 1 {
            for i in Lanes(lanes) {
                picked[i] = self.pick(u_sel.0[i]);
            }
        }
        let mut todo = lanes;
        while todo != 0 {
            let li = picked[todo.trailing_zeros() as usize];
            let mut group = 0u32;
            for i in Lanes(todo) {
                group |= u32::from(picked[i] == li) << i;
            }
            todo &= !group;
            if let Entry::Prim(ix) = self.entries[li] {
                let p = &prims[ix as usize];
                if let (Kind::Sphere, Material::Emitter { radiance }) =
                    (p.kind, materials[p.material as usize])
                {
                    let (wi, pdf, outside) = toward_sphere(splat3(p.a), F::splat(p.b.x), o, u, v);
                    let pdf = pdf * F::splat(self.pmf[li]);
                    let got = (outside & pdf.gt(F::splat(0.0))).bits() & group;
                    let m = M::from_bits(got);
                    out.wi = V::select(m, wi, out.wi);
                    out.pdf = F::select(m, pdf, out.pdf);
                    out.radiance = V::select(m, splat3(radiance), out.radiance);
                    out.dist = F::select(m, F::splat(f32::INFINITY), out.dist);
                    for i in Lanes(got) {
                        out.prim[i] = ix;
                    }
                    out.lanes |= got;
                    continue;
                }
            }
            for i in Lanes(group) {
                let s = self.sample_light(prims, materials, li, o.get(i), u.0[i], v.0[i]);
                if let Some(s) = s.filter(|s| s.pdf > 0.0) {
                    out.set(i, &s);
                }
            }
        }
        out
    }

    /// A direction from `o` towards light `li`, with (`u`, `v`).
    #[inline(always)]
    fn sample_light(
        &self,
        prims: &[Prim],
        materials: &[Material],
        li: usize,
        o: V3,
        u: f32,
        v: f32,
    ) -> Option<LightSample> {
        let pmf = self.pmf[li];
        let prim_ix = match self.entries[li] {
            Entry::Prim(ix) => ix,
            Entry::Env(e) => {
                let (wi, pdf) = e.sample(u, v);
                if pdf <= 0.0 {
                    return None;
                }
                return Some(LightSample {
                    wi,
                    prim: NONE,
                    dist: f32::INFINITY,
                    radiance: e.radiance(wi),
                    pdf: pdf * pmf,
                    delta: false,
                });
            }
            Entry::Point { pos, intensity } => {
                let d = pos - o;
                let dist2 = d.dot(d);
                let dist = dist2.sqrt();
                return Some(LightSample {
                    wi: d / dist,
                    prim: NONE,
                    dist,
                    radiance: intensity / dist2,
                    pdf: pmf,
                    delta: true,
                });
            }
            Entry::Spot { pos, axis, intensity, cos_total, cos_falloff } => {
                let d = pos - o;
                let dist2 = d.dot(d);
                let dist = dist2.sqrt();
                let wi = d / dist;
                let k = smoothstep((-wi).dot(axis), cos_total, cos_falloff);
                if k <= 0.0 {
                    return None;
                }
                return Some(LightSample {
                    wi,
                    prim: NONE,
                    dist,
                    radiance: intensity * (k / dist2),
                    pdf: pmf,
                    delta: true,
                });
            }
            Entry::Sun { to_sun, radiance, one_minus } => {
                if one_minus == 0.0 {
                    return Some(LightSample {
                        wi: to_sun,
                        prim: NONE,
                        dist: f32::INFINITY,
                        radiance,
                        pdf: pmf,
                        delta: true,
                    });
                }
                return Some(LightSample {
                    wi: uniform_cone(to_sun, one_minus, u, v),
                    prim: NONE,
                    dist: f32::INFINITY,
                    radiance,
                    pdf: pmf / (2.0 * PI * one_minus),
                    delta: false,
                });
            }
        };
        let p = &prims[prim_ix as usize];
        let Material::Emitter { radiance } = materials[p.material as usize] else {
            return None;
        };
        let (wi, pdf, dist) = match p.kind {
            Kind::Sphere => {
                let (wi, pdf, outside) = toward_sphere(p.a, p.b.x, o, u, v);
                if !outside {
                    return None;
                }
                (wi, pdf, f32::INFINITY)
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
                (wi, dist2 / (cos_l * a), f32::INFINITY)
            }
            Kind::Box => return None,
        };
        Some(LightSample { wi, prim: prim_ix, dist, radiance, pdf: pdf * pmf, delta: false })
    }

    /// Density with which [`Lights::sample`] from `ray.o` would have produced `ray.d`, given that
    /// the ray hits light `li` at distance `t`.
    #[inline]
    pub(crate) fn pdf(&self, prims: &[Prim], li: u32, ray: &Ray, t: f32) -> f32 {
        let Entry::Prim(prim_ix) = self.entries[li as usize] else {
            return 0.0;
        };
        let p = &prims[prim_ix as usize];
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
                1.0 / (2.0 * PI * sin2_max / (1.0 + cos_max))
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

#[cfg(test)]
mod tests {
    use super::Entry;
    use crate::PreparedScene;
    use serde_json::json;
    use tessera_types::scene::Scene;

    /// Selection probability of the light of each kind in `scene` (emitting shape, sun, sky).
    fn shares(scene: serde_json::Value) -> (f32, f32, f32) {
        let p = PreparedScene::new(&Scene::from_json_value(scene).unwrap()).unwrap().with_env_light(true);
        let l = &p.lights;
        let mut s = (0.0, 0.0, 0.0);
        for (e, &pmf) in l.entries.iter().zip(&l.pmf) {
            match e {
                Entry::Prim(_) => s.0 += pmf,
                Entry::Sun { .. } => s.1 += pmf,
                Entry::Env(_) => s.2 += pmf,
                _ => {}
            }
        }
        s
    }

    /// A sun over S2's 10,000-unit ground plane must not starve the small lamp that lights
    /// what the camera sees. Weighing the sun by the scene's bounds (radius 14,142) gave the
    /// lamp a share of 4e-8, so its light reached the image through BSDF samples alone; sized
    /// by the visible region the lamp (power π·A·L ≈ 79 against the sun's π·R²·E) keeps a
    /// share of the same order as the sun's. Both ends are asserted, so neither light starves.
    #[test]
    fn a_sun_over_a_huge_ground_does_not_starve_a_nearby_lamp() {
        let scene = |ground_half: f32| {
            json!({
                "render": {"width": 64, "height": 36, "spp": 1, "max_depth": 8, "seed": 0},
                "camera": {"type": "perspective", "eye": [0, -9, 2.2], "target": [0, 0, 0.7], "up": [0, 0, 1], "vfov_deg": 40},
                "environment": {"type": "constant", "radiance": [0, 0, 0]},
                "materials": {
                    "ground": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5]},
                    "lamp": {"type": "emitter", "radiance": [50, 50, 50]}
                },
                "shapes": [
                    {"type": "quad", "center": [0, 0, 0], "half_size": [ground_half, ground_half], "material": "ground"},
                    {"type": "sphere", "center": [0, 0, 1], "radius": 1, "material": "ground"},
                    {"type": "sphere", "center": [-1.2, -2.2, 1.9], "radius": 0.2, "material": "lamp"}
                ],
                "lights": [{"type": "sun", "direction": [0.3, 0.2, -1], "irradiance": [3, 3, 3]}]
            })
        };
        let (lamp, sun, _) = shares(scene(10_000.0));
        assert!((0.1..0.9).contains(&lamp), "lamp share {lamp}, sun {sun}");
        // What the camera sees decides, not the ground's extent beyond the view.
        let (lamp_small, _, _) = shares(scene(50.0));
        assert!(
            (lamp_small / lamp - 1.0).abs() < 0.2,
            "lamp share {lamp_small} with a 50-unit ground vs {lamp}"
        );
    }

    /// A light-sampled gradient sky is weighed like a sun (flux through the visible region's
    /// disc); with a lamp present both get a share.
    #[test]
    fn a_gradient_sky_is_a_light_beside_a_lamp() {
        let s = json!({
            "render": {"width": 64, "height": 36, "spp": 1, "max_depth": 8, "seed": 0},
            "camera": {"type": "perspective", "eye": [0, -9, 2.2], "target": [0, 0, 0.7], "up": [0, 0, 1], "vfov_deg": 40},
            "environment": {"type": "gradient", "zenith": [0.35, 0.55, 1.0], "horizon": [1.0, 0.95, 0.9]},
            "materials": {
                "ground": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5]},
                "lamp": {"type": "emitter", "radiance": [50, 45, 35]}
            },
            "shapes": [
                {"type": "quad", "center": [0, 0, 0], "half_size": [10000, 10000], "material": "ground"},
                {"type": "sphere", "center": [-1.2, -2.2, 1.9], "radius": 0.2, "material": "lamp"}
            ]
        });
        let (lamp, _, sky) = shares(s);
        eprintln!("lamp {lamp} sky {sky}");
        assert!(lamp > 0.01 && sky > 0.01 && (lamp + sky - 1.0).abs() < 1e-6, "lamp {lamp} sky {sky}");
    }
}
