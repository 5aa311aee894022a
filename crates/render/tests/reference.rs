//! Against Mitsuba 3: the benchmark scenes S1 and S2 rendered at full 640x360 resolution, at a
//! reduced sample count, compared with the converged references in shared/scenes.
//!
//! Thresholds. Image mean: within 0.5 % of the reference's. At N samples the image mean's own
//! noise is sigma_pix / sqrt(W*H) ≈ 0.02 / 480 ≈ 4e-5 for S1, far below 0.5 % of 0.61 (3e-3);
//! S2's fireflies around the small emitter make its per-pixel noise heavy-tailed (sigma_pix
//! about 0.2 at 16 spp without light sampling), still ~4e-4 on the mean, under the 4e-3 allowed.
//!
//! RMSE after 8x8 block averaging: averaging 64 independent pixels divides the noise's standard
//! deviation by 8, so an unbiased render expects RMSE_8x8 ≈ sqrt(sigma_ours^2 + sigma_ref^2) / 8,
//! with sigma_ref ≈ 0.001 (S1) / 0.007 (S2) from shared/scenes/README.md and sigma_ours the
//! per-pixel RMSE we measure against the reference at this spp. The test measures sigma_ours in
//! the same run and requires RMSE_8x8 < 1.5 x that prediction: any bias b adds b^2 to RMSE_8x8^2
//! undivided but only b^2/64 to the prediction, so bias above ~0.15 sigma_ours fails. A fixed
//! ceiling (per scene, 2x what this renderer measured when the test was written) also guards
//! against the prediction itself growing because the image became much noisier.

mod common;
use common::*;
use tessera_render::film::{block_average, mean, rmse};
use tessera_render::{read_exr_rgb, render_image, PreparedScene};
use tessera_types::scene::Scene;

const SPP: u32 = 16;

fn check(name: &str, sigma_ref: f64, ceiling_8x8: f64) {
    let scene_path = shared_scene(&format!("{name}.json"));
    let ref_path = shared_scene(&format!("{name}.reference.exr"));
    let scene = Scene::from_json_str(&std::fs::read_to_string(&scene_path).unwrap()).unwrap();
    let p = PreparedScene::new(&scene).unwrap().with_spp(SPP);
    let reference = read_exr_rgb(&ref_path).unwrap();
    assert_eq!((reference.width, reference.height), (p.width(), p.height()));
    let img = render_image(&p, &|_, _| {});
    let (m, rm) = (mean(&img), mean(&reference.data));
    let sigma_ours = rmse(&img, &reference.data);
    let (w, h) = (p.width(), p.height());
    let r8 = rmse(&block_average(&img, w, h, 8), &block_average(&reference.data, w, h, 8));
    let predicted = (sigma_ours.powi(2) + sigma_ref.powi(2)).sqrt() / 8.0;
    eprintln!(
        "{name}: mean {m:.5} vs {rm:.5}; rmse {sigma_ours:.5}; rmse_8x8 {r8:.5} (predicted {predicted:.5})"
    );
    assert!((m / rm - 1.0).abs() < 0.005, "{name}: mean {m} vs reference {rm}");
    assert!(r8 < 1.5 * predicted, "{name}: rmse_8x8 {r8} above 1.5 x the noise-only prediction {predicted}");
    assert!(r8 < ceiling_8x8, "{name}: rmse_8x8 {r8} above the ceiling {ceiling_8x8}");
}

#[test]
fn s1_spheres_matches_mitsuba() {
    check("S1_spheres", 0.001, 0.005);
}

#[test]
fn s2_materials_matches_mitsuba() {
    check("S2_materials", 0.007, 0.06);
}
