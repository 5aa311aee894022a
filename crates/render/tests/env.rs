//! The environment as a light: its direction sampler draws in proportion to luminance and
//! reports the density it draws with (a chi-square test, as tests/bsdf.rs does for BSDFs).

mod common;
use common::{chi_square, Rng};
use serde_json::json;
use std::f64::consts::PI;
use tessera_render::math::V3;
use tessera_render::EnvSampler;
use tessera_types::scene::Environment;

fn env(v: serde_json::Value) -> EnvSampler {
    let e: Environment = serde_json::from_value(v).expect("environment parses");
    EnvSampler::new(&e)
}

fn luminance(c: V3) -> f32 {
    0.2126 * c.x + 0.7152 * c.y + 0.0722 * c.z
}

const Z_BINS: usize = 40;
const PHI_BINS: usize = 16;
const SUB: usize = 16;

/// Each (z, φ) bin's probability under the reported pdf, by the midpoint rule (dω = dz dφ).
fn expected(e: &EnvSampler) -> Vec<f64> {
    let (dz, dp) = (2.0 / Z_BINS as f64, 2.0 * PI / PHI_BINS as f64);
    let mut out = vec![0.0; Z_BINS * PHI_BINS];
    for zi in 0..Z_BINS {
        for pi in 0..PHI_BINS {
            let mut sum = 0.0f64;
            for a in 0..SUB {
                let z = -1.0 + dz * (zi as f64 + (a as f64 + 0.5) / SUB as f64);
                let r = (1.0 - z * z).max(0.0).sqrt();
                for b in 0..SUB {
                    let phi = dp * (pi as f64 + (b as f64 + 0.5) / SUB as f64);
                    let d = V3::new((r * phi.cos()) as f32, (r * phi.sin()) as f32, z as f32);
                    sum += f64::from(e.pdf(d));
                }
            }
            out[zi * PHI_BINS + pi] = sum * dz * dp / (SUB * SUB) as f64;
        }
    }
    out
}

fn skies() -> Vec<(&'static str, EnvSampler)> {
    vec![
        ("constant", env(json!({"type": "constant", "radiance": [0.5, 1.0, 2.0]}))),
        (
            "blue sky",
            env(json!({"type": "gradient", "zenith": [0.35, 0.55, 1.0], "horizon": [1.0, 0.95, 0.9]})),
        ),
        ("bright zenith", env(json!({"type": "gradient", "zenith": [8, 8, 8], "horizon": [0.1, 0.1, 0.1]}))),
        ("black horizon", env(json!({"type": "gradient", "zenith": [1, 1, 1], "horizon": [0, 0, 0]}))),
        ("black zenith", env(json!({"type": "gradient", "zenith": [0, 0, 0], "horizon": [1, 2, 3]}))),
        ("flat gradient", env(json!({"type": "gradient", "zenith": [1, 1, 1], "horizon": [1, 1, 1]}))),
    ]
}

/// The density is a probability density (integrates to 1), proportional to luminance, and the
/// sampler follows it: chi-square over 40 z × 16 φ bins at 1 % significance split over the
/// skies (Bonferroni). Drawing z uniformly instead of from its linear marginal, or getting the
/// horizon's share of the mass wrong, fails with p-values far below that.
#[test]
fn env_sampling_matches_pdf_chi_square() {
    let skies = skies();
    let alpha_sig = 0.01 / skies.len() as f64;
    let n = 400_000u32;
    let mut rng = Rng(11);
    for (name, e) in &skies {
        let exp = expected(e);
        let total: f64 = exp.iter().sum();
        assert!((total - 1.0).abs() < 1e-3, "{name}: pdf integrates to {total}");
        // pdf / luminance is one constant (1 / the luminance integral) wherever light arrives.
        let dirs = [
            V3::new(0.0, 0.0, 1.0),
            V3::new(0.6, 0.0, 0.8),
            V3::new(0.0, -1.0, 0.0),
            V3::new(0.0, 0.6, -0.8),
        ];
        let ratios: Vec<f32> = dirs
            .iter()
            .filter(|&&d| luminance(e.radiance(d)) > 0.0)
            .map(|&d| e.pdf(d) / luminance(e.radiance(d)))
            .collect();
        for r in &ratios {
            assert!(
                (r / ratios[0] - 1.0).abs() < 1e-5,
                "{name}: pdf not proportional to luminance: {ratios:?}"
            );
        }
        let mut hist = vec![0u64; exp.len()];
        for _ in 0..n {
            let (d, pdf) = e.sample(rng.next(), rng.next());
            assert!((d.length() - 1.0).abs() < 1e-4, "{name}: direction {d:?} not unit");
            assert!(
                pdf > 0.0 && (pdf - e.pdf(d)).abs() <= 1e-5 * pdf,
                "{name}: sample pdf {pdf} vs {}",
                e.pdf(d)
            );
            hist[common::sphere_bin(d, Z_BINS, PHI_BINS)] += 1;
        }
        let (chi2, dof, p) = chi_square(&exp, &hist, n, name);
        eprintln!("{name}: chi2 {chi2:.1} dof {dof} p {p:.3e}");
        assert!(p > alpha_sig, "{name}: chi-square {chi2} on {dof} dof, p = {p:e} < {alpha_sig:e}");
    }
}
