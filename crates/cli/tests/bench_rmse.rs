//! `tessera bench time-to-rmse`: the search prints every probe and a result line whose spp
//! reaches the target while the spp below it does not; an unreachable target fails.

mod common;

use common::small_scene;
use std::path::Path;
use std::process::{Command, Output};

fn bench(scene: &Path, target: f64, max_spp: u32) -> Output {
    Command::new(common::bin())
        .args(["bench", "time-to-rmse", "--threads", "1", "--repeats", "2"])
        .args(["--target", &target.to_string(), "--max-spp", &max_spp.to_string()])
        .arg(scene)
        .output()
        .expect("run tessera bench")
}

/// (spp, rmse) of every `probe` line, in run order.
fn probes(stdout: &str) -> Vec<(u32, f64)> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("probe\t"))
        .filter(|l| !l.starts_with("spp"))
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].parse().unwrap(), f[1].parse().unwrap())
        })
        .collect()
}

#[test]
fn time_to_rmse_finds_the_smallest_spp_that_reaches_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let scene = small_scene(24, 16, 1);
    let scene_path = dir.path().join("scene.json");
    std::fs::write(&scene_path, scene.to_string()).unwrap();
    // The reference: the same scene well converged, as the sibling the command looks for.
    let mut converged = scene.clone();
    converged["render"]["spp"] = 1024.into();
    let ref_scene = dir.path().join("converged.json");
    std::fs::write(&ref_scene, converged.to_string()).unwrap();
    let status = common::render_cmd(&ref_scene, &dir.path().join("scene.reference.exr")).status().unwrap();
    assert!(status.success());

    // Unreachable: doubling stops at --max-spp, every probe is printed, the command fails.
    let out = bench(&scene_path, 1e-9, 8);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "an unreachable target must fail:\n{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not reached at 8 spp"));
    let sweep = probes(&stdout);
    assert_eq!(sweep.iter().map(|p| p.0).collect::<Vec<_>>(), [1, 2, 4, 8], "{stdout}");
    assert!(sweep[3].1 < sweep[0].1, "more samples should get closer to the reference: {sweep:?}");

    // A target between the 4 and 8 spp errors makes the search bisect inside (4, 8].
    let target = (sweep[2].1 + sweep[3].1) / 2.0;
    let out = bench(&scene_path, target, 64);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let found = probes(&stdout);
    let result: Vec<&str> =
        stdout.lines().rfind(|l| l.starts_with("result\t")).expect("a result line").split('\t').collect();
    let (spp, rmse): (u32, f64) = (result[3].parse().unwrap(), result[4].parse().unwrap());
    assert!(rmse <= target, "{stdout}");
    let at = |s: u32| found.iter().find(|p| p.0 == s).map(|p| p.1);
    assert!(at(spp).expect("the answer was probed") <= target);
    assert!(at(spp - 1).expect("the spp below was probed") > target, "{stdout}");
    assert!((5..=8).contains(&spp), "{stdout}");
    let runs: Vec<f64> = result[7].split(',').map(|s| s.parse().unwrap()).collect();
    assert_eq!(runs.len(), 2, "one time per repeat: {stdout}");
    assert!(result[5].parse::<f64>().unwrap() > 0.0);
}
