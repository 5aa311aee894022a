//! Helpers shared by the integration tests.
#![allow(dead_code)]

use serde_json::{json, Value};
use tessera_render::{render_image, PreparedScene};
use tessera_types::scene::Scene;

/// Parses and prepares a scene given as JSON.
pub fn prepare(v: Value) -> PreparedScene {
    let scene = Scene::from_json_value(v).expect("test scene parses");
    PreparedScene::new(&scene).expect("test scene prepares")
}

/// Renders the whole image on the current rayon pool.
pub fn render(p: &PreparedScene) -> Vec<f32> {
    render_image(p, &|_, _| {})
}

/// A scene with the given parts and a render block.
// One positional argument per scene section reads better in the tests than a builder.
#[allow(clippy::too_many_arguments)]
pub fn scene(
    w: u32,
    h: u32,
    spp: u32,
    depth: u32,
    camera: Value,
    env: Value,
    materials: Value,
    shapes: Value,
) -> Value {
    json!({
        "render": {"width": w, "height": h, "spp": spp, "max_depth": depth, "seed": 7},
        "camera": camera, "environment": env, "materials": materials, "shapes": shapes
    })
}

/// Orthographic camera at `eye` looking at the origin with the given up vector.
pub fn ortho(eye: [f32; 3], up: [f32; 3], height: f32) -> Value {
    json!({"type": "orthographic", "eye": eye, "target": [0, 0, 0], "up": up, "height": height})
}

/// Constant environment.
pub fn constant(r: [f32; 3]) -> Value {
    json!({"type": "constant", "radiance": r})
}

/// Pixel (x, y) of an RGB buffer of width `w`.
pub fn px(img: &[f32], w: u32, x: u32, y: u32) -> [f32; 3] {
    let i = ((y * w + x) * 3) as usize;
    [img[i], img[i + 1], img[i + 2]]
}

/// Path of a file in /work/shared/scenes (shared/ sits beside the repository).
pub fn shared_scene(name: &str) -> std::path::PathBuf {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/scenes").join(name);
    assert!(
        p.exists(),
        "{} is missing: the reference scenes live in shared/scenes beside the repository checkout",
        p.display()
    );
    p
}

// ------------------------------------------------------------------ chi-square

/// Index of the (z, φ) bin holding unit direction `w`: `z_bins` equal slices of z = cos θ in
/// [-1, 1] (equal solid angle each), each split into `phi_bins` equal slices of φ.
pub fn sphere_bin(w: tessera_render::math::V3, z_bins: usize, phi_bins: usize) -> usize {
    let z = ((w.z.clamp(-1.0, 1.0) + 1.0) * 0.5 * z_bins as f32).min(z_bins as f32 - 1.0) as usize;
    let phi = w.y.atan2(w.x).rem_euclid(2.0 * std::f32::consts::PI);
    let p = (phi / (2.0 * std::f32::consts::PI) * phi_bins as f32).min(phi_bins as f32 - 1.0) as usize;
    z * phi_bins + p
}

/// Pearson's chi-square of observed counts `hist` (from `n` draws) against expected bin
/// probabilities `exp`: bins expecting fewer than 5 draws are pooled, in order of expected
/// count, into one cell (the chi-square approximation needs it). Returns (chi², degrees of
/// freedom, p-value). Panics, naming `what`, on draws where the density says none can fall.
pub fn chi_square(exp: &[f64], hist: &[u64], n: u32, what: &str) -> (f64, i64, f64) {
    let mut order: Vec<usize> = (0..exp.len()).collect();
    order.sort_by(|&a, &b| exp[a].partial_cmp(&exp[b]).unwrap());
    let (mut chi2, mut dof) = (0.0f64, 0i64);
    let (mut pool_e, mut pool_o) = (0.0f64, 0.0f64);
    for &i in &order {
        let e = exp[i] * f64::from(n);
        let o = hist[i] as f64;
        if e < 5.0 {
            pool_e += e;
            pool_o += o;
            if o > 0.0 && e == 0.0 && o > 5.0 {
                panic!("{what}: {o} samples in bin {i} where the pdf is 0");
            }
        } else {
            chi2 += (o - e).powi(2) / e;
            dof += 1;
        }
    }
    if pool_e >= 5.0 {
        chi2 += (pool_o - pool_e).powi(2) / pool_e;
        dof += 1;
    } else if pool_o > 20.0 {
        panic!("{what}: {pool_o} samples where only {pool_e} are expected");
    }
    dof -= 1;
    let p = 1.0 - gamma_p(dof as f64 / 2.0, chi2 / 2.0);
    (chi2, dof, p)
}

/// Regularised lower incomplete gamma P(a, x) (Numerical Recipes' series / continued fraction).
fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let ln_gamma_a = ln_gamma(a);
    if x < a + 1.0 {
        let (mut sum, mut del, mut ap) = (1.0 / a, 1.0 / a, a);
        for _ in 0..10_000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        sum * (-x + a * x.ln() - ln_gamma_a).exp()
    } else {
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / 1e-300;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < 1e-300 {
                d = 1e-300;
            }
            c = b + an / c;
            if c.abs() < 1e-300 {
                c = 1e-300;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-15 {
                break;
            }
        }
        1.0 - (-x + a * x.ln() - ln_gamma_a).exp() * h
    }
}

/// Lanczos approximation of ln Γ(x).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 6] = [
        76.180_091_729_471_46,
        -86.505_320_329_416_77,
        24.014_098_240_830_91,
        -1.231_739_572_450_155,
        0.001_208_650_973_866_179,
        -0.000_005_395_239_384_953,
    ];
    let mut y = x;
    let tmp = x + 5.5 - (x + 0.5) * (x + 5.5).ln();
    let mut ser = 1.000_000_000_190_015;
    for g in G {
        y += 1.0;
        ser += g / y;
    }
    -tmp + (2.506_628_274_631_000_5 * ser / x).ln()
}

/// SplitMix64, so every run draws the same numbers.
pub struct Rng(pub u64);

impl Rng {
    /// Uniform in [0, 1) with 24 bits.
    pub fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 24) as f32
    }
}
