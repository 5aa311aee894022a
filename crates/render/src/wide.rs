//! The path tracer of `integrator.rs` run on up to 64 samples of a pixel in lockstep, one path
//! per SIMD lane, eight lanes to a group.
//!
//! All live paths are at the same vertex depth, so they read the same request numbers, which
//! the sampler computes for eight samples at once. Path state stays in lanes (`Paths`). Each
//! vertex, a group's live lanes trace their rays (as one packet query, `packet.rs`, when 7 or 8
//! are live); lanes that escape under a plain constant sky add it together, and lanes on a
//! Lambertian surface, the bulk of most scenes, scatter together in `lambertian`, sampling
//! lights eight at a time (`Lights::sample8`). Every other lane (emitter hits, other skies and
//! materials) takes `integrator::arrive` and `integrator::scatter` alone. After each vertex the
//! paths still going are packed into the first groups, so groups stay full as paths end.
//! Every lane performs the f32 operations of the scalar path in the same order, so the image is
//! bit-identical to `integrator::pixel`'s, which stays the oracle (`tests/determinism.rs`).

use crate::bvh::Stack;
use crate::env::Env;
use crate::geometry::Surface;
use crate::integrator::{
    arrive, leave, offset, power_heuristic, scatter, shadow_t_max, Mean, Path, VERTEX_REQUESTS,
};
use crate::lane::{splat3, Lanes, F8, M8, V8, W};
use crate::lights::NONE;
use crate::material::{cosine_hemisphere, Material};
use crate::math::{Frame, Real, V3};
use crate::packet::Rays8;
use crate::sampler::Sampler;
use crate::PreparedScene;
use std::f32::consts::FRAC_1_PI;

/// Up to this many live lanes trace one ray at a time rather than as a packet, which does the
/// work of eight whatever the number of lanes. Measured (1 thread, median of 5 interleaved):
/// packets for 3 or more lanes made B1 13 % and M1 15 % slower than none at all; for 7 or 8
/// lanes (camera rays and first bounces) S1 gained 15 % and B1 and M1 held their speed. With
/// groups packed after each vertex, full groups at every depth trace as packets; keeping
/// packets to camera rays instead was 6-10 % slower on S1, S2 and B1.
const SCALAR_TRACE_LANES: u32 = 6;

/// A pixel's samples are traced this many at a time: eight groups of eight lanes.
const CHUNK: usize = 8 * W;

/// The wide integrator's working memory, reused across pixels (`isa` keeps one per row
/// segment, beside the sampler and the traversal stack): building it per pixel costs memset
/// and memcpy calls. What a pixel leaves in it is never read by the next: every lane is
/// written before it is live, and lanes that are not live are computed on (eight at a time)
/// but never kept.
pub(crate) struct Scratch {
    groups: [Group; CHUNK / W],
    lambertian: LambertianLanes,
    /// Each sample's radiance, by sample index within the chunk.
    l: [V3; CHUNK],
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch { groups: Default::default(), lambertian: LambertianLanes::default(), l: [V3::ZERO; CHUNK] }
    }
}

/// The pixel's radiance estimate, the mean of its samples in sample order; bit-identical to
/// `integrator::pixel`. `sampler`, `stack` and `scratch` are scratch space, reused across
/// pixels.
// Always inlined: `isa` compiles the whole pixel loop once per instruction-set level.
#[inline(always)]
pub(crate) fn pixel(
    scene: &PreparedScene,
    x: u32,
    y: u32,
    sampler: &mut Sampler,
    stack: &mut Stack,
    scratch: &mut Scratch,
) -> [f32; 3] {
    let mut mean = Mean::default();
    sampler.set_pixel(scene.seed, x, y);
    for first in (0..scene.spp).step_by(CHUNK) {
        let count = (scene.spp - first).min(CHUNK as u32) as usize;
        chunk(scene, sampler, x, y, first, count, stack, scratch);
        for l in &scratch.l[..count] {
            mean.add(*l);
        }
    }
    mean.get()
}

/// Eight paths in lanes, each with the sample it belongs to.
#[derive(Default)]
struct Group {
    paths: Paths,
    /// Sample index and `Sampler::sample_hash` of each lane.
    sample: [u32; W],
    hash: [u64; W],
    live: u32,
}

/// Writes into `scratch.l[s - first]` the radiance of samples `first..first + count` of pixel
/// (`x`, `y`). The paths advance one vertex at a time together; after each vertex the live
/// ones are packed into the first lanes of the first groups, so lanes stay full while paths end
/// at different depths.
// One argument per piece of the chunk; a struct would only be unpacked again.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn chunk(
    scene: &PreparedScene,
    sampler: &mut Sampler,
    x: u32,
    y: u32,
    first: u32,
    count: usize,
    stack: &mut Stack,
    scratch: &mut Scratch,
) {
    let Scratch { groups, lambertian: lambertian_lanes, l: out } = scratch;
    let mut n = count.div_ceil(W);
    for (k, g) in groups[..n].iter_mut().enumerate() {
        let lanes = (count - k * W).min(W);
        g.sample = std::array::from_fn(|i| first + (k * W + i.min(lanes - 1)) as u32);
        g.hash = g.sample.map(|s| sampler.sample_hash(s));
        let (jx, jy) = sampler.lanes_2d(0, &g.sample, &g.hash);
        // `Path::new(camera.ray(..))` in every lane.
        let (o, d) = scene.camera.origin_dir(F8::splat(x as f32) + jx, F8::splat(y as f32) + jy);
        let one = F8::splat(1.0);
        g.paths = Paths {
            rays: Rays8::new(o, d),
            beta: V8::new(one, one, one),
            eta_scale: one,
            ..Default::default()
        };
        g.live = (1u32 << lanes) - 1;
    }
    // The camera took request 0; each vertex takes the next VERTEX_REQUESTS.
    let (mut depth, mut r) = (1, 1);
    while n > 0 {
        let mut was = [0u32; CHUNK / W];
        for (g, was) in groups[..n].iter_mut().zip(&mut was) {
            *was = g.live;
            vertex(scene, g, sampler, depth, r, stack, lambertian_lanes);
        }
        // Pack the live paths to the front, in order; ended ones leave their radiance. A
        // path only moves to a lower slot, so moving in slot order never overwrites one
        // that is still to move.
        let mut slot = 0usize;
        for k in 0..n {
            for i in Lanes(was[k]) {
                if groups[k].live >> i & 1 == 0 {
                    out[(groups[k].sample[i] - first) as usize] = groups[k].paths.l.get(i);
                    continue;
                }
                let (dk, di) = (slot / W, slot % W);
                if (dk, di) != (k, i) {
                    let (path, sample, hash) =
                        (groups[k].paths.get(i), groups[k].sample[i], groups[k].hash[i]);
                    let d = &mut groups[dk];
                    d.paths.set(di, &path);
                    (d.sample[di], d.hash[di]) = (sample, hash);
                }
                slot += 1;
            }
        }
        n = slot.div_ceil(W);
        for (k, g) in groups[..n].iter_mut().enumerate() {
            g.live = if (k + 1) * W <= slot { (1 << W) - 1 } else { (1 << (slot - k * W)) - 1 };
        }
        depth += 1;
        r += VERTEX_REQUESTS;
    }
}

/// Advances the live paths of `g` by one vertex (depth `depth`, requests from `r`): traces
/// their rays and scatters or ends each; clears the `live` bits of the paths that end.
#[inline(always)]
fn vertex(
    scene: &PreparedScene,
    g: &mut Group,
    sampler: &mut Sampler,
    depth: u32,
    r: u32,
    stack: &mut Stack,
    lambertian_lanes: &mut LambertianLanes,
) {
    // With a constant sky that is not sampled as a light and no sun disc, an escaping path
    // just adds beta times the sky (`integrator::arrive`), which lanes do together.
    let plain_sky = match scene.env {
        Env::Constant(c) if scene.lights.escapes_unweighted() => Some(c),
        _ => None,
    };
    let paths = &mut g.paths;
    lambertian_lanes.lanes = 0;
    let mut prim = [u32::MAX; W];
    let mut t = F8::default();
    if g.live.count_ones() > SCALAR_TRACE_LANES {
        let inf = F8::splat(f32::INFINITY);
        (prim, t) = scene.bvh.intersect8(&scene.prims, &paths.rays, M8::from_bits(g.live), inf, stack);
    } else {
        for i in Lanes(g.live) {
            let ray = paths.rays.ray(i);
            if let Some(h) = scene.bvh.intersect(&scene.prims, &ray, 0.0, f32::INFINITY, stack) {
                (prim[i], t.0[i]) = h;
            }
        }
    }
    let mut escaped = 0u32;
    for i in Lanes(g.live) {
        if prim[i] == u32::MAX {
            if plain_sky.is_some() {
                escaped |= 1 << i;
                g.live &= !(1 << i);
                continue;
            }
        } else {
            let hit = &scene.prims[prim[i] as usize];
            if let Material::Diffuse { albedo, a, b: 0.0 } = scene.materials[hit.material as usize] {
                // `arrive` for a surface that does not emit: it ends at the depth limit.
                if depth >= scene.max_depth {
                    g.live &= !(1 << i);
                } else {
                    lambertian_lanes.push(i, &hit.surface(&paths.rays.ray(i), t.0[i]), albedo, a);
                }
                continue;
            }
        }
        // Anything else takes the one-sample integrator's vertex, for this lane alone.
        let mut path = paths.get(i);
        let hit = (prim[i] != u32::MAX).then_some((prim[i], t.0[i]));
        let goes_on = arrive(scene, &mut path, hit, depth).is_some_and(|(surf, material)| {
            sampler.start(g.sample[i]);
            scatter(scene, &mut path, &surf, material, sampler, r, depth, stack)
        });
        paths.set(i, &path);
        if !goes_on {
            g.live &= !(1 << i);
        }
    }
    if let (Some(sky), true) = (plain_sky, escaped != 0) {
        let lit = paths.l + paths.beta.cmul(splat3(sky));
        paths.l = V8::select(M8::from_bits(escaped), lit, paths.l);
    }
    if lambertian_lanes.lanes != 0 {
        let draw = Draw { sampler, samples: &g.sample, hashes: &g.hash };
        g.live &= !lambertian(scene, paths, lambertian_lanes, draw, r, depth, stack);
    }
}

/// The sampler with the samples of a group's lanes, for reading a request for all of them.
struct Draw<'a> {
    sampler: &'a mut Sampler,
    samples: &'a [u32; W],
    hashes: &'a [u64; W],
}

impl Draw<'_> {
    #[inline(always)]
    fn d1(&mut self, r: u32) -> F8 {
        self.sampler.lanes_1d(r, self.samples, self.hashes)
    }
    #[inline(always)]
    fn d2(&mut self, r: u32) -> (F8, F8) {
        self.sampler.lanes_2d(r, self.samples, self.hashes)
    }
}

/// Eight paths: `integrator::Path` in lanes.
#[derive(Default)]
struct Paths {
    rays: Rays8,
    l: V8,
    beta: V8,
    eta_scale: F8,
    /// `Path::mis_bsdf_pdf`: the density in lanes whose bit is set in `mis`, None elsewhere.
    mis_pdf: F8,
    mis: u32,
}

impl Paths {
    /// Lane `i` as a path.
    #[inline(always)]
    fn get(&self, i: usize) -> Path {
        Path {
            ray: self.rays.ray(i),
            l: self.l.get(i),
            beta: self.beta.get(i),
            eta_scale: self.eta_scale.0[i],
            mis_bsdf_pdf: (self.mis >> i & 1 != 0).then_some(self.mis_pdf.0[i]),
        }
    }

    /// Sets lane `i` to `p`.
    #[inline(always)]
    fn set(&mut self, i: usize, p: &Path) {
        self.rays.set(i, &p.ray);
        self.l.set(i, p.l);
        self.beta.set(i, p.beta);
        self.eta_scale.0[i] = p.eta_scale;
        self.mis_pdf.0[i] = p.mis_bsdf_pdf.unwrap_or(0.0);
        self.mis = (self.mis & !(1 << i)) | (u32::from(p.mis_bsdf_pdf.is_some()) << i);
    }
}

/// The surfaces of the lanes at a Lambertian vertex, gathered for `lambertian`.
#[derive(Default)]
struct LambertianLanes {
    /// Which lanes are here.
    lanes: u32,
    /// Hit point, geometric normal, ray offset there.
    p: V8,
    n: V8,
    off: F8,
    albedo: V8,
    /// Oren–Nayar's A, which is 1 for a Lambertian surface but multiplied all the same,
    /// as `Material::eval_local` does.
    a: F8,
}

impl LambertianLanes {
    #[inline(always)]
    fn push(&mut self, i: usize, surf: &Surface, albedo: V3, a: f32) {
        self.lanes |= 1 << i;
        self.p.set(i, surf.p);
        self.n.set(i, surf.n);
        self.off.0[i] = offset(surf.p);
        self.albedo.set(i, albedo);
        self.a.0[i] = a;
    }
}

/// `integrator::scatter` for the lanes of `v`, all on Lambertian surfaces, eight at a time
/// (shadow rays are a packet). Returns the lanes whose path ends.
#[inline(always)]
fn lambertian(
    scene: &PreparedScene,
    paths: &mut Paths,
    v: &LambertianLanes,
    mut draw: Draw,
    r: u32,
    depth: u32,
    stack: &mut Stack,
) -> u32 {
    let (zero, one) = (F8::splat(0.0), F8::splat(1.0));
    let inv_pi = F8::splat(FRAC_1_PI);
    // `Material::frame`: the normal flipped to the side the ray arrived from. The light is
    // picked from that same side (`integrator::direct`'s `nf`).
    let d = paths.rays.d;
    let nf = V8::select(d.dot(v.n).le(zero), v.n, -v.n);
    let frame = Frame::new(nf);
    let wo = frame.to_local(-d);
    let here = M8::from_bits(v.lanes);
    if !scene.lights.is_empty() {
        let u_light = draw.d1(r + 3);
        let (lu, lv) = draw.d2(r + 4);
        // `integrator::direct`: a light sample per lane, from the side the ray arrived on.
        let o = v.p + nf * v.off;
        let ls = scene.lights.sample8(&scene.prims, &scene.materials, o, u_light, lu, lv, v.lanes);
        // `Material::eval_local`, Lambertian case.
        let wl = frame.to_local(ls.wi);
        let lit = !(wo.z.le(zero) | wl.z.le(zero));
        let f = V8::select(lit, v.albedo * (v.a * inv_pi * wl.z), V8::default());
        let bsdf_pdf = F8::select(lit, wl.z * inv_pi, zero);
        // `integrator::unoccluded` for the lanes whose light sample can contribute: one packet
        // query for lights that are primitives (is the first hit that primitive?) and one for
        // the others (is anything in the way?).
        let shadowed = ls.lanes & !f.max_elem().le(zero).bits();
        let rays = Rays8::new(leave(v.p, v.n, v.off, ls.wi), ls.wi);
        let (mut to_prim, mut t_max) = (0u32, F8::splat(f32::INFINITY));
        for i in Lanes(shadowed) {
            if ls.prim[i] != NONE {
                to_prim |= 1 << i;
            } else {
                t_max.0[i] = shadow_t_max(ls.dist.0[i]);
            }
        }
        let mut visible = 0u32;
        if to_prim != 0 {
            let inf = F8::splat(f32::INFINITY);
            let (hit, _) = scene.bvh.intersect8(&scene.prims, &rays, M8::from_bits(to_prim), inf, stack);
            for i in Lanes(to_prim) {
                visible |= u32::from(hit[i] == ls.prim[i]) << i;
            }
        }
        let to_any = shadowed & !to_prim;
        if to_any != 0 {
            visible |= to_any
                & !scene.bvh.occluded8(&scene.prims, &rays, M8::from_bits(to_any), t_max, stack).bits();
        }
        // Lanes without a visible sample compute garbage (their density is 0) that is not kept.
        let w = F8::select(ls.delta, one, power_heuristic(ls.pdf, bsdf_pdf));
        let e = f.cmul(ls.radiance) * (w / ls.pdf);
        let lit = paths.l + paths.beta.cmul(V8::select(M8::from_bits(visible), e, V8::default()));
        paths.l = V8::select(here, lit, paths.l);
    }
    // `Material::sample_local`, Lambertian case: the albedo is the weight.
    let (u, vv) = draw.d2(r + 1);
    let wl = cosine_hemisphere(u, vv);
    let bsdf_pdf = wl.z * inv_pi;
    let wi = frame.to_world(wl);
    let beta = paths.beta.cmul(v.albedo);
    let mut ends = wo.z.le(zero) | beta.max_elem().le(zero);
    // The sample's eta is 1; multiplied all the same, as `scatter` does.
    let eta_scale = paths.eta_scale * one;
    let beta = if depth + 1 > crate::integrator::RR_DEPTH {
        let q = (beta.max_elem() * eta_scale * eta_scale).fmin(F8::splat(0.95));
        ends = ends | draw.d1(r + 2).ge(q);
        beta / q
    } else {
        beta
    };
    let next = Rays8::new(leave(v.p, v.n, v.off, wi), wi);
    let goes_on = here & !ends;
    paths.rays = Rays8 {
        o: V8::select(goes_on, next.o, paths.rays.o),
        d: V8::select(goes_on, next.d, paths.rays.d),
        inv_d: V8::select(goes_on, next.inv_d, paths.rays.inv_d),
    };
    paths.beta = V8::select(goes_on, beta, paths.beta);
    paths.eta_scale = F8::select(goes_on, eta_scale, paths.eta_scale);
    paths.mis_pdf = F8::select(goes_on, bsdf_pdf, paths.mis_pdf);
    paths.mis |= goes_on.bits();
    ends.bits() & v.lanes
}
