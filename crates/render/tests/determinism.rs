//! DESIGN 4: the same scene gives the same bytes for any tiling and any thread count.

mod common;
use common::*;
use proptest::prelude::*;
use tessera_render::{render_image, render_rect, Isa, PreparedScene};

/// A small scene with every material, shape and light kind and a camera transform, so every
/// sampling branch (BSDF lobes, light selection, sun-disc MIS) is exercised (shared with the
/// wide integrator's unit test).
const EVERY_KIND: &str = include_str!("scenes/every_kind.json");

/// `EVERY_KIND` at `w` x `h` pixels and `spp` samples.
fn mixed(w: u32, h: u32, spp: u32) -> PreparedScene {
    let mut v: serde_json::Value = serde_json::from_str(EVERY_KIND).expect("every_kind.json is JSON");
    v["render"]["width"] = w.into();
    v["render"]["height"] = h.into();
    v["render"]["spp"] = spp.into();
    prepare(v)
}

fn pool(n: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(n).build().unwrap()
}

/// Renders the image tile by tile (tiles of tw x th, clipped at the edges) and assembles it.
fn tiled(p: &PreparedScene, tw: u32, th: u32) -> Vec<f32> {
    let (w, h) = (p.width(), p.height());
    let mut out = vec![f32::NAN; (w * h * 3) as usize];
    for ty in (0..h).step_by(th as usize) {
        for tx in (0..w).step_by(tw as usize) {
            let (cw, ch) = (tw.min(w - tx), th.min(h - ty));
            let tile = render_rect(p, tx, ty, cw, ch);
            for row in 0..ch {
                let src = &tile[(row * cw * 3) as usize..((row + 1) * cw * 3) as usize];
                let dst = (((ty + row) * w + tx) * 3) as usize;
                out[dst..dst + src.len()].copy_from_slice(src);
            }
        }
    }
    out
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|f| f.to_bits()).collect()
}

#[test]
fn tilings_and_thread_counts_give_identical_bits() {
    // With and without the sky as a light (next-event estimation's draws change with it).
    for p in [mixed(40, 30, 8), mixed(40, 30, 8).with_env_light(true)] {
        tilings_give_identical_bits(&p);
    }
}

fn tilings_give_identical_bits(p: &PreparedScene) {
    let reference = bits(&pool(1).install(|| render_image(p, &|_, _| {})));
    assert!(reference.iter().any(|&b| b != 0), "image is not all black");
    for threads in [1, 2, 3] {
        let pl = pool(threads);
        assert_eq!(
            bits(&pl.install(|| render_image(p, &|_, _| {}))),
            reference,
            "render_image, {threads} threads"
        );
        for (tw, th) in [(40, 30), (16, 16), (7, 13), (1, 1), (13, 7), (40, 1), (3, 30)] {
            assert_eq!(
                bits(&pl.install(|| tiled(p, tw, th))),
                reference,
                "tiles {tw}x{th}, {threads} threads"
            );
        }
    }
}

/// Every instruction-set level the CPU has (the pixel loop is compiled once per level and
/// picked at run time) gives the baseline's bits, whole and tiled: wider instructions must not
/// change a single rounding.
#[test]
fn every_instruction_set_level_gives_identical_bits() {
    let levels = Isa::available();
    eprintln!("levels on this CPU: {:?}", levels.iter().map(|l| l.name()).collect::<Vec<_>>());
    let base = mixed(40, 30, 8).with_isa(Isa::BASELINE);
    let reference = bits(&pool(2).install(|| render_image(&base, &|_, _| {})));
    for isa in levels {
        let p = mixed(40, 30, 8).with_isa(isa);
        assert_eq!(p.isa(), isa);
        assert_eq!(bits(&pool(2).install(|| render_image(&p, &|_, _| {}))), reference, "{}", isa.name());
        assert_eq!(bits(&pool(1).install(|| tiled(&p, 7, 13))), reference, "{} tiled", isa.name());
    }
}

/// A benchmark scene file at 64x36 and `spp` samples.
fn small(path: &std::path::Path, spp: u32) -> PreparedScene {
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["render"]["width"] = 64.into();
    v["render"]["height"] = 36.into();
    v["render"]["spp"] = spp.into();
    let scene = tessera_types::scene::Scene::from_json_value(v).expect("scene parses");
    PreparedScene::with_base_dir(&scene, path.parent().unwrap()).expect("scene prepares")
}

/// The wide integrator (up to 64 paths of a pixel in lockstep in groups of eight lanes,
/// Lambertian vertices eight at a time) gives the scalar integrator's bits on every level: it
/// is the same path tracer, and the scalar one is its oracle. 11, 9, 5 and 3 samples leave a
/// partial group, 70 a second chunk of 64; the benchmark scenes are all-Lambertian (S1, B1)
/// or mixed (S2, M1), and `mixed` has every material and light kind, so both the eight-wide
/// and the one-lane-at-a-time vertices run.
#[test]
fn wide_and_scalar_integrators_give_identical_bits() {
    let bench = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/scenes");
    let scenes = [
        ("mixed", mixed(40, 30, 11)),
        ("mixed, sky sampled", mixed(40, 30, 3).with_env_light(true)),
        ("mixed, 70 samples", mixed(12, 9, 70)),
        ("S1", small(&shared_scene("S1_spheres.json"), 11)),
        ("S1, sky sampled", small(&shared_scene("S1_spheres.json"), 8).with_env_light(true)),
        ("S2", small(&shared_scene("S2_materials.json"), 11)),
        ("B1", small(&bench.join("B1_barchart.json"), 9)),
        ("M1", small(&bench.join("M1_meshes.json"), 5)),
    ];
    for (name, p) in scenes {
        let oracle = bits(&pool(2).install(|| render_image(&p.clone().with_wide(false), &|_, _| {})));
        assert!(oracle.iter().any(|&b| b != 0), "{name}: image is not all black");
        for isa in Isa::available() {
            let wide = p.clone().with_wide(true).with_isa(isa);
            let got = bits(&pool(2).install(|| render_image(&wide, &|_, _| {})));
            let differ = got.iter().zip(&oracle).filter(|(a, b)| a != b).count();
            assert_eq!(differ, 0, "{name}, {}: {differ} of {} values differ", isa.name(), got.len());
        }
    }
}

#[test]
fn progress_reaches_every_row() {
    let p = mixed(16, 9, 1);
    let seen = std::sync::Mutex::new(Vec::new());
    pool(2).install(|| render_image(&p, &|done, total| seen.lock().unwrap().push((done, total))));
    let mut seen = seen.into_inner().unwrap();
    seen.sort();
    assert_eq!(seen, (1..=9).map(|d| (d, 9)).collect::<Vec<_>>());
}

/// A different seed must change the image (otherwise the seed is not wired into the sampler).
#[test]
fn seed_changes_the_noise() {
    let with_seed = |seed: u64| {
        let mut v = serde_json::to_value(tessera_types::scene::Scene::default_scene()).unwrap();
        v["render"]["width"] = 16.into();
        v["render"]["height"] = 9.into();
        v["render"]["spp"] = 2.into();
        v["render"]["seed"] = seed.into();
        bits(&render_image(&prepare(v), &|_, _| {}))
    };
    assert_eq!(with_seed(0), with_seed(0));
    assert_ne!(with_seed(0), with_seed(1));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    /// Any rectangle of the image renders to the same bits as that part of the whole image.
    #[test]
    fn any_rect_matches_the_whole_image(x in 0u32..24, y in 0u32..17, w in 1u32..24, h in 1u32..17, threads in 1usize..4) {
        let p = mixed(24, 17, 2);
        let whole = render_image(&p, &|_, _| {});
        let (w, h) = (w.min(24 - x), h.min(17 - y));
        let rect = pool(threads).install(|| render_rect(&p, x, y, w, h));
        for row in 0..h {
            for col in 0..w {
                for c in 0..3 {
                    let a = rect[((row * w + col) * 3 + c) as usize];
                    let b = whole[(((y + row) * 24 + x + col) * 3 + c) as usize];
                    prop_assert_eq!(a.to_bits(), b.to_bits());
                }
            }
        }
    }
}
