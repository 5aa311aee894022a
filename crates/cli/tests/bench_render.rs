//! `tessera bench render`: a row per scene with its preparation stages and samples/s, and with
//! `--mesh1m` the million-triangle scene made from S1's spheres.

mod common;

use common::small_scene;
use std::collections::HashMap;
use std::process::Command;

#[test]
fn bench_render_reports_preparation_and_the_1m_triangle_scene() {
    let dir = tempfile::tempdir().unwrap();
    let scene = small_scene(16, 8, 1);
    let spheres = scene["shapes"].as_array().unwrap().iter().filter(|s| s["type"] == "sphere").count();
    assert!(spheres > 0, "the test needs a scene with spheres");
    let path = dir.path().join("small.json");
    std::fs::write(&path, scene.to_string()).unwrap();

    let out = Command::new(common::bin())
        .args(["bench", "render", "--threads", "2", "--spp", "1", "--repeats", "1"])
        .arg(&path)
        .arg("--mesh1m")
        .arg(&path)
        .output()
        .expect("run tessera bench render");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));

    let mut lines = stdout.lines();
    let header: Vec<&str> = lines.next().expect("a header").split('\t').collect();
    let rows: Vec<HashMap<&str, &str>> =
        lines.map(|l| header.iter().copied().zip(l.split('\t')).collect()).collect();
    assert_eq!(rows.iter().map(|r| r["scene"]).collect::<Vec<_>>(), ["small", "mesh1m"], "{stdout}");
    let num = |row: &HashMap<&str, &str>, col: &str| -> f64 {
        row[col].parse().unwrap_or_else(|_| panic!("{col} is not a number in {stdout}"))
    };
    for row in &rows {
        let (prepare, bvh, convexity) = (num(row, "prepare_s"), num(row, "bvh_s"), num(row, "convexity_s"));
        assert!(bvh >= 0.0 && convexity >= 0.0 && bvh + convexity <= prepare + 1e-3, "{stdout}");
        assert!(num(row, "Msamples_per_s") > 0.0, "{stdout}");
        assert_eq!(row["rmse"], "-", "no reference was given: {stdout}");
    }
    // Each sphere becomes 250 x 500 quads, less the 500 degenerate triangles at each pole.
    let (plain, mesh) = (num(&rows[0], "primitives") as usize, num(&rows[1], "primitives") as usize);
    assert_eq!(mesh, plain - spheres + spheres * (2 * 250 * 500 - 2 * 500), "{stdout}");
    // Proving a quarter-million-triangle sphere convex takes measurable time; the spheres alone
    // take none.
    assert!(
        num(&rows[1], "convexity_s") > 0.0 && num(&rows[1], "bvh_s") > num(&rows[0], "bvh_s"),
        "{stdout}"
    );
}
