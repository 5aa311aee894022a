//! Unidirectional path tracing with Russian roulette; one pixel at a time, samples in order.

use crate::bvh::Stack;
use crate::lights::NONE;
use crate::material::Material;
use crate::math::{Ray, V3};
use crate::sampler::Sampler;
use crate::PreparedScene;
use std::f32::consts::FRAC_1_PI;

/// Russian roulette starts once a path has this many segments (Mitsuba's default `rr_depth`).
const RR_DEPTH: u32 = 5;

/// The pixel's radiance estimate: the mean of its samples, summed in sample order. Samples that
/// come out non-finite are dropped (and excluded from the mean) so one cannot poison a tile.
#[inline]
pub(crate) fn pixel(scene: &PreparedScene, x: u32, y: u32) -> [f32; 3] {
    let mut sum = [0.0f64; 3];
    let mut n = 0u32;
    let mut stack = Stack::new();
    for s in 0..scene.spp {
        let mut sampler = Sampler::new(scene.seed, x, y, s);
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
/// At diffuse vertices the emitters are also sampled directly (next-event estimation) and both
/// strategies are combined with the power heuristic, so small bright emitters converge quickly
/// while the sum stays an unbiased estimate. Other lobes are specular or approximate and rely on
/// BSDF sampling alone (MIS weight 1 when their paths hit an emitter).
#[inline]
pub(crate) fn radiance(scene: &PreparedScene, mut ray: Ray, sampler: &mut Sampler, stack: &mut Stack) -> V3 {
    let mut l = V3::ZERO;
    let mut beta = V3::ONE;
    let mut eta_scale = 1.0f32;
    let mut depth = 1;
    // Solid-angle density of the BSDF sample that produced `ray`, if light sampling competed
    // with it there (None: the emitter hit gets full weight).
    let mut mis_bsdf_pdf: Option<f32> = None;
    loop {
        let Some((prim_ix, t)) = scene.bvh.intersect(&scene.prims, &ray, 0.0, f32::INFINITY, stack) else {
            l += beta.cmul(scene.env.radiance(ray.d));
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
        // Fixed dimension use per bounce keeps sample streams aligned across paths.
        let u_lobe = sampler.next_1d();
        let (u, v) = sampler.next_2d();
        let u_rr = sampler.next_1d();
        let u_light = sampler.next_1d();
        let (lu, lv) = sampler.next_2d();
        mis_bsdf_pdf = None;
        if let Material::Diffuse { albedo } = *material {
            if !scene.lights.is_empty() {
                let nf = if ray.d.dot(surf.n) <= 0.0 { surf.n } else { -surf.n };
                let o = surf.p + nf * offset(surf.p);
                if let Some(ls) = scene.lights.sample(&scene.prims, &scene.materials, o, u_light, lu, lv) {
                    let cos = ls.wi.dot(nf);
                    if cos > 0.0 && ls.pdf > 0.0 {
                        let shadow = Ray::new(o, ls.wi);
                        let visible = scene
                            .bvh
                            .intersect(&scene.prims, &shadow, 0.0, f32::INFINITY, stack)
                            .is_some_and(|(hit, _)| hit == ls.prim);
                        if visible {
                            let bsdf_pdf = cos * FRAC_1_PI;
                            let w = power_heuristic(ls.pdf, bsdf_pdf);
                            l += beta.cmul(albedo).cmul(ls.radiance) * (FRAC_1_PI * cos * w / ls.pdf);
                        }
                    }
                }
            }
        }
        let Some(sc) = material.sample(ray.d, surf.n, u_lobe, u, v) else {
            break;
        };
        if matches!(material, Material::Diffuse { .. }) && !scene.lights.is_empty() {
            let nf = if ray.d.dot(surf.n) <= 0.0 { surf.n } else { -surf.n };
            mis_bsdf_pdf = Some(sc.wi.dot(nf).max(0.0) * FRAC_1_PI);
        }
        beta = beta.cmul(sc.weight);
        if beta.max_elem() <= 0.0 {
            break;
        }
        eta_scale *= sc.eta;
        depth += 1;
        if depth > RR_DEPTH {
            // Survival follows throughput with the eta^2 compression undone, so paths inside
            // glass are not killed for a loss they will regain on the way out.
            let q = (beta.max_elem() * eta_scale * eta_scale).min(0.95);
            if u_rr >= q {
                break;
            }
            beta = beta / q;
        }
        let side = if sc.wi.dot(surf.n) >= 0.0 { surf.n } else { -surf.n };
        ray = Ray::new(surf.p + side * offset(surf.p), sc.wi);
    }
    l
}
