//! Unidirectional path tracing with next-event estimation, multiple importance sampling and
//! Russian roulette; one pixel at a time, samples in order.

use crate::bvh::Stack;
use crate::geometry::Surface;
use crate::lights::{LightSample, NONE};
use crate::material::Material;
use crate::math::{Ray, Real, Vec3, V3};
use crate::sampler::Sampler;
use crate::PreparedScene;

/// Russian roulette starts once a path has this many segments (Mitsuba's default `rr_depth`).
pub(crate) const RR_DEPTH: u32 = 5;

/// The mean of a pixel's sample radiances, summed in sample order. Samples that come out
/// non-finite are dropped (and excluded from the mean) so one cannot poison a tile.
#[derive(Default)]
pub(crate) struct Mean {
    sum: [f64; 3],
    n: u32,
}

impl Mean {
    /// Adds the next sample.
    #[inline(always)]
    pub(crate) fn add(&mut self, l: V3) {
        if l.is_finite() {
            self.sum[0] += f64::from(l.x);
            self.sum[1] += f64::from(l.y);
            self.sum[2] += f64::from(l.z);
            self.n += 1;
        }
    }

    /// The mean (black if no sample was finite).
    #[inline(always)]
    pub(crate) fn get(&self) -> [f32; 3] {
        if self.n == 0 {
            return [0.0; 3];
        }
        let inv = 1.0 / f64::from(self.n);
        [(self.sum[0] * inv) as f32, (self.sum[1] * inv) as f32, (self.sum[2] * inv) as f32]
    }
}

/// The pixel's radiance estimate, one sample at a time (the oracle `wide::pixel` is tested
/// against). `sampler` and `stack` are scratch space, reused across pixels.
// Always inlined: `isa` compiles the whole pixel loop once per instruction-set level.
#[inline(always)]
pub(crate) fn pixel(
    scene: &PreparedScene,
    x: u32,
    y: u32,
    sampler: &mut Sampler,
    stack: &mut Stack,
) -> [f32; 3] {
    let mut mean = Mean::default();
    // One sampler for the pixel: the hashes that do not depend on the sample index are
    // computed once, not per sample.
    sampler.set_pixel(scene.seed, x, y);
    for s in 0..scene.spp {
        sampler.start(s);
        let (jx, jy) = sampler.next_2d();
        let ray = scene.camera.ray(x as f32 + jx, y as f32 + jy);
        mean.add(radiance(scene, ray, sampler, stack));
    }
    mean.get()
}

/// Offset that lifts a spawned ray off the surface it leaves, scaled with the coordinates
/// because f32 hit points carry error relative to their magnitude.
#[inline(always)]
pub(crate) fn offset(p: V3) -> f32 {
    1e-4 * p.max_abs().max(1.0)
}

/// Origin of a ray leaving surface point `p` (normal `n`, offset `off` from `offset`) along
/// `dir`: lifted to the side `dir` points to.
#[inline(always)]
pub(crate) fn leave<T: Real>(p: Vec3<T>, n: Vec3<T>, off: T, dir: Vec3<T>) -> Vec3<T> {
    let c = dir.dot(n);
    let zero = T::splat(0.0);
    let side = c.gt(zero) | c.eq_(zero);
    p + Vec3::select(side, n, -n) * off
}

/// `Ray::skip` of a ray leaving a surface of `Prim::shape` `shape` (normal `n`) along `dir`:
/// the shape when the ray leaves on the side `n` points to (which `leave` lifts it to; for a
/// convex shape its outside) at a cosine of at least [`SKIP_COS`].
#[inline(always)]
pub(crate) fn skip(shape: u32, n: V3, dir: V3) -> u32 {
    if dir.dot(n) >= SKIP_COS {
        shape
    } else {
        0
    }
}

/// Least cosine between a ray and the normal of the convex shape it leaves for the ray to skip
/// the shape. The f32 normal of a triangle whose angle at its first corner is θ is off by up to
/// about 1.2e-7 / sin θ radians, which `convex` keeps under 1.2e-4 (it refuses meshes with
/// sin θ < 1e-3): a ray this steep moves away from the exact plane too. Grazing rays (about
/// one in a million cosine-distributed bounces) just search the shape as before.
pub(crate) const SKIP_COS: f32 = 1e-3;

/// The ray leaving surface `surf` along `dir`.
#[inline(always)]
fn spawn(surf: &Surface, dir: V3) -> Ray {
    Ray { skip: skip(surf.shape, surf.n, dir), ..Ray::new(leave(surf.p, surf.n, offset(surf.p), dir), dir) }
}

/// Power heuristic (beta = 2) weight of a strategy with density `a` against one with `b`.
#[inline(always)]
pub(crate) fn power_heuristic<T: Real>(a: T, b: T) -> T {
    let (a2, b2) = (a * a, b * b);
    T::select((a2 + b2).gt(T::splat(0.0)), a2 / (a2 + b2), T::splat(0.0))
}

/// A path between two vertices: the ray it travels next and what it has gathered so far.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Path {
    pub ray: Ray,
    /// Radiance gathered so far.
    pub l: V3,
    /// Throughput.
    pub beta: V3,
    /// Product of the relative IORs crossed (for Russian roulette).
    pub eta_scale: f32,
    /// Solid-angle density of the BSDF sample that produced `ray`, if light sampling competed
    /// with it there (None: an emitter hit gets full weight).
    pub mis_bsdf_pdf: Option<f32>,
}

impl Path {
    /// A camera path about to trace `ray`.
    #[inline(always)]
    pub(crate) fn new(ray: Ray) -> Path {
        Path { ray, l: V3::ZERO, beta: V3::ONE, eta_scale: 1.0, mis_bsdf_pdf: None }
    }
}

/// One path's radiance along `ray`.
///
/// At every vertex with a non-delta lobe one light is sampled (next-event estimation) and
/// combined with BSDF sampling by the power heuristic: emitting shapes and sun discs can be
/// reached both ways; point, spot and delta-sun lights only by light sampling (weight 1).
/// The environment is reached both ways when it is a light (`Lights::env_pdf` > 0), by BSDF
/// sampling alone (weight 1) otherwise.
// Always inlined into `pixel`, so it is compiled once per instruction-set level with it.
#[inline(always)]
pub(crate) fn radiance(scene: &PreparedScene, ray: Ray, sampler: &mut Sampler, stack: &mut Stack) -> V3 {
    let mut path = Path::new(ray);
    let mut depth = 1;
    loop {
        let hit = scene.bvh.intersect(&scene.prims, &path.ray, 0.0, f32::INFINITY, stack);
        let Some((surf, material)) = arrive(scene, &mut path, hit, depth) else {
            break;
        };
        // Every vertex reserves the same five requests (lobe, direction, roulette, light choice,
        // light position), so streams stay aligned across paths, and reads only those it
        // needs: an unread request costs nothing.
        let r = sampler.skip(VERTEX_REQUESTS);
        if !scatter(scene, &mut path, &surf, material, sampler, r, depth, stack) {
            break;
        }
        depth += 1;
    }
    path.l
}

/// Requests each vertex reserves: lobe, direction, roulette, light choice, light position.
pub(crate) const VERTEX_REQUESTS: u32 = 5;

/// Where `path`'s ray ended, given its closest hit `hit` at vertex `depth`: adds the light of
/// the environment and sun discs if it escaped, or of the emitter it hit; returns the surface
/// and material to scatter from, or None when the path ends here.
#[inline(always)]
pub(crate) fn arrive<'s>(
    scene: &'s PreparedScene,
    path: &mut Path,
    hit: Option<(u32, f32)>,
    depth: u32,
) -> Option<(Surface, &'s Material)> {
    let ray = &path.ray;
    let Some((prim_ix, t)) = hit else {
        let mut le = scene.env.radiance(ray.d);
        if let Some(b) = path.mis_bsdf_pdf {
            let env_pdf = scene.lights.env_pdf(ray.d);
            if env_pdf > 0.0 {
                le *= power_heuristic(b, env_pdf);
            }
        }
        for (radiance, light_pdf) in scene.lights.sun_discs(ray.d) {
            let w = path.mis_bsdf_pdf.map_or(1.0, |b| power_heuristic(b, light_pdf));
            le += radiance * w;
        }
        path.l += path.beta.cmul(le);
        return None;
    };
    let prim = &scene.prims[prim_ix as usize];
    let surf = prim.surface(ray, t);
    let material = &scene.materials[prim.material as usize];
    if let Material::Emitter { radiance } = *material {
        // Closed emitters shine from their outside only (as Mitsuba's area lights do).
        if !surf.closed || ray.d.dot(surf.n) < 0.0 {
            let li = scene.lights.of_prim(prim_ix);
            let w = match path.mis_bsdf_pdf {
                Some(bsdf_pdf) if li != NONE => {
                    power_heuristic(bsdf_pdf, scene.lights.pdf(&scene.prims, li, ray, t))
                }
                _ => 1.0,
            };
            path.l += path.beta.cmul(radiance) * w;
        }
        return None;
    }
    if depth >= scene.max_depth {
        return None;
    }
    Some((surf, material))
}

/// Scatters `path` at `surf` (vertex `depth`, whose requests start at `r`): next-event
/// estimation, a BSDF sample for the next ray, then Russian roulette. False when the path ends.
// One argument per piece of the vertex; a struct would only be unpacked again.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn scatter(
    scene: &PreparedScene,
    path: &mut Path,
    surf: &Surface,
    material: &Material,
    sampler: &mut Sampler,
    r: u32,
    depth: u32,
    stack: &mut Stack,
) -> bool {
    if !material.is_delta() && !scene.lights.is_empty() {
        let u_light = sampler.at_1d(r + 3);
        let (lu, lv) = sampler.at_2d(r + 4);
        path.l += path.beta.cmul(direct(scene, material, &path.ray, surf, u_light, lu, lv, stack));
    }
    let u_lobe = if material.has_lobe_choice() { sampler.at_1d(r) } else { 0.0 };
    let (u, v) = if material.has_direction_choice() { sampler.at_2d(r + 1) } else { (0.0, 0.0) };
    let Some(sc) = material.sample(path.ray.d, surf.n, u_lobe, u, v) else {
        return false;
    };
    path.mis_bsdf_pdf = if sc.delta { None } else { Some(sc.pdf) };
    path.beta = path.beta.cmul(sc.weight);
    if path.beta.max_elem() <= 0.0 {
        return false;
    }
    path.eta_scale *= sc.eta;
    if depth + 1 > RR_DEPTH {
        // Survival follows throughput with the eta^2 compression undone, so paths inside
        // glass are not killed for a loss they will regain on the way out. Dividing by the
        // survival probability keeps the estimate unbiased.
        let q = (path.beta.max_elem() * path.eta_scale * path.eta_scale).min(0.95);
        if sampler.at_1d(r + 2) >= q {
            return false;
        }
        path.beta = path.beta / q;
    }
    path.ray = spawn(surf, sc.wi);
    true
}

/// Light-sampling estimate of the light arriving at `surf` and scattered along `-ray.d`,
/// weighted against BSDF sampling.
// One argument per piece of the shading point; a struct would only be unpacked again.
// Always inlined, so it is compiled with the pixel loop for each instruction-set level: left
// to LLVM it stayed out of line as baseline code (S2: 6 % more instructions, 2 % slower).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn direct(
    scene: &PreparedScene,
    material: &Material,
    ray: &Ray,
    surf: &Surface,
    u_light: f32,
    lu: f32,
    lv: f32,
    stack: &mut Stack,
) -> V3 {
    let (p, n) = (surf.p, surf.n);
    let off = offset(p);
    // Pick the light from the side of the surface the ray arrived on (most lights); for a
    // transmitted direction the origin is moved to the other side below.
    let nf = if ray.d.dot(n) <= 0.0 { n } else { -n };
    let Some(ls) = scene.lights.sample(&scene.prims, &scene.materials, p + nf * off, u_light, lu, lv) else {
        return V3::ZERO;
    };
    if ls.pdf <= 0.0 {
        return V3::ZERO;
    }
    let (f, bsdf_pdf) = material.eval(ray.d, n, ls.wi);
    if f.max_elem() <= 0.0 {
        return V3::ZERO;
    }
    if !unoccluded(scene, surf, off, &ls, stack) {
        return V3::ZERO;
    }
    let w = if ls.delta { 1.0 } else { power_heuristic(ls.pdf, bsdf_pdf) };
    f.cmul(ls.radiance) * (w / ls.pdf)
}

/// Whether nothing blocks the light sample `ls` taken from `surf` (ray offset `off`).
#[inline(always)]
fn unoccluded(scene: &PreparedScene, surf: &Surface, off: f32, ls: &LightSample, stack: &mut Stack) -> bool {
    let shadow =
        Ray { skip: skip(surf.shape, surf.n, ls.wi), ..Ray::new(leave(surf.p, surf.n, off, ls.wi), ls.wi) };
    if ls.prim != NONE {
        scene
            .bvh
            .intersect(&scene.prims, &shadow, 0.0, f32::INFINITY, stack)
            .is_some_and(|(hit, _)| hit == ls.prim)
    } else {
        // Any hit will do: `occluded` stops at the first (exactly `intersect(..).is_none()`).
        !scene.bvh.occluded(&scene.prims, &shadow, 0.0, shadow_t_max(ls.dist), stack)
    }
}

/// How far a shadow ray towards a light at `dist` that is not a primitive must stay clear: to just short
/// of a point light, so a surface right at it does not shadow itself, or without end.
#[inline(always)]
pub(crate) fn shadow_t_max(dist: f32) -> f32 {
    if dist.is_finite() {
        dist * (1.0 - 1e-4)
    } else {
        f32::INFINITY
    }
}
