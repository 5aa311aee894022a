"""Tessera scene JSON (docs/scene-format.md) -> Mitsuba 3 scene dict, for any variant.

Shared by bench_mitsuba.py (timings and the references of scenes/) and
crates/render/tests/mitsuba/make_refs.py (the small material and light references), so every
reference is built by one converter. Needs numpy and mitsuba (a variant must be set first).

Material mapping (the same models on both sides): conductor -> roughconductor with
material "none" (reflectance 1 at every angle) scaled by specular_reflectance; dielectric ->
roughdielectric (int_ior, ext_ior 1); glossy -> plastic / roughplastic with nonlinear true (the
base's internal reflections tint its colour: albedo/(1 - albedo·Fdr), as Tessera computes);
point -> point; spot -> spot (beam_width = cutoff: a hard edge); sun (delta) -> directional.
Shapes: sphere -> sphere; quad -> rectangle; box and inline mesh (positions + indices) ->
flat-shaded PLY triangle meshes written to `meshdir` (Tessera shades triangles with their
geometric normal, Mitsuba does so with face_normals). Mesh files and transforms are not mapped.
"""
import os

import numpy as np


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


def box_triangles(bmin, bmax):
    """Axis-aligned box -> (8x3 vertices, 12x3 indices), outward counter-clockwise winding."""
    x0, y0, z0 = bmin
    x1, y1, z1 = bmax
    v = [[x0, y0, z0], [x1, y0, z0], [x1, y1, z0], [x0, y1, z0], [x0, y0, z1], [x1, y0, z1], [x1, y1, z1], [x0, y1, z1]]
    f = [[0, 2, 1], [0, 3, 2], [4, 5, 6], [4, 6, 7], [0, 1, 5], [0, 5, 4],
         [2, 3, 7], [2, 7, 6], [1, 2, 6], [1, 6, 5], [3, 0, 4], [3, 4, 7]]
    return v, f


def write_ply(path, v, f):
    """Binary little-endian PLY, positions only (flat shading with face_normals)."""
    v = np.asarray(v, dtype="<f4")
    f = np.asarray(f, dtype="<i4")
    hdr = ("ply\nformat binary_little_endian 1.0\nelement vertex %d\nproperty float x\nproperty float y\n"
           "property float z\nelement face %d\nproperty list uchar int vertex_indices\nend_header\n"
           % (len(v), len(f))).encode()
    rec = np.zeros(len(f), dtype=[("n", "u1"), ("i", "<i4", (3,))])
    rec["n"] = 3
    rec["i"] = f
    with open(path, "wb") as fh:
        fh.write(hdr + v.tobytes() + rec.tobytes())


def scene_dict(doc, spp, meshdir=None, sampler="independent", tag="scene"):
    """The Mitsuba dict of Tessera scene `doc` at `spp`; meshes go to `meshdir` as tag_*.ply."""
    import mitsuba as mi
    T = mi.ScalarTransform4f
    r, cam = doc["render"], doc["camera"]
    assert cam.get("type", "perspective") == "perspective"
    d = {
        "type": "scene",
        "integrator": {"type": "path", "max_depth": int(r["max_depth"]), "hide_emitters": False},
        "sensor": {"type": "perspective", "fov_axis": "y", "fov": float(cam["vfov_deg"]), "near_clip": 1e-3,
                   "far_clip": 1e6, "to_world": T().look_at(origin=cam["eye"], target=cam["target"], up=cam["up"]),
                   "sampler": {"type": sampler, "sample_count": int(spp)},
                   "film": {"type": "hdrfilm", "width": r["width"], "height": r["height"], "rfilter": {"type": "box"},
                            "pixel_format": "rgb", "component_format": "float32"}},
    }
    env = doc["environment"]
    assert env["type"] == "constant"
    if any(env["radiance"]):
        d["env"] = {"type": "constant", "radiance": rgb(env["radiance"])}
    tris = {}  # material -> [(vertices, indices)]: boxes and meshes, one PLY per material
    for i, s in enumerate(doc["shapes"]):
        m = doc["materials"][s["material"]]
        if s["type"] == "sphere":
            sh = {"type": "sphere", "center": s["center"], "radius": s["radius"]}
        elif s["type"] == "quad":
            c, hs = s["center"], s["half_size"]
            sh = {"type": "rectangle", "to_world": T().translate(c) @ T().scale([hs[0], hs[1], 1.0])}
        elif s["type"] == "box":
            tris.setdefault(s["material"], []).append(box_triangles(s["min"], s["max"]))
            continue
        elif s["type"] == "mesh":
            assert "positions" in s and not s.get("transform"), "only inline, untransformed meshes are mapped"
            tris.setdefault(s["material"], []).append((s["positions"], s["indices"]))
            continue
        else:
            raise ValueError(s["type"])
        sh["bsdf"] = bsdf(m)
        if m["type"] == "emitter":
            sh["emitter"] = {"type": "area", "radiance": rgb(m["radiance"])}
        d[f"shape_{i:03d}"] = sh
    for name, parts in tris.items():
        assert meshdir, "this scene has triangles: give a directory for their PLY files"
        vs, fs, off = [], [], 0
        for v, f in parts:
            vs.append(np.asarray(v, dtype=np.float64))
            fs.append(np.asarray(f, dtype=np.int64) + off)
            off += len(v)
        path = os.path.join(meshdir, f"{tag}_{name}.ply")
        write_ply(path, np.concatenate(vs), np.concatenate(fs))
        m = doc["materials"][name]
        sh = {"type": "ply", "filename": path, "face_normals": True, "bsdf": bsdf(m)}
        if m["type"] == "emitter":
            sh["emitter"] = {"type": "area", "radiance": rgb(m["radiance"])}
        d[f"mesh_{name}"] = sh
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
        else:
            raise ValueError(l["type"])
    return d
