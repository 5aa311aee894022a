//! The path tracer of `integrator.rs` run on up to 64 samples of a pixel in lockstep, one path
//! per SIMD lane, `N` lanes to a group: eight in the baseline and AVX2 copies of the pixel
//! loop, sixteen in the AVX-512 one (`isa.rs`).
//!
//! All live paths are at the same vertex depth, so they read the same request numbers, which
//! the sampler computes for a group's samples at once. Path state stays in lanes (`Paths`).
//! Each vertex, a group's live lanes trace their rays (as one packet query, `packet.rs`, when
//! more than three quarters are live); lanes that escape under a plain constant sky add it
//! together, and lanes on a Lambertian surface, the bulk of most scenes, scatter together in
//! `lambertian`, sampling lights a group at a time (`Lights::sample_lanes`). Every other lane
//! (emitter hits, other skies and materials) takes `integrator::arrive` and
//! `integrator::scatter` alone. After each vertex the paths still going are packed into the
//! first groups, so groups stay full as paths end. Every lane performs the f32 operations of
//! the scalar path in the same order, so the image is bit-identical to `integrator::pixel`'s,
//! which stays the oracle (`tests/determinism.rs`).

use crate::bvh::{PacketStack, Stack};
use crate::env::Env;
use crate::geometry::Surface;
use crate::integrator::{
    arrive, leave, offset, power_heuristic, scatter, shadow_t_max, Mean, Path, SKIP_COS, VERTEX_REQUESTS,
};
use crate::lane::{splat3, Lanes, F, M, U, V, W};
use crate::lights::NONE;
use crate::material::{cosine_hemisphere, Material};
use crate::math::{Frame, Real, V3};
use crate::packet::Rays;
use crate::sampler::Sampler;
use crate::PreparedScene;
use std::f32::consts::FRAC_1_PI;

/// Up to this many of a group's `n` live lanes trace one ray at a time rather than as a
/// packet, which does the work of all `n` whatever the number of live lanes: 6 of 8. Measured
/// at eight lanes (1 thread, median of 5 interleaved): packets for 3 or more lanes made B1 13 %
/// and M1 15 % slower than none at all; for 7 or 8 lanes (camera rays and first bounces) S1
/// gained 15 % and B1 and M1 held their speed. With groups packed after each vertex, full
/// groups at every depth trace as packets; keeping packets to camera rays instead was 6-10 %
/// slower on S1, S2 and B1.
const fn scalar_trace_lanes(n: usize) -> u32 {
    (n - n / 4) as u32
}

/// A pixel's samples are traced this many at a time: eight groups of eight lanes, or four of
/// sixteen.
const CHUNK: usize = 64;

/// Groups in a chunk at the narrowest width.
const GROUPS: usize = CHUNK / W;

/// The wide integrator's working memory, reused across pixels (`isa` keeps one per row
/// segment, beside the sampler and the traversal stack): building it per pixel costs memset
/// and memcpy calls. What a pixel leaves in it is never read by the next: every lane is
/// written before it is live, and lanes that are not live are computed on (a group at a time)
/// but never kept.
pub(crate) struct Scratch<const N: usize> {
    /// The first `CHUNK / N` are used.
    groups: [Group<N>; GROUPS],
    lambertian: LambertianLanes<N>,
    /// Each sample's radiance, by sample index within the chunk.
    l: [V3; CHUNK],
}

impl<const N: usize> Default for Scratch<N> {
    fn default() -> Scratch<N> {
        Scratch { groups: Default::default(), lambertian: LambertianLanes::default(), l: [V3::ZERO; CHUNK] }
    }
}

/// The pixel's radiance estimate, the mean of its samples in sample order; bit-identical to
/// `integrator::pixel`. `sampler`, `stack` and `scratch` are scratch space, reused across
/// pixels.
// Always inlined: `isa` compiles the whole pixel loop once per instruction-set level.
#[inline(always)]
pub(crate) fn pixel<const N: usize>(
    scene: &PreparedScene,
    x: u32,
    y: u32,
    sampler: &mut Sampler,
    stack: &mut Stack,
    scratch: &mut Scratch<N>,
) -> [f32; 3]
where
    Stack: PacketStack<N>,
{
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

/// `N` paths in lanes, each with the sample it belongs to.
struct Group<const N: usize> {
    paths: Paths<N>,
    /// Sample index and `Sampler::sample_hash` of each lane.
    sample: [u32; N],
    hash: [u64; N],
    live: u32,
}

impl<const N: usize> Default for Group<N> {
    fn default() -> Group<N> {
        Group { paths: Paths::default(), sample: [0; N], hash: [0; N], live: 0 }
    }
}

/// Writes into `scratch.l[s - first]` the radiance of samples `first..first + count` of pixel
/// (`x`, `y`). The paths advance one vertex at a time together; after each vertex the live
/// ones are packed into the first lanes of the first groups, so lanes stay full while paths end
/// at different depths.
// One argument per piece of the chunk; a struct would only be unpacked again.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn chunk<const N: usize>(
    scene: &PreparedScene,
    sampler: &mut Sampler,
    x: u32,
    y: u32,
    first: u32,
    count: usize,
    stack: &mut Stack,
    scratch: &mut Scratch<N>,
) where
    Stack: PacketStack<N>,
{
    let Scratch { groups, lambertian: lambertian_lanes, l: out } = scratch;
    let mut n = count.div_ceil(N);
    for (k, g) in groups[..n].iter_mut().enumerate() {
        let lanes = (count - k * N).min(N);
        g.sample = std::array::from_fn(|i| first + (k * N + i.min(lanes - 1)) as u32);
        for (h, &s) in g.hash.iter_mut().zip(&g.sample) {
            *h = sampler.sample_hash(s);
        }
        let (jx, jy) = sampler.lanes_2d(0, &g.sample, &g.hash);
        // `Path::new(camera.ray(..))` in every lane.
        let (o, d) = scene.camera.origin_dir(F::splat(x as f32) + jx, F::splat(y as f32) + jy);
        let one = F::splat(1.0);
        g.paths = Paths {
            rays: Rays::new(o, d),
            beta: V::new(one, one, one),
            eta_scale: one,
            ..Default::default()
        };
        g.live = (1u32 << lanes) - 1;
    }
    // The camera took request 0; each vertex takes the next VERTEX_REQUESTS.
    let (mut depth, mut r) = (1, 1);
    while n > 0 {
        let mut was = [0u32; GROUPS];
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
                let (dk, di) = (slot / N, slot % N);
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
        n = slot.div_ceil(N);
        for (k, g) in groups[..n].iter_mut().enumerate() {
            g.live = if (k + 1) * N <= slot { (1 << N) - 1 } else { (1 << (slot - k * N)) - 1 };
        }
        depth += 1;
        r += VERTEX_REQUESTS;
    }
}

/// Advances the live paths of `g` by one vertex (depth `depth`, requests from `r`): traces
/// their rays and scatters or ends each; clears the `live` bits of the paths that end.
#[inline(always)]
fn vertex<const N: usize>(
    scene: &PreparedScene,
    g: &mut Group<N>,
    sampler: &mut Sampler,
    depth: u32,
    r: u32,
    stack: &mut Stack,
    lambertian_lanes: &mut LambertianLanes<N>,
) where
    Stack: PacketStack<N>,
{
    // With a constant sky that is not sampled as a light and no sun disc, an escaping path
    // just adds beta times the sky (`integrator::arrive`), which lanes do together.
    let plain_sky = match scene.env {
        Env::Constant(c) if scene.lights.escapes_unweighted() => Some(c),
        _ => None,
    };
    let paths = &mut g.paths;
    lambertian_lanes.lanes = 0;
    let mut prim = [u32::MAX; N];
    let mut t = F::default();
    if g.live.count_ones() > scalar_trace_lanes(N) {
        let inf = F::splat(f32::INFINITY);
        (prim, t) = scene.bvh.intersect_packet(&scene.prims, &paths.rays, M::from_bits(g.live), inf, stack);
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
        paths.l = V::select(M::from_bits(escaped), lit, paths.l);
    }
    if lambertian_lanes.lanes != 0 {
        let draw = Draw { sampler, samples: &g.sample, hashes: &g.hash };
        g.live &= !lambertian(scene, paths, lambertian_lanes, draw, r, depth, stack);
    }
}

/// The sampler with the samples of a group's lanes, for reading a request for all of them.
struct Draw<'a, const N: usize> {
    sampler: &'a mut Sampler,
    samples: &'a [u32; N],
    hashes: &'a [u64; N],
}

impl<const N: usize> Draw<'_, N> {
    #[inline(always)]
    fn d1(&mut self, r: u32) -> F<N> {
        self.sampler.lanes_1d(r, self.samples, self.hashes)
    }
    #[inline(always)]
    fn d2(&mut self, r: u32) -> (F<N>, F<N>) {
        self.sampler.lanes_2d(r, self.samples, self.hashes)
    }
}

/// `N` paths: `integrator::Path` in lanes.
#[derive(Default)]
struct Paths<const N: usize> {
    rays: Rays<N>,
    l: V<N>,
    beta: V<N>,
    eta_scale: F<N>,
    /// `Path::mis_bsdf_pdf`: the density in lanes whose bit is set in `mis`, None elsewhere.
    mis_pdf: F<N>,
    mis: u32,
}

impl<const N: usize> Paths<N> {
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
struct LambertianLanes<const N: usize> {
    /// Which lanes are here.
    lanes: u32,
    /// Hit point, geometric normal, ray offset there.
    p: V<N>,
    n: V<N>,
    off: F<N>,
    albedo: V<N>,
    /// Oren–Nayar's A, which is 1 for a Lambertian surface but multiplied all the same,
    /// as `Material::eval_local` does.
    a: F<N>,
    /// `Surface::shape`.
    shape: U<N>,
}

impl<const N: usize> LambertianLanes<N> {
    #[inline(always)]
    fn push(&mut self, i: usize, surf: &Surface, albedo: V3, a: f32) {
        self.lanes |= 1 << i;
        self.p.set(i, surf.p);
        self.n.set(i, surf.n);
        self.off.0[i] = offset(surf.p);
        self.albedo.set(i, albedo);
        self.a.0[i] = a;
        self.shape.0[i] = surf.shape;
    }
}

/// `integrator::scatter` for the lanes of `v`, all on Lambertian surfaces, a group at a time
/// (shadow rays are a packet). Returns the lanes whose path ends.
#[inline(always)]
fn lambertian<const N: usize>(
    scene: &PreparedScene,
    paths: &mut Paths<N>,
    v: &LambertianLanes<N>,
    mut draw: Draw<N>,
    r: u32,
    depth: u32,
    stack: &mut Stack,
) -> u32
where
    Stack: PacketStack<N>,
{
    let (zero, one) = (F::splat(0.0), F::splat(1.0));
    let inv_pi = F::splat(FRAC_1_PI);
    // `Material::frame`: the normal flipped to the side the ray arrived from. The light is
    // picked from that same side (`integrator::direct`'s `nf`).
    let d = paths.rays.d;
    let nf = V::select(d.dot(v.n).le(zero), v.n, -v.n);
    let frame = Frame::new(nf);
    let wo = frame.to_local(-d);
    let here = M::from_bits(v.lanes);
    if !scene.lights.is_empty() {
        let u_light = draw.d1(r + 3);
        let (lu, lv) = draw.d2(r + 4);
        // `integrator::direct`: a light sample per lane, from the side the ray arrived on.
        let o = v.p + nf * v.off;
        let ls = scene.lights.sample_lanes(&scene.prims, &scene.materials, o, u_light, lu, lv, v.lanes);
        // `Material::eval_local`, Lambertian case.
        let wl = frame.to_local(ls.wi);
        let lit = !(wo.z.le(zero) | wl.z.le(zero));
        let f = V::select(lit, v.albedo * (v.a * inv_pi * wl.z), V::default());
        let bsdf_pdf = F::select(lit, wl.z * inv_pi, zero);
        // `integrator::unoccluded` for the lanes whose light sample can contribute: one packet
        // query for lights that are primitives (is the first hit that primitive?) and one for
        // the others (is anything in the way?).
        let shadowed = ls.lanes & !f.max_elem().le(zero).bits();
        let rays =
            Rays { skip: skip(&v.shape, v.n, ls.wi), ..Rays::new(leave(v.p, v.n, v.off, ls.wi), ls.wi) };
        let (mut to_prim, mut t_max) = (0u32, F::splat(f32::INFINITY));
        for i in Lanes(shadowed) {
            if ls.prim[i] != NONE {
                to_prim |= 1 << i;
            } else {
                t_max.0[i] = shadow_t_max(ls.dist.0[i]);
            }
        }
        let mut visible = 0u32;
        if to_prim != 0 {
            let inf = F::splat(f32::INFINITY);
            let (hit, _) = scene.bvh.intersect_packet(&scene.prims, &rays, M::from_bits(to_prim), inf, stack);
            for i in Lanes(to_prim) {
                visible |= u32::from(hit[i] == ls.prim[i]) << i;
            }
        }
        let to_any = shadowed & !to_prim;
        if to_any != 0 {
            visible |= to_any
                & !scene.bvh.occluded_packet(&scene.prims, &rays, M::from_bits(to_any), t_max, stack).bits();
        }
        // Lanes without a visible sample compute garbage (their density is 0) that is not kept.
        let w = F::select(ls.delta, one, power_heuristic(ls.pdf, bsdf_pdf));
        let e = f.cmul(ls.radiance) * (w / ls.pdf);
        let lit = paths.l + paths.beta.cmul(V::select(M::from_bits(visible), e, V::default()));
        paths.l = V::select(here, lit, paths.l);
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
        let q = (beta.max_elem() * eta_scale * eta_scale).fmin(F::splat(0.95));
        ends = ends | draw.d1(r + 2).ge(q);
        beta / q
    } else {
        beta
    };
    let next = Rays { skip: skip(&v.shape, v.n, wi), ..Rays::new(leave(v.p, v.n, v.off, wi), wi) };
    let goes_on = here & !ends;
    paths.rays = Rays {
        o: V::select(goes_on, next.o, paths.rays.o),
        d: V::select(goes_on, next.d, paths.rays.d),
        inv_d: V::select(goes_on, next.inv_d, paths.rays.inv_d),
        skip: U(std::array::from_fn(
            |k| if goes_on.0[k] != 0 { next.skip.0[k] } else { paths.rays.skip.0[k] },
        )),
    };
    paths.beta = V::select(goes_on, beta, paths.beta);
    paths.eta_scale = F::select(goes_on, eta_scale, paths.eta_scale);
    paths.mis_pdf = F::select(goes_on, bsdf_pdf, paths.mis_pdf);
    paths.mis |= goes_on.bits();
    ends.bits() & v.lanes
}

/// `integrator::skip` per lane.
#[inline(always)]
fn skip<const N: usize>(shape: &U<N>, n: V<N>, dir: V<N>) -> U<N> {
    let side = dir.dot(n).ge(F::splat(SKIP_COS));
    // A lane flag is all ones or all zeros.
    U(std::array::from_fn(|k| shape.0[k] & side.0[k]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::integrator;
    use std::path::Path;

    /// A scene file (JSON text, its directory for relative paths) at 12 x 8 pixels and `spp`
    /// samples.
    fn small(json: &str, dir: &Path, spp: u32) -> PreparedScene {
        let mut v: serde_json::Value = serde_json::from_str(json).expect("scene is JSON");
        v["render"]["width"] = 12.into();
        v["render"]["height"] = 8.into();
        v["render"]["spp"] = spp.into();
        let scene = tessera_types::scene::Scene::from_json_value(v).expect("scene parses");
        PreparedScene::with_base_dir(&scene, dir).expect("scene prepares")
    }

    /// A scene file of the repository or of `shared/` beside it.
    fn file(path: &str, spp: u32) -> PreparedScene {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        small(&text, p.parent().expect("a directory"), spp)
    }

    /// `pixel::<N>` against the one-sample integrator, the oracle, pixel by pixel.
    fn matches_the_oracle<const N: usize>(name: &str, s: &PreparedScene)
    where
        Stack: PacketStack<N>,
    {
        let mut sampler = Sampler::for_pixel(s.seed, 0, 0);
        let mut stack = Stack::new();
        let mut scratch = Scratch::<N>::default();
        for y in 0..s.height() {
            for x in 0..s.width() {
                let wide = pixel::<N>(s, x, y, &mut sampler, &mut stack, &mut scratch);
                let one = integrator::pixel(s, x, y, &mut sampler, &mut stack);
                assert_eq!(
                    wide.map(f32::to_bits),
                    one.map(f32::to_bits),
                    "{name}, {N} lanes, pixel ({x}, {y})"
                );
            }
        }
    }

    /// Both group widths give the oracle's bits on any CPU (the sixteen-lane copy runs as
    /// AVX-512 code only where the CPU has it, so `tests/determinism.rs` alone would not reach
    /// it elsewhere): the scene with every material and light kind (one lane at a time), S1 and
    /// B1 (Lambertian lanes under a plain sky), S2 (Lambertian lanes sampling a lamp) and the
    /// first with convex and other meshes added (rays that skip the shape they leave). 11 and 5
    /// samples leave partial groups, 70 a second chunk.
    #[test]
    fn eight_and_sixteen_lanes_give_the_scalar_bits() {
        let every_kind = include_str!("../tests/scenes/every_kind.json");
        for spp in [5, 11, 70] {
            for (name, s) in [
                ("every kind", small(every_kind, Path::new("."), spp)),
                ("S1", file("../../../shared/scenes/S1_spheres.json", spp)),
                ("S2", file("../../../shared/scenes/S2_materials.json", spp)),
                ("B1", file("../../bench/scenes/B1_barchart.json", spp)),
                (
                    "meshes",
                    crate::convex::tests::every_kind_with(crate::convex::tests::mesh_shapes(), 12, 8, spp),
                ),
            ] {
                matches_the_oracle::<8>(name, &s);
                matches_the_oracle::<16>(name, &s);
            }
        }
    }
}
