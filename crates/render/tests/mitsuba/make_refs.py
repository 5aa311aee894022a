#!/usr/bin/env python3
"""Renders the Mitsuba 3 references for tests/mitsuba_refs.rs.

Each NAME.json here is a Tessera scene; this script builds the same scene for Mitsuba 3.9.1
(scalar_rgb, path tracer, box filter) and writes NAME.exr. Run it with a Python that has
`mitsuba==3.9.1` (see ../../../../../shared/bench/setup.sh), e.g.

    HOME=/tmp/mtshome python make_refs.py --spp 4096

Material mapping (the same models on both sides): conductor -> roughconductor with
material "none" (reflectance 1 at every angle) scaled by specular_reflectance; dielectric ->
roughdielectric (int_ior, ext_ior 1); glossy -> plastic / roughplastic with nonlinear true (the base's internal
reflections tint its colour: albedo/(1 - albedo·Fdr), as Tessera computes);
point -> point; spot -> spot (beam_width = cutoff: a hard edge); sun (delta) -> directional.
"""
import argparse, json, os, sys
import mitsuba as mi

mi.set_variant("scalar_rgb")
T = mi.ScalarTransform4f


def rgb(v):
    return {"type": "rgb", "value": [float(x) for x in v]}


def bsdf(m):
    t = m["type"]
    d = m.get("distribution", "ggx")
    a = float(m.get("roughness", 0.0))
    if t == "diffuse":
        assert m.get("roughness", 0) == 0, "Mitsuba 3 has no Oren-Nayar"
        return {"type": "diffuse", "reflectance": rgb(m["albedo"])}
    if t == "conductor":
        if a == 0 or d == "sharp":
            return {"type": "conductor", "material": "none", "specular_reflectance": rgb(m["albedo"])}
        return {"type": "roughconductor", "material": "none", "specular_reflectance": rgb(m["albedo"]),
                "distribution": d, "alpha": a}
    if t == "dielectric":
        if a == 0 or d == "sharp":
            return {"type": "dielectric", "int_ior": float(m["ior"]), "ext_ior": 1.0}
        return {"type": "roughdielectric", "int_ior": float(m["ior"]), "ext_ior": 1.0, "distribution": d, "alpha": a}
    if t == "glossy":
        if a == 0 or d == "sharp":
            return {"type": "plastic", "diffuse_reflectance": rgb(m["albedo"]), "int_ior": float(m["ior"]),
                    "ext_ior": 1.0, "nonlinear": True}
        return {"type": "roughplastic", "diffuse_reflectance": rgb(m["albedo"]), "int_ior": float(m["ior"]),
                "ext_ior": 1.0, "nonlinear": True, "distribution": d, "alpha": a}
    if t == "emitter":
        return {"type": "diffuse", "reflectance": rgb([0, 0, 0])}
    raise ValueError(t)


def scene_dict(doc, spp):
    r, cam = doc["render"], doc["camera"]
    d = {
        "type": "scene",
        "integrator": {"type": "path", "max_depth": int(r["max_depth"]), "hide_emitters": False},
        "sensor": {"type": "perspective", "fov_axis": "y", "fov": float(cam["vfov_deg"]), "near_clip": 1e-3,
                   "far_clip": 1e6, "to_world": T().look_at(origin=cam["eye"], target=cam["target"], up=cam["up"]),
                   "sampler": {"type": "independent", "sample_count": spp},
                   "film": {"type": "hdrfilm", "width": r["width"], "height": r["height"], "rfilter": {"type": "box"},
                            "pixel_format": "rgb", "component_format": "float32"}},
    }
    env = doc["environment"]
    if any(env["radiance"]):
        d["env"] = {"type": "constant", "radiance": rgb(env["radiance"])}
    for i, s in enumerate(doc["shapes"]):
        m = doc["materials"][s["material"]]
        if s["type"] == "sphere":
            sh = {"type": "sphere", "center": s["center"], "radius": s["radius"]}
        elif s["type"] == "quad":
            c, hs = s["center"], s["half_size"]
            sh = {"type": "rectangle", "to_world": T().translate(c) @ T().scale([hs[0], hs[1], 1.0])}
        else:
            raise ValueError(s["type"])
        sh["bsdf"] = bsdf(m)
        if m["type"] == "emitter":
            sh["emitter"] = {"type": "area", "radiance": rgb(m["radiance"])}
        d[f"shape_{i:03d}"] = sh
    for i, l in enumerate(doc.get("lights", [])):
        if l["type"] == "point":
            d[f"light_{i}"] = {"type": "point", "position": l["position"], "intensity": rgb(l["intensity"])}
        elif l["type"] == "spot":
            p, dr = l["position"], l["direction"]
            tgt = [p[k] + dr[k] for k in range(3)]
            up = [0, 0, 1] if abs(dr[2]) < 0.99 * sum(x * x for x in dr) ** 0.5 else [0, 1, 0]
            assert l.get("falloff_deg", l["cone_deg"]) == l["cone_deg"], "only hard-edged spots map exactly"
            d[f"light_{i}"] = {"type": "spot", "to_world": T().look_at(origin=p, target=tgt, up=up),
                               "intensity": rgb(l["intensity"]), "cutoff_angle": float(l["cone_deg"]),
                               "beam_width": float(l["cone_deg"])}
        elif l["type"] == "sun":
            assert l.get("angular_radius_deg", 0) == 0
            d[f"light_{i}"] = {"type": "directional", "direction": l["direction"], "irradiance": rgb(l["irradiance"])}
    return d


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
