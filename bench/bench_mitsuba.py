#!/usr/bin/env python3
"""Mitsuba 3 on Tessera scene files: timings, RMSE against references, and the references.

The counterpart of ../shared/bench/bench_mitsuba.py (same flags, same timing rules) for scenes
kept in Tessera's own format: scenes/M1_meshes.json and scenes/B1_barchart.json by default,
and any other Tessera scene (S1/S2 from ../shared/scenes) by path. Run it with the Python of a
copy of ../shared/bench after its setup.sh, e.g. from the repository root:

  B=/tmp/bench; HOME=$B/.home $B/.venv/bin/python bench/bench_mitsuba.py --variant llvm_ad_rgb --threads 2 --spp 64 --repeats 3
  ... bench/bench_mitsuba.py --variant scalar_rgb --threads 2 --spp 64 --repeats 3
  ... bench/bench_mitsuba.py --sampler multijitter --spp 64 --repeats 3 ../shared/scenes/S1_spheres.json  # time-to-RMSE anchor
  ... bench/bench_mitsuba.py --reference --ref-spp 16384 bench/scenes/M1_meshes.json   # writes NAME.reference.exr
  ... bench/bench_mitsuba.py --reference --ref-spp 8192 bench/scenes/B1_barchart.json  # (half-float EXR)

Timing: `load_s` = mi.load_dict (scene construction incl. BVH build); `first_call_s` = the first
mi.render() (LLVM: tracing and JIT compilation of the kernel); `render_s` = the following
--repeats calls (seeds 1, 2, ...), each forced to completion. When NAME.reference.exr sits beside
a scene, every repeat's RMSE and RMSE of 8x8 block means against it are reported as well.
"""
import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import mitsuba_scene  # noqa: E402

DEFAULT_SCENES = [os.path.join(HERE, "scenes", "M1_meshes.json"), os.path.join(HERE, "scenes", "B1_barchart.json")]


def private_env():
    """Dr.Jit needs the LLVM 19 that the anchors' setup.sh unpacks beside their .venv (Debian's
    LLVM 15 cannot compile its kernels); find it from the running interpreter's venv."""
    root = os.path.dirname(os.path.abspath(sys.prefix))
    llvm = os.path.join(root, ".llvm", "root", "usr", "lib", "x86_64-linux-gnu", "libLLVM.so.19.1")
    if os.path.exists(llvm):
        os.environ.setdefault("DRJIT_LIBLLVM_PATH", llvm)


def reference_path(scene):
    return scene[:-len(".json")] + ".reference.exr" if scene.endswith(".json") else scene + ".reference.exr"


def read_exr(mi, path):
    return np.array(mi.Bitmap(path), dtype=np.float64)[..., :3]


def errors(img, ref, block=8):
    img = np.asarray(img, dtype=np.float64)
    h, w = (img.shape[0] // block) * block, (img.shape[1] // block) * block

    def down(x):
        return x[:h, :w].reshape(h // block, block, w // block, block, 3).mean(axis=(1, 3))

    return float(np.sqrt(np.mean((img - ref) ** 2))), float(np.sqrt(np.mean((down(img) - down(ref)) ** 2)))


def write_half_exr(mi, img, path):
    """References are stored as half floats: half the bytes of float32 (640x360 fits in ~1.2 MB)
    and a rounding error (relative 2^-11, RMS about 2e-4 at 0.6) far below the 64-spp noise
    that is measured against them."""
    bmp = mi.Bitmap(np.asarray(img, dtype=np.float32))
    bmp.convert(mi.Bitmap.PixelFormat.RGB, mi.Struct.Type.Float16, False).write(path)


def render_np(mi, scene, spp, seed):
    img = mi.render(scene, spp=spp, seed=seed)
    return np.array(img, dtype=np.float64)  # forces evaluation (LLVM variants are lazy)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenes", nargs="*", help="Tessera scene files (default: scenes/M1_meshes.json, scenes/B1_barchart.json)")
    ap.add_argument("--variant", default="llvm_ad_rgb")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--spp", type=int, default=None, help="override the scenes' spp")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sampler", default="independent", help="Mitsuba sampler (independent, multijitter, ldsampler, ...)")
    ap.add_argument("--out", default=os.path.join(HERE, "out"), help="results JSON and images")
    ap.add_argument("--reference", action="store_true", help="write NAME.reference.exr beside each scene")
    ap.add_argument("--ref-spp", type=int, default=16384)
    ap.add_argument("--ref-pass-spp", type=int, default=64)
    ap.add_argument("--ref-seed", type=int, default=987654)
    args = ap.parse_args()

    private_env()
    import drjit as dr
    import mitsuba as mi
    mi.set_variant(args.variant)
    dr.set_thread_count(args.threads)
    mi.set_log_level(mi.LogLevel.Warn)
    os.makedirs(args.out, exist_ok=True)
    meshdir = tempfile.mkdtemp(prefix="tessera_mitsuba_meshes_")
    scenes = args.scenes or DEFAULT_SCENES
    info = {"renderer": "mitsuba", "mitsuba": mi.__version__, "drjit": dr.__version__, "variant": args.variant,
            "threads": dr.thread_count(), "python": platform.python_version(), "sampler": args.sampler,
            "loadavg_start": os.getloadavg(), "results": {}}

    for path in scenes:
        doc = json.load(open(path))
        name = os.path.basename(path)[:-len(".json")]
        w, h = doc["render"]["width"], doc["render"]["height"]
        if args.reference:
            # Independent passes of --ref-pass-spp samples with different seeds: one LLVM
            # wavefront of W x H x 16384 lanes would not fit in memory.
            npass = max(1, args.ref_spp // args.ref_pass_spp)
            t0 = time.perf_counter()
            scene = mi.load_dict(mitsuba_scene.scene_dict(doc, args.ref_pass_spp, meshdir, "independent", name))
            acc = np.zeros((h, w, 3))
            for k in range(npass):
                acc += render_np(mi, scene, args.ref_pass_spp, args.ref_seed + k)
            img = (acc / npass).astype(np.float32)
            out = reference_path(path)
            write_half_exr(mi, img, out)
            res = {"reference": out, "spp": npass * args.ref_pass_spp, "seconds": time.perf_counter() - t0,
                   "mean": float(img.mean())}
            info["results"][name] = res
            print(name, json.dumps(res), flush=True)
            continue
        spp = args.spp or doc["render"]["spp"]
        ref_file = reference_path(path)
        ref = read_exr(mi, ref_file) if os.path.exists(ref_file) else None
        t0 = time.perf_counter()
        d = mitsuba_scene.scene_dict(doc, spp, meshdir, args.sampler, name)
        t1 = time.perf_counter()
        scene = mi.load_dict(d)
        t2 = time.perf_counter()
        render_np(mi, scene, spp, 0)
        t3 = time.perf_counter()
        times, errs = [], []
        for rep in range(args.repeats):
            ta = time.perf_counter()
            img = render_np(mi, scene, spp, 1 + rep)
            times.append(time.perf_counter() - ta)
            if ref is not None:
                errs.append(errors(img, ref))
        med = statistics.median(times)
        res = {"spp": spp, "width": w, "height": h, "max_depth": doc["render"]["max_depth"],
               "dict_build_s": t1 - t0, "load_s": t2 - t1, "first_call_s": t3 - t2, "render_s": times,
               "render_median_s": med, "samples_per_s_median": w * h * spp / med, "loadavg": os.getloadavg(),
               "mean": float(img.mean()), "rmse": [e[0] for e in errs], "rmse_8x8": [e[1] for e in errs]}
        info["results"][name] = res
        mi.Bitmap(img.astype(np.float32)).write(os.path.join(args.out, f"mitsuba_{args.variant}_{args.sampler}_{name}_{spp}spp.exr"))
        rm = f" rmse {statistics.median(res['rmse']):.5f} rmse_8x8 {statistics.median(res['rmse_8x8']):.5f} (medians)" if errs else ""
        print(f"{name}: {w}x{h} spp {spp} {args.sampler}: load {res['load_s']:.3f}s first {res['first_call_s']:.3f}s "
              f"render s {[round(t, 3) for t in times]} median {med:.3f}s -> {res['samples_per_s_median'] / 1e6:.2f} "
              f"Msamples/s mean {res['mean']:.4f}{rm}", flush=True)
    info["loadavg_end"] = os.getloadavg()
    tag = "reference" if args.reference else f"{args.variant}_{args.sampler}"
    with open(os.path.join(args.out, f"mitsuba_{tag}.json"), "w") as f:
        json.dump(info, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
