//! The path tracer of `integrator.rs` run on the eight samples of a sampler batch in lockstep,
//! one path per lane.
//!
//! All live paths of a batch are at the same vertex depth, so they read the same request
//! numbers, which the sampler serves for all eight at once. Path state stays in lanes
//! (`Paths`). Each vertex, the live lanes trace their rays (as one packet query, `packet.rs`,
//! when 7 or 8 are live); lanes that escape under a plain constant sky add it together, and
//! lanes on a Lambertian surface, the bulk of most scenes, scatter together in `lambertian`.
//! Every other lane (emitter hits, other skies and materials) takes `integrator::arrive` and
//! `integrator::scatter` alone. Every lane performs the f32 operations of the scalar path in
//! the same order, so the image is bit-identical to `integrator::pixel`'s, which stays the
//! oracle (`tests/determinism.rs`).

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
/// lanes (camera rays and first bounces) S1 gained 15 % and B1 and M1 held their speed.
const SCALAR_TRACE_LANES: u32 = 6;

/// The pixel's radiance estimate, the mean of its samples in sample order; bit-identical to
/// `integrator::pixel`. `sampler` and `stack` are scratch space, reused across pixels.
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
    sampler.set_pixel(scene.seed, x, y);
    for first in (0..scene.spp).step_by(W) {
        let count = (scene.spp - first).min(W as u32) as usize;
        for l in &batch(scene, sampler, x, y, first, count, stack)[..count] {
            mean.add(*l);
        }
    }
    mean.get()
}

/// The radiance of samples `first..first + count` of pixel (`x`, `y`).
#[inline(always)]
fn batch(
    scene: &PreparedScene,
    sampler: &mut Sampler,
    x: u32,
    y: u32,
    first: u32,
    count: usize,
    stack: &mut Stack,
) -> [V3; W] {
    sampler.start_batch(first);
    let (jx, jy) = sampler.batch_2d(0);
    let mut paths = Paths::default();
    for i in 0..count {
        paths.set(i, &Path::new(scene.camera.ray(x as f32 + jx.0[i], y as f32 + jy.0[i])));
    }
    // With a constant sky that is not sampled as a light and no sun disc, an escaping path
    // just adds beta times the sky (`integrator::arrive`), which lanes do together.
    let plain_sky = match scene.env {
        Env::Constant(c) if scene.lights.escapes_unweighted() => Some(c),
        _ => None,
    };
    let mut live = (1u32 << count) - 1;
    let mut depth = 1;
    // The camera took request 0; each vertex takes the next VERTEX_REQUESTS.
    let mut r = 1;
    // Reused across vertices: only `lanes` is reset, and lanes outside it are computed on but
    // never read back, so stale values there are harmless (and clearing costs a memset).
    let mut lambertian_lanes = LambertianLanes::default();
    while live != 0 {
        lambertian_lanes.lanes = 0;
        let mut prim = [u32::MAX; W];
        let mut t = F8::default();
        if live.count_ones() > SCALAR_TRACE_LANES {
            let inf = F8::splat(f32::INFINITY);
            (prim, t) = scene.bvh.intersect8(&scene.prims, &paths.rays, M8::from_bits(live), inf, stack);
        } else {
            for i in Lanes(live) {
                let ray = paths.rays.ray(i);
                if let Some(h) = scene.bvh.intersect(&scene.prims, &ray, 0.0, f32::INFINITY, stack) {
                    (prim[i], t.0[i]) = h;
                }
            }
        }
        let mut escaped = 0u32;
        for i in Lanes(live) {
            if prim[i] == u32::MAX {
                if plain_sky.is_some() {
                    escaped |= 1 << i;
                    live &= !(1 << i);
                    continue;
                }
            } else {
                let hit = &scene.prims[prim[i] as usize];
                if let Material::Diffuse { albedo, a, b: 0.0 } = scene.materials[hit.material as usize] {
                    // `arrive` for a surface that does not emit: it ends at the depth limit.
                    if depth >= scene.max_depth {
                        live &= !(1 << i);
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
                sampler.start(first + i as u32);
                scatter(scene, &mut path, &surf, material, sampler, r, depth, stack)
            });
            paths.set(i, &path);
            if !goes_on {
                live &= !(1 << i);
            }
        }
        if let (Some(sky), true) = (plain_sky, escaped != 0) {
            let lit = paths.l + paths.beta.cmul(splat3(sky));
            paths.l = V8::select(M8::from_bits(escaped), lit, paths.l);
        }
        if lambertian_lanes.lanes != 0 {
            live &= !lambertian(scene, &mut paths, &lambertian_lanes, sampler, r, depth, stack);
        }
        depth += 1;
        r += VERTEX_REQUESTS;
    }
    let mut l = [V3::ZERO; W];
    for (i, l) in l.iter_mut().enumerate() {
        *l = paths.l.get(i);
    }
    l
}

/// The batch's paths, lane i = sample `first + i`: `integrator::Path` in lanes.
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
/// (light sampling stays one lane at a time; shadow rays are a packet). Returns the lanes whose
/// path ends.
#[inline(always)]
fn lambertian(
    scene: &PreparedScene,
    paths: &mut Paths,
    v: &LambertianLanes,
    sampler: &mut Sampler,
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
        let u_light = sampler.batch_1d(r + 3);
        let (lu, lv) = sampler.batch_2d(r + 4);
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
    let (u, vv) = sampler.batch_2d(r + 1);
    let wl = cosine_hemisphere(u, vv);
    let bsdf_pdf = wl.z * inv_pi;
    let wi = frame.to_world(wl);
    let beta = paths.beta.cmul(v.albedo);
    let mut ends = wo.z.le(zero) | beta.max_elem().le(zero);
    // The sample's eta is 1; multiplied all the same, as `scatter` does.
    let eta_scale = paths.eta_scale * one;
    let beta = if depth + 1 > crate::integrator::RR_DEPTH {
        let q = (beta.max_elem() * eta_scale * eta_scale).fmin(F8::splat(0.95));
        ends = ends | sampler.batch_1d(r + 2).ge(q);
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
