#!/usr/bin/env python3
"""Writes the extra benchmark scenes in scenes/ (Tessera scene format, docs/scene-format.md).

    python3 bench/make_scenes.py          # plain Python 3, no packages

M1_meshes.json: S1's layout (../shared/scenes/S1_spheres.json: camera, ground, sphere places)
with every sphere replaced by a triangle mesh and one by a rotated box, so that the BVH, the
triangle test and flat-shaded normals are what is measured. 320x180 so that its Mitsuba
reference stays small in the repository; the same conventions as S1 otherwise.

  red    icosphere, 3 subdivisions (1280 triangles), diffuse
  green  UV sphere, 48 segments x 24 rings (2208 triangles), diffuse
  blue   icosphere, 4 subdivisions (5120 triangles), rough conductor (GGX, roughness 0.25)
  white  box 0.9 x 0.9 x 0.9 turned 30 degrees about Z (12 triangles), diffuse

B1_barchart.json: the 10x10 bar chart of issue 3's targets, from scenes/barchart.data (seed
001's CONFIG/DATA format): one `box` per value on a floor, bar width and separation from CONFIG,
height = value / smallest value x minimum-bar-height (the seed's rule), diffuse bars coloured
by value on a five-step ramp (blue, teal, green, yellow, red), two dark axis bars along the
chart's front and left edges, constant white environment, 640x360, 64 spp, depth 8.

The output is deterministic: the same files every run (coordinates rounded to 6 decimals, so
both renderers read the same numbers).
"""
import json
import math
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SCENES = os.path.join(HERE, "scenes")

CAMERA_S1 = {"type": "perspective", "eye": [0.0, -9.0, 2.2], "target": [0.0, 0.0, 0.7], "up": [0.0, 0.0, 1.0],
             "vfov_deg": 40.0}
WHITE_ENV = {"type": "constant", "radiance": [1.0, 1.0, 1.0]}


def r6(x):
    # Rounded so that the JSON holds short decimals and the Mitsuba side parses the same values.
    v = round(float(x), 6)
    return 0.0 if v == 0 else v


def icosphere(subdiv):
    """Unit icosphere, outward counter-clockwise triangles (as scenelib.icosphere)."""
    t = (1.0 + 5 ** 0.5) / 2.0
    verts = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t),
             (0, -1, -t), (0, 1, -t), (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    verts = [tuple(c / math.sqrt(sum(x * x for x in v)) for c in v) for v in verts]
    faces = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9), (5, 11, 4),
             (11, 10, 2), (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6), (3, 6, 8),
             (3, 8, 9), (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1)]
    for _ in range(subdiv):
        cache = {}

        def mid(a, b):
            key = (min(a, b), max(a, b))
            if key not in cache:
                p = [(verts[a][k] + verts[b][k]) / 2 for k in range(3)]
                n = math.sqrt(sum(x * x for x in p))
                verts.append(tuple(x / n for x in p))
                cache[key] = len(verts) - 1
            return cache[key]

        nf = []
        for a, b, c in faces:
            ab, bc, ca = mid(a, b), mid(b, c), mid(c, a)
            nf += [(a, ab, ca), (b, bc, ab), (c, ca, bc), (ab, bc, ca)]
        faces = nf
    return verts, faces


def uv_sphere(segments, rings):
    """Unit UV sphere with one vertex per pole, outward counter-clockwise triangles."""
    verts = [(0.0, 0.0, 1.0)]
    for r in range(1, rings):
        th = math.pi * r / rings
        for s in range(segments):
            ph = 2 * math.pi * s / segments
            verts.append((math.sin(th) * math.cos(ph), math.sin(th) * math.sin(ph), math.cos(th)))
    verts.append((0.0, 0.0, -1.0))
    faces = [(0, 1 + s, 1 + (s + 1) % segments) for s in range(segments)]
    for r in range(rings - 2):
        for s in range(segments):
            a = 1 + r * segments + s
            b = 1 + r * segments + (s + 1) % segments
            faces += [(a, a + segments, b + segments), (a, b + segments, b)]
    base, last = 1 + (rings - 2) * segments, len(verts) - 1
    faces += [(last, base + (s + 1) % segments, base + s) for s in range(segments)]
    return verts, faces


def box(half, angle_deg):
    """Box centred on the origin, turned about Z, outward counter-clockwise triangles."""
    x, y, z = half
    v = [(-x, -y, -z), (x, -y, -z), (x, y, -z), (-x, y, -z), (-x, -y, z), (x, -y, z), (x, y, z), (-x, y, z)]
    c, s = math.cos(math.radians(angle_deg)), math.sin(math.radians(angle_deg))
    v = [(c * a - s * b, s * a + c * b, h) for a, b, h in v]
    f = [(0, 2, 1), (0, 3, 2), (4, 5, 6), (4, 6, 7), (0, 1, 5), (0, 5, 4),
         (2, 3, 7), (2, 7, 6), (1, 2, 6), (1, 6, 5), (3, 0, 4), (3, 4, 7)]
    return v, f


def mesh_shape(verts, faces, center, scale, material):
    pos = [[r6(center[k] + scale * p[k]) for k in range(3)] for p in verts]
    return {"type": "mesh", "positions": pos, "indices": [list(f) for f in faces], "material": material}


def dump(doc, path):
    # One shape per line: readable headers, mesh arrays kept on their line.
    head = {k: v for k, v in doc.items() if k != "shapes"}
    text = json.dumps(head, indent=1)[:-2] + ',\n "shapes": [\n'
    text += ",\n".join("  " + json.dumps(s, separators=(",", ":")) for s in doc["shapes"])
    text += "\n ]\n}\n"
    with open(path, "w") as f:
        f.write(text)
    json.loads(text)  # the file must stay valid JSON
    print("wrote", os.path.relpath(path), f"({len(text)} bytes)")


def mesh_scene():
    materials = {
        "ground": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5]},
        "red": {"type": "diffuse", "albedo": [0.8, 0.25, 0.2]},
        "green": {"type": "diffuse", "albedo": [0.25, 0.7, 0.3]},
        "brass": {"type": "conductor", "albedo": [0.9, 0.75, 0.45], "roughness": 0.25, "distribution": "ggx"},
        "white": {"type": "diffuse", "albedo": [0.9, 0.9, 0.9]},
    }
    v3, f3 = icosphere(3)
    v4, f4 = icosphere(4)
    vu, fu = uv_sphere(48, 24)
    vb, fb = box((0.45, 0.45, 0.45), 30.0)
    shapes = [
        {"type": "quad", "center": [0.0, 0.0, 0.0], "half_size": [10000.0, 10000.0], "material": "ground"},
        mesh_shape(v3, f3, (-2.4, 0.6, 0.8), 0.8, "red"),
        mesh_shape(vu, fu, (-0.6, -0.5, 0.6), 0.6, "green"),
        mesh_shape(v4, f4, (1.2, 0.3, 1.0), 1.0, "brass"),
        mesh_shape(vb, fb, (2.9, -0.9, 0.45), 1.0, "white"),
    ]
    return {"render": {"width": 320, "height": 180, "spp": 64, "max_depth": 8, "seed": 0},
            "camera": CAMERA_S1, "environment": WHITE_ENV, "materials": materials, "shapes": shapes}


def read_chart(path):
    """The CONFIG and DATA sections of a seed-001 chart file (no VARS: colours come by value)."""
    config, data, section = {}, [], None
    for line in open(path):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.upper() in ("CONFIG", "DATA", "VARS"):
            section = line.upper()
        elif line.upper().startswith("END"):
            section = None
        elif section == "CONFIG":
            key, _, rest = line.replace(":", ";", 1).partition(";")
            config[key.strip()] = [x.strip() for x in rest.replace(",", ";").split(";") if x.strip()]
        elif section == "DATA":
            data.append([float(x) for x in line.split(";")])
    return config, data


def color(text):
    return [float(x) for x in text[len("color("):-1].split(",")]


RAMP = [[0.15, 0.3, 0.8], [0.1, 0.6, 0.65], [0.3, 0.7, 0.25], [0.9, 0.8, 0.2], [0.85, 0.25, 0.15]]


def barchart_scene():
    config, data = read_chart(os.path.join(SCENES, "barchart.data"))
    width, height = (int(x) for x in config["image-size"])
    bar = float(config["bar-width"][0])
    sep_x, sep_y = (float(x) for x in config["bar-separation"])
    min_h = float(config["minimum-bar-height"][0])
    floor = color(",".join(config["floor-color"]))
    strength = float(config["background-strength"][0])
    lo = min(min(r) for r in data)
    hi = max(max(r) for r in data)
    nrows, ncols = len(data), len(data[0])
    materials = {"floor": {"type": "diffuse", "albedo": floor}, "axis": {"type": "diffuse", "albedo": [0.1, 0.1, 0.1]}}
    for k, c in enumerate(RAMP):
        materials[f"bar{k}"] = {"type": "diffuse", "albedo": c}
    shapes = [{"type": "quad", "center": [0.0, 0.0, 0.0], "half_size": [10000.0, 10000.0], "material": "floor"}]
    x0, y0 = -sep_x * (ncols - 1) / 2, -sep_y * (nrows - 1) / 2
    for j, row in enumerate(data):  # the first DATA line is the chart's front row
        for i, v in enumerate(row):
            cx, cy, h = x0 + i * sep_x, y0 + j * sep_y, v / lo * min_h
            k = min(len(RAMP) - 1, int((v - lo) / (hi - lo) * len(RAMP)))
            shapes.append({"type": "box", "min": [r6(cx - bar / 2), r6(cy - bar / 2), 0.0],
                           "max": [r6(cx + bar / 2), r6(cy + bar / 2), r6(h)], "material": f"bar{k}"})
    # Axes: thin bars along the front (X) and left (Y) edges and a vertical one at their corner.
    ex, ey, t = x0 - sep_x / 2, y0 - sep_y / 2, 0.08
    xe, ye = -x0 + sep_x / 2, -y0 + sep_y / 2
    zmax = r6(hi / lo * min_h)
    shapes.append({"type": "box", "min": [r6(ex - t), r6(ey - t), 0.0], "max": [r6(xe), r6(ey), t], "material": "axis"})
    shapes.append({"type": "box", "min": [r6(ex - t), r6(ey), 0.0], "max": [r6(ex), r6(ye), t], "material": "axis"})
    shapes.append({"type": "box", "min": [r6(ex - t), r6(ey - t), 0.0], "max": [r6(ex), r6(ey), zmax], "material": "axis"})
    camera = {"type": "perspective", "eye": [-10.0, -20.0, 12.5], "target": [0.2, 0.4, 0.2], "up": [0.0, 0.0, 1.0],
              "vfov_deg": 40.0}
    return {"render": {"width": width, "height": height, "spp": 64, "max_depth": 8, "seed": 0},
            "camera": camera, "environment": {"type": "constant", "radiance": [strength] * 3},
            "materials": materials, "shapes": shapes}


if __name__ == "__main__":
    dump(mesh_scene(), os.path.join(SCENES, "M1_meshes.json"))
    dump(barchart_scene(), os.path.join(SCENES, "B1_barchart.json"))
