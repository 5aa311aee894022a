//! Each light type against a closed form: a white (albedo 1) Lambertian ground plane under a
//! black sky, seen straight down by an orthographic camera at depth 2, shows radiance
//! E/π where E is the irradiance the light delivers.

mod common;
use common::*;
use serde_json::{json, Value};
use std::f32::consts::PI;

const N: u32 = 32;
/// The camera sees [-2, 2]² of the plane z = 0 on N x N pixels.
const HALF: f32 = 2.0;

fn ground(lights: Value, spp: u32) -> Vec<f32> {
    let mut s = scene(
        N,
        N,
        spp,
        2,
        ortho([0.0, 0.0, 5.0], [0.0, 1.0, 0.0], 2.0 * HALF),
        constant([0.0, 0.0, 0.0]),
        json!({"white": {"type": "diffuse", "albedo": [1, 1, 1]}}),
        json!([{"type": "quad", "center": [0, 0, 0], "half_size": [50, 50], "material": "white"}]),
    );
    s["lights"] = lights;
    render(&prepare(s))
}

/// World (x, y) of the centre of pixel (px, py).
fn world(px: u32, py: u32) -> (f32, f32) {
    let k = 2.0 * HALF / N as f32;
    (-HALF + (px as f32 + 0.5) * k, HALF - (py as f32 + 0.5) * k)
}

/// The box-filtered value of `f(x, y)` over pixel (px, py): the mean over a 16x16 grid.
fn pixel_mean(px: u32, py: u32, f: impl Fn(f32, f32) -> f32) -> f32 {
    let k = 2.0 * HALF / N as f32;
    let (x0, y0) = (-HALF + px as f32 * k, HALF - (py + 1) as f32 * k);
    let mut sum = 0.0f64;
    for i in 0..16 {
        for j in 0..16 {
            sum += f64::from(f(x0 + (i as f32 + 0.5) / 16.0 * k, y0 + (j as f32 + 0.5) / 16.0 * k));
        }
    }
    (sum / 256.0) as f32
}

/// A point light of intensity I at height h: E = I·cosθ/r² = I·h/r³. The pixel value estimates
/// the box-filtered average over the pixel from jittered (Sobol) positions; against the
/// exact average that QMC estimate of a smooth function is good to ~1e-4, so 1e-3 relative.
#[test]
fn point_light_inverse_square_cosine() {
    let (h, i) = (1.5f32, [3.0f32, 2.0, 1.0]);
    let img = ground(json!([{"type": "point", "position": [0.3, -0.2, h], "intensity": i}]), 64);
    for py in 0..N {
        for px_ in 0..N {
            let e = pixel_mean(px_, py, |x, y| {
                let r2 = (x - 0.3).powi(2) + (y + 0.2).powi(2) + h * h;
                h / (r2 * r2.sqrt())
            });
            let got = px(&img, N, px_, py);
            for c in 0..3 {
                let want = i[c] * e / PI;
                assert!((got[c] / want - 1.0).abs() < 1e-3, "({px_},{py}) ch {c}: {} vs {want}", got[c]);
            }
        }
    }
}

/// A spot pointing straight down with a 40° cone and falloff from 25°: full intensity inside
/// 25°, nothing outside 40°, pbrt's smoothstep in between. Pixels whose footprint straddles a
/// boundary are skipped; the rest must match the pixel's exact box average to 1e-3 relative (as
/// the point light), 2e-3 of the unshadowed value in the falloff, where the smoothstep varies
/// fastest.
#[test]
fn spot_light_cone_and_falloff() {
    let (h, i) = (1.0f32, 4.0f32);
    let (cone, fall) = (40.0f32, 25.0f32);
    let img = ground(
        json!([{"type": "spot", "position": [0, 0, h], "direction": [0, 0, -1], "intensity": [i, i, i],
                "cone_deg": cone, "falloff_deg": fall}]),
        64,
    );
    let k = 2.0 * HALF / N as f32;
    let (cos_total, cos_fall) = (cone.to_radians().cos(), fall.to_radians().cos());
    let (mut inside, mut outside, mut edge) = (0, 0, 0);
    for py in 0..N {
        for px_ in 0..N {
            let (x, y) = world(px_, py);
            let angle = |x: f32, y: f32| (x * x + y * y).sqrt().atan2(h).to_degrees();
            let corners: Vec<f32> = [(-0.5, -0.5), (0.5, -0.5), (-0.5, 0.5), (0.5, 0.5)]
                .iter()
                .map(|(a, b)| angle(x + a * k, y + b * k))
                .collect();
            let (lo, hi) = (
                corners.iter().cloned().fold(f32::MAX, f32::min),
                corners.iter().cloned().fold(0.0, f32::max),
            );
            let lo = if x.abs() < k && y.abs() < k { 0.0 } else { lo };
            let got = px(&img, N, px_, py)[1];
            let r2 = x * x + y * y + h * h;
            let e = i * h / (r2 * r2.sqrt());
            if hi < fall {
                let e = pixel_mean(px_, py, |x, y| {
                    let r2 = x * x + y * y + h * h;
                    i * h / (r2 * r2.sqrt())
                });
                inside += 1;
                assert!((got / (e / PI) - 1.0).abs() < 1e-3, "({px_},{py}) inside: {got} vs {}", e / PI);
            } else if lo > cone {
                outside += 1;
                assert_eq!(got, 0.0, "({px_},{py}) outside the cone");
            } else if lo > fall && hi < cone {
                edge += 1;
                let want = pixel_mean(px_, py, |x, y| {
                    let r2 = x * x + y * y + h * h;
                    let cos = h / r2.sqrt();
                    let t = ((cos - cos_total) / (cos_fall - cos_total)).clamp(0.0, 1.0);
                    i * h / (r2 * r2.sqrt()) * t * t * (3.0 - 2.0 * t) / PI
                });
                assert!((got - want).abs() < 2e-3 * e / PI, "({px_},{py}) falloff: {got} vs {want}");
            }
        }
    }
    assert!(inside > 20 && outside > 100 && edge > 10, "{inside} {outside} {edge}");
}

/// A delta sun at 60° from the zenith: E·cos 60° everywhere, exactly (no randomness reaches it).
#[test]
fn delta_sun_gives_e_cos_theta() {
    let t = 60f32.to_radians();
    let img =
        ground(json!([{"type": "sun", "direction": [-t.sin(), 0, -t.cos()], "irradiance": [2, 4, 6]}]), 4);
    for (k, v) in img.iter().enumerate() {
        let want = [2.0f32, 4.0, 6.0][k % 3] * t.cos() / PI;
        assert!((v / want - 1.0).abs() < 1e-5, "value {k}: {v} vs {want}");
    }
}

/// A sun disc (angular radius 10°) fully above the horizon gives exactly E·cosθ on a plane
/// (the projected solid angle of a cap is π·sin²α·cosθ). The disc is reached both by light
/// sampling and by BSDF samples escaping into it, combined by MIS, so this also checks those
/// weights sum to one. Tolerance: image mean within 0.5 % (MIS noise over 1024 px x 64 spp is
/// about 0.05 %), every pixel within 5 %.
#[test]
fn sun_disc_gives_e_cos_theta_through_mis() {
    let t = 30f32.to_radians();
    let img = ground(
        json!([{"type": "sun", "direction": [0, -t.sin(), -t.cos()], "irradiance": [1, 1, 1], "angular_radius_deg": 10}]),
        64,
    );
    let want = t.cos() / PI;
    let mean = img.iter().map(|&v| f64::from(v)).sum::<f64>() / img.len() as f64;
    assert!((mean / f64::from(want) - 1.0).abs() < 5e-3, "mean {mean} vs {want}");
    for v in &img {
        assert!((v / want - 1.0).abs() < 0.05, "{v} vs {want}");
    }
}

/// Light selection among several lights stays unbiased: two point lights and a delta sun
/// together give the sum of what each gives alone (image means within 1 %; each pixel picks
/// one light per sample, so the mixture is noisy where the lights differ).
#[test]
fn several_lights_add_up() {
    let a = json!({"type": "point", "position": [1, 0, 1], "intensity": [2, 2, 2]});
    let b = json!({"type": "point", "position": [-1, 0.5, 2], "intensity": [5, 5, 5]});
    let c = json!({"type": "sun", "direction": [0, 0, -1], "irradiance": [0.5, 0.5, 0.5]});
    let mean = |img: &[f32]| img.iter().map(|&v| f64::from(v)).sum::<f64>() / img.len() as f64;
    let sum: f64 = [&a, &b, &c].iter().map(|l| mean(&ground(json!([l]), 4))).sum();
    let all = mean(&ground(json!([a, b, c]), 64));
    assert!((all / sum - 1.0).abs() < 0.01, "all lights {all} vs sum {sum}");
}

/// MIS is unbiased for every BSDF: a box emitter is found by BSDF sampling alone (boxes are not
/// light-sampled), while the same box as 12 emitting triangles is light-sampled and combined
/// with BSDF sampling by the power heuristic. Over a floor of each material the two images must
/// agree: image means within 0.5 % (measured differences were at most 0.2 %; the BSDF-only
/// image's mean has about 0.1 % noise at 256 spp here). Dropping the MIS weight on either side
/// double-counts the lamp's light and moves the mean by tens of percent.
#[test]
fn light_sampling_and_bsdf_sampling_agree_for_every_material() {
    let floors = [
        json!({"type": "diffuse", "albedo": [0.8, 0.8, 0.8], "roughness": 0.7}),
        json!({"type": "conductor", "albedo": [0.9, 0.9, 0.9], "roughness": 0.3}),
        json!({"type": "conductor", "albedo": [0.9, 0.9, 0.9], "roughness": 0.15, "distribution": "beckmann"}),
        json!({"type": "dielectric", "ior": 1.5, "roughness": 0.3}),
        json!({"type": "glossy", "albedo": [0.5, 0.6, 0.7], "ior": 1.5, "roughness": 0.2}),
        json!({"type": "glossy", "albedo": [0.5, 0.6, 0.7], "ior": 1.5, "roughness": 0.2, "distribution": "sharp"}),
    ];
    let (lo, hi) = ([-0.6f32, -0.4, 1.2], [0.4f32, 0.6, 1.8]);
    let corners: Vec<[f32; 3]> = (0..8)
        .map(|i| {
            [
                if i & 1 == 0 { lo[0] } else { hi[0] },
                if i & 2 == 0 { lo[1] } else { hi[1] },
                if i & 4 == 0 { lo[2] } else { hi[2] },
            ]
        })
        .collect();
    let faces = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]];
    let tris: Vec<[u32; 3]> = faces.iter().flat_map(|f| [[f[0], f[1], f[2]], [f[0], f[2], f[3]]]).collect();
    let box_light = json!({"type": "box", "min": lo, "max": hi, "material": "lamp"});
    let mesh_light = json!({"type": "mesh", "positions": corners, "indices": tris, "material": "lamp"});
    for floor in floors {
        let mean_of = |light: &Value| {
            let img = render(&prepare(scene(
                24,
                24,
                256,
                3,
                json!({"type": "perspective", "eye": [0, -3, 2.5], "target": [0, 0, 0], "up": [0, 0, 1], "vfov_deg": 40}),
                constant([0.0, 0.0, 0.0]),
                json!({"floor": floor, "lamp": {"type": "emitter", "radiance": [4, 4, 4]}}),
                json!([{"type": "quad", "center": [0, 0, 0], "half_size": [3, 3], "material": "floor"}, light]),
            )));
            // The lamp's own pixels are the same in both and only dilute the difference a little.
            img.iter().map(|&v| f64::from(v)).sum::<f64>() / img.len() as f64
        };
        let (b, m) = (mean_of(&box_light), mean_of(&mesh_light));
        eprintln!("{floor}: bsdf-only {b:.5}, nee+mis {m:.5}");
        assert!((b / m - 1.0).abs() < 0.005, "{floor}: BSDF sampling {b} vs light sampling + MIS {m}");
    }
}

/// A Lambertian plane of albedo `albedo` under environment `env`, seen straight down at depth 2
/// (one bounce), with no other light: the image of [`ground`] without its lights. `env_light`
/// makes next-event estimation sample the environment.
fn plane_under(env: Value, albedo: [f32; 3], spp: u32, env_light: bool) -> Vec<f32> {
    render(
        &prepare(scene(
            N,
            N,
            spp,
            2,
            ortho([0.0, 0.0, 5.0], [0.0, 1.0, 0.0], 2.0 * HALF),
            env,
            json!({"plane": {"type": "diffuse", "albedo": albedo}}),
            json!([{"type": "quad", "center": [0, 0, 0], "half_size": [50, 50], "material": "plane"}]),
        ))
        .with_env_light(env_light),
    )
}

/// `render.sample_environment` in the scene is the switch `with_env_light` flips: on, the image
/// is the light-sampled one bit for bit; off or unset, the default one (which differs).
#[test]
fn scene_switch_samples_the_environment() {
    let sky = json!({"type": "gradient", "zenith": [6, 4, 2], "horizon": [0.1, 0.2, 0.3]});
    let with = |switch: Option<bool>| {
        let mut s = scene(
            N,
            N,
            4,
            2,
            ortho([0.0, 0.0, 5.0], [0.0, 1.0, 0.0], 2.0 * HALF),
            sky.clone(),
            json!({"plane": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5]}}),
            json!([{"type": "quad", "center": [0, 0, 0], "half_size": [50, 50], "material": "plane"}]),
        );
        if let Some(on) = switch {
            s["render"]["sample_environment"] = json!(on);
        }
        prepare(s)
    };
    let bits = |img: Vec<f32>| img.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let default = bits(render(&with(None)));
    assert_eq!(bits(render(&with(Some(false)))), default);
    let on = bits(render(&with(Some(true))));
    assert_ne!(on, default, "sampling the sky changes the noise");
    assert_eq!(on, bits(render(&with(None).with_env_light(true))));
    assert_eq!(default, bits(render(&with(Some(true)).with_env_light(false))));
}

/// The environment as a light, against closed forms. An upward Lambertian plane of albedo a
/// reflects a·E/π. Under a constant sky L, E = πL, so the plane shows a·L. Under a gradient
/// sky L(z) = h + (zen − h)·z above the horizon, E = ∫ L(cos θ) cos θ dω = πh + 2π(zen − h)/3,
/// so the plane shows a·(h + 2(zen − h)/3) per channel. Checked with the sky reached by BSDF
/// sampling alone and with it also light-sampled: then both are combined by the power
/// heuristic, and if either side
/// dropped its MIS weight the plane would show up to twice its value, and a light-sampling
/// density that did not match the sampler would bias it. Tolerance: image mean within 0.5 %
/// (1024 px × 64 spp of one-bounce estimates; measured deviations are far below), each pixel
/// within 5 %.
#[test]
fn environment_light_on_a_plane_is_analytic() {
    let a = [0.8f32, 0.5, 0.3];
    let cases = [
        (constant([0.5, 1.0, 2.0]), [0.5f32, 1.0, 2.0]),
        (
            json!({"type": "gradient", "zenith": [0.35, 0.55, 1.0], "horizon": [1.0, 0.95, 0.9]}),
            [1.0 + 2.0 * (0.35 - 1.0) / 3.0, 0.95 + 2.0 * (0.55 - 0.95) / 3.0, 0.9 + 2.0 * (1.0 - 0.9) / 3.0],
        ),
        (
            json!({"type": "gradient", "zenith": [6, 4, 2], "horizon": [0.1, 0.2, 0.3]}),
            [0.1 + 2.0 * 5.9 / 3.0, 0.2 + 2.0 * 3.8 / 3.0, 0.3 + 2.0 * 1.7 / 3.0],
        ),
    ];
    for (env, e_over_pi) in cases {
        for env_light in [false, true] {
            let img = plane_under(env.clone(), a, 64, env_light);
            for c in 0..3 {
                let want = a[c] * e_over_pi[c];
                let mean =
                    img.iter().skip(c).step_by(3).map(|&v| f64::from(v)).sum::<f64>() / f64::from(N * N);
                let what = format!("{env} light-sampled {env_light} ch {c}");
                eprintln!("{what}: mean {mean:.5} want {want:.5}");
                assert!((mean / f64::from(want) - 1.0).abs() < 5e-3, "{what}: mean {mean} vs {want}");
                for v in img.iter().skip(c).step_by(3) {
                    assert!((v / want - 1.0).abs() < 0.05, "{what}: pixel {v} vs {want}");
                }
            }
        }
    }
}
