//! Scenes whose correct image is known in closed form. Each test pins one part of the light
//! transport: energy conservation (furnaces), specular weights, depth semantics, camera
//! projection and environment lookup.

mod common;
use common::*;
use serde_json::json;

fn persp(eye: [f32; 3], target: [f32; 3], vfov: f32) -> serde_json::Value {
    json!({"type": "perspective", "eye": eye, "target": target, "up": [0, 0, 1], "vfov_deg": vfov})
}

/// White furnace: lossless (albedo 1) diffuse surfaces of every shape kind, clustered so paths
/// bounce between them, under a uniform environment of radiance 1. Radiance is then 1 everywhere,
/// whatever the geometry; a wrong weight, a biased Russian roulette or a leak shows as != 1.
#[test]
fn white_furnace_diffuse_is_one_everywhere() {
    let p = prepare(scene(
        48,
        32,
        256,
        64,
        persp([0.0, -6.0, 1.0], [0.0, 0.0, 0.5], 40.0),
        constant([1.0, 1.0, 1.0]),
        json!({"white": {"type": "diffuse", "albedo": [1, 1, 1]}}),
        json!([
            {"type": "sphere", "center": [-0.6, 0, 0.6], "radius": 0.6, "material": "white"},
            {"type": "sphere", "center": [0.55, 0.1, 0.5], "radius": 0.5, "material": "white"},
            {"type": "box", "min": [-0.3, -0.4, 0], "max": [0.3, 0.4, 1.6], "material": "white"},
            {"type": "quad", "center": [0, 0, 0], "half_size": [1.5, 1.5], "material": "white"},
            {"type": "mesh", "positions": [[-1, 1, 0], [1, 1, 0], [0, 1, 2]], "indices": [[0, 1, 2]], "material": "white"}
        ]),
    ));
    let img = render(&p);
    let mean = img.iter().map(|&v| f64::from(v)).sum::<f64>() / img.len() as f64;
    // Every path returns exactly 1 except for Russian roulette: after k roulette steps a sample
    // is 0.95^-k with probability 0.95^k, variance 0.95^-k - 1 (0.67 at k = 10, paths caught in
    // the sphere/ground crevices). At 256 spp that is a pixel sigma of about 0.05 in the worst
    // pixels, so 0.15 is 3 sigma; the image mean over 1536 pixels is good to about 2e-3.
    assert!((mean - 1.0).abs() < 0.005, "furnace image mean {mean}, expected 1");
    let worst = img.iter().map(|&v| (v - 1.0).abs()).fold(0.0f32, f32::max);
    eprintln!("furnace mean {mean} worst {worst}");
    assert!(worst < 0.15, "furnace pixel off by {worst}");
}

/// A perfect mirror reflects the environment unchanged, so every pixel equals the environment
/// exactly; an albedo-0.5 mirror halves it exactly. Also checks the mirror needs depth 2.
#[test]
fn mirror_sphere_reflects_environment_exactly() {
    let env = [0.25f32, 0.5, 0.75];
    for (albedo, depth) in [(1.0f32, 2), (0.5, 8), (0.5, 1)] {
        let p = prepare(scene(
            32,
            32,
            4,
            depth,
            persp([0.0, -4.0, 0.0], [0.0, 0.0, 0.0], 30.0),
            constant(env),
            json!({"m": {"type": "conductor", "albedo": [albedo, albedo, albedo]}}),
            json!([{"type": "sphere", "center": [0, 0, 0], "radius": 0.8, "material": "m"}]),
        ));
        let img = render(&p);
        let centre = px(&img, 32, 16, 16);
        let corner = px(&img, 32, 0, 0);
        let expect_centre = if depth == 1 { [0.0; 3] } else { env.map(|e| e * albedo) };
        assert_eq!(centre, expect_centre, "albedo {albedo} depth {depth}");
        assert_eq!(corner, env);
    }
}

/// Smooth glass neither creates nor destroys energy: in a uniform environment every pixel is
/// the environment's radiance (up to Russian roulette noise), which tests Fresnel choice,
/// refraction and the eta^2 radiance scaling on entry and exit.
#[test]
fn glass_sphere_conserves_energy() {
    let env = [0.5f32, 1.0, 2.0];
    let p = prepare(scene(
        32,
        32,
        64,
        64,
        persp([0.0, -4.0, 0.0], [0.0, 0.0, 0.0], 30.0),
        constant(env),
        json!({"g": {"type": "dielectric", "ior": 1.5}}),
        json!([{"type": "sphere", "center": [0, 0, 0], "radius": 1.0, "material": "g"}]),
    ));
    let img = render(&p);
    for (c, e) in env.iter().enumerate() {
        let mean: f64 = img.iter().skip(c).step_by(3).map(|&v| f64::from(v)).sum::<f64>() / (32.0 * 32.0);
        assert!((mean / f64::from(*e) - 1.0).abs() < 0.003, "channel {c}: mean {mean} vs {e}");
    }
    for y in 0..32 {
        for x in 0..32 {
            let v = px(&img, 32, x, y);
            for (c, e) in v.iter().zip(env) {
                assert!((c / e - 1.0).abs() < 0.05, "pixel ({x},{y}) {v:?}");
            }
        }
    }
}

/// max_depth 1 shows emitters and the environment directly (Mitsuba's convention) and nothing
/// reflected: emitter pixels are exactly its radiance, diffuse pixels exactly 0, background
/// exactly the environment.
#[test]
fn depth_one_sees_emitters_and_environment_only() {
    let env = [0.1f32, 0.2, 0.3];
    let rad = [5.0f32, 3.0, 1.0];
    // Orthographic view straight down over [-1, 1]^2 on 64x64 pixels: 1/32 world unit per pixel.
    let p = prepare(scene(
        64,
        64,
        16,
        1,
        ortho([0.0, 0.0, 5.0], [0.0, 1.0, 0.0], 2.0),
        constant(env),
        json!({"lamp": {"type": "emitter", "radiance": rad}, "grey": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5]}}),
        json!([
            {"type": "sphere", "center": [-0.5, 0.0, 0.0], "radius": 0.4, "material": "lamp"},
            {"type": "quad", "center": [0.5, 0.0, 0.0], "half_size": [0.25, 0.25], "material": "grey"}
        ]),
    ));
    let img = render(&p);
    for y in 0..64u32 {
        for x in 0..64u32 {
            let v = px(&img, 64, x, y);
            // Pixel footprint in world units.
            let (x0, x1) = (x as f32 / 32.0 - 1.0, (x + 1) as f32 / 32.0 - 1.0);
            let (y0, y1) = (1.0 - (y + 1) as f32 / 32.0, 1.0 - y as f32 / 32.0);
            let far =
                ((x0 + 0.5).abs().max((x1 + 0.5).abs()).powi(2) + y0.abs().max(y1.abs()).powi(2)).sqrt();
            let nx = if x0 <= -0.5 && -0.5 <= x1 { 0.0 } else { (x0 + 0.5).abs().min((x1 + 0.5).abs()) };
            let ny = if y0 <= 0.0 && 0.0 <= y1 { 0.0 } else { y0.abs().min(y1.abs()) };
            let near = (nx * nx + ny * ny).sqrt();
            let in_quad = x0 >= 0.25 && x1 <= 0.75 && y0 >= -0.25 && y1 <= 0.25;
            let off_quad = x1 < 0.25 || x0 > 0.75 || y1 < -0.25 || y0 > 0.25;
            if far < 0.399 {
                assert_eq!(v, rad, "({x},{y}) inside the emitter");
            } else if in_quad {
                assert_eq!(v, [0.0; 3], "({x},{y}) on the diffuse quad at depth 1");
            } else if near > 0.401 && off_quad {
                assert_eq!(v, env, "({x},{y}) background");
            }
        }
    }
}

/// Depth 2 adds exactly one bounce: a diffuse plane under a uniform sky then shows albedo x sky.
#[test]
fn depth_two_is_one_bounce() {
    for (depth, expect) in [(1u32, 0.0f32), (2, 0.5), (8, 0.5)] {
        let p = prepare(scene(
            8,
            8,
            4,
            depth,
            ortho([0.0, 0.0, 5.0], [0.0, 1.0, 0.0], 2.0),
            constant([1.0, 1.0, 1.0]),
            json!({"grey": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5]}}),
            json!([{"type": "quad", "center": [0, 0, 0], "half_size": [10, 10], "material": "grey"}]),
        ));
        assert!(render(&p).iter().all(|&v| v == expect), "depth {depth}");
    }
}

/// Orthographic projection: a quad, a box and a two-triangle mesh whose edges lie on pixel
/// boundaries cover exactly the expected pixels (and the image is not mirrored: +X is right,
/// +Y, the camera's up, is the top row).
#[test]
fn orthographic_coverage_of_quad_box_and_mesh() {
    let shapes = [
        json!({"type": "quad", "center": [0.5, 0.5, 0], "half_size": [0.25, 0.25], "material": "lamp"}),
        json!({"type": "box", "min": [0.25, 0.25, -1], "max": [0.75, 0.75, 0], "material": "lamp"}),
        json!({"type": "mesh", "positions": [[0.25, 0.25, 0], [0.75, 0.25, 0], [0.75, 0.75, 0], [0.25, 0.75, 0]],
               "indices": [[0, 1, 2], [0, 2, 3]], "material": "lamp"}),
    ];
    for shape in shapes {
        let p = prepare(scene(
            64,
            64,
            8,
            1,
            ortho([0.0, 0.0, 5.0], [0.0, 1.0, 0.0], 2.0),
            constant([0.0, 0.0, 0.0]),
            json!({"lamp": {"type": "emitter", "radiance": [1, 1, 1]}}),
            json!([shape.clone()]),
        ));
        let img = render(&p);
        for y in 0..64 {
            for x in 0..64 {
                // x in [0.25, 0.75] -> columns 40..56; y in [0.25, 0.75] -> rows 8..24.
                let inside = (40..56).contains(&x) && (8..24).contains(&y);
                let expect = if inside { 1.0 } else { 0.0 };
                assert_eq!(px(&img, 64, x, y), [expect; 3], "{shape} at ({x},{y})");
            }
        }
    }
}

/// Gradient sky: horizon at and below z = 0, zenith straight up, linear in direction z between.
#[test]
fn gradient_environment_follows_direction_z() {
    let env = json!({"type": "gradient", "zenith": [0, 0, 1], "horizon": [1, 0.5, 0]});
    let look = |eye: [f32; 3], up: [f32; 3]| {
        let p = prepare(scene(4, 4, 2, 1, ortho(eye, up, 1.0), env.clone(), json!({}), json!([])));
        px(&render(&p), 4, 1, 1)
    };
    // The orthographic camera looks from eye towards the origin: direction = -eye.
    assert_eq!(look([0.0, 0.0, -1.0], [0.0, 1.0, 0.0]), [0.0, 0.0, 1.0], "looking up sees the zenith");
    assert_eq!(look([0.0, -1.0, 0.0], [0.0, 0.0, 1.0]), [1.0, 0.5, 0.0], "looking level sees the horizon");
    assert_eq!(look([0.0, 0.0, 1.0], [0.0, 1.0, 0.0]), [1.0, 0.5, 0.0], "looking down sees the horizon");
    let v = look([0.0, -(3f32.sqrt()), -1.0], [0.0, 0.0, 1.0]); // 30 degrees up: z = 0.5
    for (c, e) in v.iter().zip([0.5, 0.25, 0.5]) {
        assert!((c - e).abs() < 1e-5, "30 degrees up: {v:?}");
    }
    // Perspective, looking level: the top row is bluer than the bottom; the bottom half is horizon.
    let p = prepare(scene(
        8,
        8,
        4,
        1,
        persp([0.0, 0.0, 0.0], [0.0, 1.0, 0.0], 60.0),
        env.clone(),
        json!({}),
        json!([]),
    ));
    let img = render(&p);
    assert!(px(&img, 8, 4, 0)[2] > 0.3, "top row {:?}", px(&img, 8, 4, 0));
    assert_eq!(px(&img, 8, 4, 7), [1.0, 0.5, 0.0], "bottom row is below the horizon");
}
