//! Unidirectional path tracing with next-event estimation, multiple importance sampling and
//! Russian roulette; one pixel at a time, samples in order.

use crate::bvh::Stack;
use crate::lights::NONE;
use crate::material::Material;
use crate::math::{Ray, V3};
use crate::sampler::Sampler;
use crate::PreparedScene;

/// Russian roulette starts once a path has this many segments (Mitsuba's default `rr_depth`).
const RR_DEPTH: u32 = 5;

/// The pixel's radiance estimate: the mean of its samples, summed in sample order. Samples that
/// come out non-finite are dropped (and excluded from the mean) so one cannot poison a tile.
// Always inlined: `isa` compiles the whole pixel loop once per instruction-set level.
#[inline(always)]
pub(crate) fn pixel(scene: &PreparedScene, x: u32, y: u32) -> [f32; 3] {
    let mut sum = [0.0f64; 3];
    let mut n = 0u32;
    let mut stack = Stack::new();
    // One sampler for the pixel: the hashes that do not depend on the sample index are
    // computed once, not per sample.
    let mut sampler = Sampler::for_pixel(scene.seed, x, y);
    for s in 0..scene.spp {
        sampler.start(s);
        let (jx, jy) = sampler.next_2d();
        let ray = scene.camera.ray(x as f32 + jx, y as f32 + jy);
        let l = radiance(scene, ray, &mut sampler, &mut stack);
        if l.is_finite() {
            sum[0] += f64::from(l.x);
            sum[1] += f64::from(l.y);
            sum[2] += f64::from(l.z);
            n += 1;
        }
    }
    if n == 0 {
        return [0.0; 3];
    }
    let inv = 1.0 / f64::from(n);
    [(sum[0] * inv) as f32, (sum[1] * inv) as f32, (sum[2] * inv) as f32]
}

/// Offset that lifts a spawned ray off the surface it leaves, scaled with the coordinates
/// because f32 hit points carry error relative to their magnitude.
#[inline(always)]
fn offset(p: V3) -> f32 {
    1e-4 * p.max_abs().max(1.0)
}

/// Power heuristic (beta = 2) weight of a strategy with density `a` against one with `b`.
#[inline(always)]
fn power_heuristic(a: f32, b: f32) -> f32 {
    let (a2, b2) = (a * a, b * b);
    if a2 + b2 > 0.0 {
        a2 / (a2 + b2)
    } else {
        0.0
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
pub(crate) fn radiance(scene: &PreparedScene, mut ray: Ray, sampler: &mut Sampler, stack: &mut Stack) -> V3 {
    let mut l = V3::ZERO;
    let mut beta = V3::ONE;
    let mut eta_scale = 1.0f32;
    let mut depth = 1;
    // Solid-angle density of the BSDF sample that produced `ray`, if light sampling competed
    // with it there (None: an emitter hit gets full weight).
    let mut mis_bsdf_pdf: Option<f32> = None;
    loop {
        let Some((prim_ix, t)) = scene.bvh.intersect(&scene.prims, &ray, 0.0, f32::INFINITY, stack) else {
            let mut le = scene.env.radiance(ray.d);
            if let Some(b) = mis_bsdf_pdf {
                let env_pdf = scene.lights.env_pdf(ray.d);
                if env_pdf > 0.0 {
                    le *= power_heuristic(b, env_pdf);
                }
            }
            for (radiance, light_pdf) in scene.lights.sun_discs(ray.d) {
                let w = mis_bsdf_pdf.map_or(1.0, |b| power_heuristic(b, light_pdf));
                le += radiance * w;
            }
            l += beta.cmul(le);
            break;
        };
        let prim = &scene.prims[prim_ix as usize];
        let surf = prim.surface(&ray, t);
        let material = &scene.materials[prim.material as usize];
        if let Material::Emitter { radiance } = *material {
            // Closed emitters shine from their outside only (as Mitsuba's area lights do).
            if !surf.closed || ray.d.dot(surf.n) < 0.0 {
                let li = scene.lights.of_prim(prim_ix);
                let w = match mis_bsdf_pdf {
                    Some(bsdf_pdf) if li != NONE => {
                        power_heuristic(bsdf_pdf, scene.lights.pdf(&scene.prims, li, &ray, t))
                    }
                    _ => 1.0,
                };
                l += beta.cmul(radiance) * w;
            }
            break;
        }
        if depth >= scene.max_depth {
            break;
        }
        // Every vertex reserves the same five requests (lobe, direction, roulette, light choice,
        // light position), so streams stay aligned across paths, and reads only those it
        // needs: an unread request costs nothing.
        let r = sampler.skip(5);
        if !material.is_delta() && !scene.lights.is_empty() {
            let u_light = sampler.at_1d(r + 3);
            let (lu, lv) = sampler.at_2d(r + 4);
            l += beta.cmul(direct(scene, material, &ray, surf.p, surf.n, u_light, lu, lv, stack));
        }
        let u_lobe = if material.has_lobe_choice() { sampler.at_1d(r) } else { 0.0 };
        let (u, v) = if material.has_direction_choice() { sampler.at_2d(r + 1) } else { (0.0, 0.0) };
        let Some(sc) = material.sample(ray.d, surf.n, u_lobe, u, v) else {
            break;
        };
        mis_bsdf_pdf = if sc.delta { None } else { Some(sc.pdf) };
        beta = beta.cmul(sc.weight);
        if beta.max_elem() <= 0.0 {
            break;
        }
        eta_scale *= sc.eta;
        depth += 1;
        if depth > RR_DEPTH {
            // Survival follows throughput with the eta^2 compression undone, so paths inside
            // glass are not killed for a loss they will regain on the way out. Dividing by the
            // survival probability keeps the estimate unbiased.
            let q = (beta.max_elem() * eta_scale * eta_scale).min(0.95);
            if sampler.at_1d(r + 2) >= q {
                break;
            }
            beta = beta / q;
        }
        let side = if sc.wi.dot(surf.n) >= 0.0 { surf.n } else { -surf.n };
        ray = Ray::new(surf.p + side * offset(surf.p), sc.wi);
    }
    l
}

/// Light-sampling estimate of the light arriving at `p` (normal `n`) and scattered along
/// `-ray.d`, weighted against BSDF sampling.
// One argument per piece of the shading point; a struct would only be unpacked again.
// Always inlined, so it is compiled with the pixel loop for each instruction-set level: left
// to LLVM it stayed out of line as baseline code (S2: 6 % more instructions, 2 % slower).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn direct(
    scene: &PreparedScene,
    material: &Material,
    ray: &Ray,
    p: V3,
    n: V3,
    u_light: f32,
    lu: f32,
    lv: f32,
    stack: &mut Stack,
) -> V3 {
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
    let side = if ls.wi.dot(n) >= 0.0 { n } else { -n };
    let shadow = Ray::new(p + side * off, ls.wi);
    let visible = if ls.prim != NONE {
        scene
            .bvh
            .intersect(&scene.prims, &shadow, 0.0, f32::INFINITY, stack)
            .is_some_and(|(hit, _)| hit == ls.prim)
    } else {
        // Stop just short of a point light so a surface right at it does not shadow itself.
        let t_max = if ls.dist.is_finite() { ls.dist * (1.0 - 1e-4) } else { f32::INFINITY };
        // Any hit will do: `occluded` stops at the first (exactly `intersect(..).is_none()`).
        !scene.bvh.occluded(&scene.prims, &shadow, 0.0, t_max, stack)
    };
    if !visible {
        return V3::ZERO;
    }
    let w = if ls.delta { 1.0 } else { power_heuristic(ls.pdf, bsdf_pdf) };
    f.cmul(ls.radiance) * (w / ls.pdf)
}
