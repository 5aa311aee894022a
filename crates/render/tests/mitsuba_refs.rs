//! The new materials and lights against Mitsuba 3.9.1, an independent implementation of the
//! same models: rough conductors and glass (GGX and Beckmann), smooth and rough plastic, and
//! point, spot and sun lights. The scenes and their references are in `tests/mitsuba/` (80x60,
//! 4096 spp, `make_refs.py` regenerates them). `TESSERA_DUMP=DIR` writes Tessera's renders there
//! as EXR for a look at the difference.
//!
//! Thresholds, as in `reference.rs`: the image mean within 1 % of the reference's (the means'
//! own noise at these sample counts is below 0.2 %; measured differences are at most 0.32 %),
//! and the RMSE after 4x4 block averaging below 1.5 x what the per-pixel RMSE between the two
//! images predicts for pure noise (rmse / 4: averaging 16 independent pixels divides noise by
//! 4 but leaves a bias whole), so a bias above ~0.3 σ over a region fails. Measured ratios:
//! 0.98 (lights), 1.29 (rough glass), 1.36 (smooth plastic), 1.38 (rough metals); the prediction is a little low
//! because Mitsuba's independent sampler leaves more noise in the reference than ours does at
//! the same count, and the lamp's silhouette pixels (radiance 30) dominate what remains.

use tessera_render::film::{block_average, mean, rmse};
use tessera_render::{read_exr_rgb, render_image, PreparedScene};
use tessera_types::scene::Scene;

const SPP: u32 = 256;
const REF_SPP: f64 = 4096.0;

fn check(name: &str, mean_tol: f64, ratio: f64) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mitsuba");
    let scene =
        Scene::from_json_str(&std::fs::read_to_string(dir.join(format!("{name}.json"))).unwrap()).unwrap();
    let p = PreparedScene::new(&scene).unwrap().with_spp(SPP);
    let reference = read_exr_rgb(&dir.join(format!("{name}.exr"))).unwrap();
    assert_eq!((reference.width, reference.height), (p.width(), p.height()));
    let img = render_image(&p, &|_, _| {});
    if let Some(dir) = std::env::var_os("TESSERA_DUMP") {
        let out = tessera_render::Image { width: p.width(), height: p.height(), data: img.clone() };
        tessera_render::write_exr_rgb(&std::path::Path::new(&dir).join(format!("{name}.exr")), &out).unwrap();
    }
    let (m, rm) = (mean(&img), mean(&reference.data));
    let sigma = rmse(&img, &reference.data);
    let (w, h) = (p.width(), p.height());
    let r4 = rmse(&block_average(&img, w, h, 4), &block_average(&reference.data, w, h, 4));
    // sigma² = σ_ours² + σ_ref² with σ_ref² = σ_ours²·SPP/REF_SPP.
    let predicted = sigma / 4.0;
    let sigma_ours = sigma / (1.0 + f64::from(SPP) / REF_SPP).sqrt();
    eprintln!("{name}: mean {m:.5} vs {rm:.5}; rmse {sigma:.5} (ours {sigma_ours:.5}); rmse_4x4 {r4:.5} (predicted {predicted:.5})");
    assert!((m / rm - 1.0).abs() < mean_tol, "{name}: mean {m} vs Mitsuba {rm}");
    assert!(
        r4 < ratio * predicted,
        "{name}: rmse_4x4 {r4} above {ratio} x the noise-only prediction {predicted}"
    );
}

#[test]
fn rough_metals_match_mitsuba() {
    check("rough_metals", 0.01, 1.5);
}

#[test]
fn rough_glass_matches_mitsuba() {
    check("rough_glass", 0.01, 1.5);
}

#[test]
fn smooth_plastic_matches_mitsuba() {
    check("plastic", 0.01, 1.5);
}

/// Rough plastic is the same model as Mitsuba's `roughplastic` (nonlinear): the base's light
/// crosses the rough coat with a tabulated transmittance and internal reflectance. Both sides
/// integrate those tables numerically (16x16 microfacet normals per angle here, Gauss–Legendre
/// there), which leaves the rough spheres about 0.4 % brighter here: block RMSE 1.58 x the noise
/// prediction, so the bound is 2 x. (With the smooth coat's 1 - F instead of the rough tables
/// the ratio was 2.7 and spheres differed by up to 3 %.)
#[test]
fn rough_plastic_matches_mitsuba_closely() {
    check("rough_plastic", 0.01, 2.0);
}

#[test]
fn point_spot_and_sun_match_mitsuba() {
    check("lights", 0.01, 1.5);
}
