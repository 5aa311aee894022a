#!/usr/bin/env python3
"""Renders the Mitsuba 3 references for tests/mitsuba_refs.rs.

Each NAME.json here is a Tessera scene; this script builds the same scene for Mitsuba 3.9.1
(scalar_rgb, path tracer, box filter) and writes NAME.exr. Run it with a Python that has
`mitsuba==3.9.1` (see ../../../../../shared/bench/setup.sh), e.g.

    HOME=/tmp/mtshome python make_refs.py --spp 4096

The scene conversion (material and light mapping) is bench/mitsuba_scene.py at the repository
root, shared with bench/bench_mitsuba.py, which makes the larger references in bench/scenes/.
"""
import argparse, json, os, sys
import mitsuba as mi

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../../../bench"))
import mitsuba_scene  # noqa: E402

mi.set_variant("scalar_rgb")


def scene_dict(doc, spp):
    return mitsuba_scene.scene_dict(doc, spp)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spp", type=int, default=4096)
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    names = args.names or sorted(f[:-5] for f in os.listdir(here) if f.endswith(".json"))
    for n in names:
        doc = json.load(open(os.path.join(here, n + ".json")))
        img = mi.render(mi.load_dict(scene_dict(doc, args.spp)), spp=args.spp, seed=1)
        mi.Bitmap(img).write(os.path.join(here, n + ".exr"))
        print(n, "written", file=sys.stderr)


if __name__ == "__main__":
    main()
