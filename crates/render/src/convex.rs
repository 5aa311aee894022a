//! Which shapes are convex, so that a ray leaving one of them skips it.
//!
//! A shape is convex here when every point of it lies on or below the plane of each of its
//! faces (the side the face's normal points away from), to within `tolerance`. A ray that
//! leaves such a shape on the outer side of its face starts `integrator::offset` above that
//! plane, at least ten times the tolerance, and moves away from it, so it cannot meet the
//! shape again: the traversal skips the shape's subtrees for it (`Ray::skip`), which it would
//! otherwise enter at distance 0 and descend to the ray's own leaf. Skipping changes which
//! boxes are visited, never the hit.
//!
//! Spheres, boxes and quads are convex by construction. A mesh is checked face by face against
//! all of its triangles' corners, with the BVH pruning the boxes that lie wholly below the face's
//! plane: for a convex mesh only the boxes that touch the plane near the face are opened.

use crate::bvh::{Bvh, Node, EMPTY, MAX_LEAF, WIDTH};
use crate::geometry::{Kind, Prim};
use crate::math::V3;
use rayon::prelude::*;

/// Clears `Prim::shape` on the primitives of the meshes that are not convex and refreshes the
/// BVH's per-child shape summaries. `prims` must carry their shape's index + 1 (from
/// `prepare::flatten`) and be in the BVH's order.
pub(crate) fn keep_convex(bvh: &mut Bvh, prims: &mut [Prim]) {
    let shapes = prims.iter().map(|p| p.shape).max().unwrap_or(0) as usize;
    let mut triangles: Vec<Vec<u32>> = vec![Vec::new(); shapes + 1];
    for (i, p) in prims.iter().enumerate() {
        if p.kind == Kind::Triangle && p.shape != 0 {
            triangles[p.shape as usize].push(i as u32);
        }
    }
    let mut changed = false;
    for (shape, tris) in triangles.iter().enumerate() {
        if tris.is_empty() || mesh_is_convex(bvh, prims, shape as u32, tris) {
            continue;
        }
        for &i in tris {
            prims[i as usize].shape = 0;
        }
        changed = true;
    }
    if changed {
        bvh.summarize_shapes(prims);
    }
}

/// How far above one of its face planes a point of a convex shape may lie: a tenth of the
/// smallest ray offset (`integrator::offset`, 1e-4 × max(|p|∞, 1)) at any point of the box
/// `lo`..`hi`, so that f32 rounding of a tessellated surface does not make it concave while a
/// ray leaving it still starts well clear of all of it.
fn tolerance(lo: [f64; 3], hi: [f64; 3]) -> f64 {
    // The smallest |p|∞ over the box: per axis the distance of 0 from [lo, hi].
    let nearest = (0..3).map(|a| (lo[a].max(0.0) - hi[a].min(0.0)).max(0.0)).fold(0.0, f64::max);
    1e-5 * nearest.max(1.0)
}

/// An f32 vector, exactly, in f64.
fn exact(v: V3) -> [f64; 3] {
    [v.x, v.y, v.z].map(f64::from)
}

/// The three corners of a triangle primitive, exactly, in f64.
fn corners(p: &Prim) -> [[f64; 3]; 3] {
    let (a, b, c) = (exact(p.a), exact(p.b), exact(p.c));
    [a, [a[0] + b[0], a[1] + b[1], a[2] + b[2]], [a[0] + c[0], a[1] + c[1], a[2] + c[2]]]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Least sine of a triangle's angle at its first corner in a convex mesh (see
/// `integrator::SKIP_COS`).
const SLIVER: f64 = 1e-3;

/// Node visits one face's check may take before the mesh is called not convex: a convex mesh
/// needs a few per BVH level, and a flat region tessellated finely (whose coplanar boxes the
/// bounds cannot prune) is given up on rather than searched in quadratic time.
const VISITS_PER_FACE: usize = 512;

/// Directions and distances of a BVH child's corners seen from the mesh's centre: every corner
/// at offset `d` from it has |d| ≤ `r` and makes an angle of at most α with the unit axis `u`
/// (`cos` and `sin` of α).
#[derive(Clone, Copy)]
struct Cone {
    u: [f64; 3],
    cos: f64,
    sin: f64,
    r: f64,
}

impl Cone {
    /// One corner at offset `d` from the centre (a zero axis when it is the centre).
    fn point(d: [f64; 3]) -> Cone {
        let r = dot(d, d).sqrt();
        let u = if r > 0.0 { d.map(|x| x / r) } else { [0.0; 3] };
        Cone { u, cos: 1.0, sin: 0.0, r }
    }

    /// A cone holding all of `parts`; None when there are none.
    fn around(parts: &[Cone]) -> Option<Cone> {
        let r = parts.iter().map(|p| p.r).reduce(f64::max)?;
        let sum = parts.iter().fold([0.0; 3], |s, p| [s[0] + p.u[0], s[1] + p.u[1], s[2] + p.u[2]]);
        let len = dot(sum, sum).sqrt();
        let whole = Cone { u: [1.0, 0.0, 0.0], cos: -1.0, sin: 0.0, r };
        if len == 0.0 {
            return Some(whole);
        }
        let u = sum.map(|x| x / len);
        // The widest part: its axis's angle θ to `u` plus its own angle α, as a cosine
        // (cos θ cos α - sin θ sin α); past π (cos α < cos(π - θ)) it is the whole sphere.
        let mut cos = 1.0f64;
        for p in parts.iter().filter(|p| p.u != [0.0; 3]) {
            let ct = dot(u, p.u).clamp(-1.0, 1.0);
            if p.cos < -ct {
                return Some(whole);
            }
            let st = (1.0 - ct * ct).sqrt();
            cos = cos.min(ct * p.cos - st * p.sin);
        }
        let cos = cos.clamp(-1.0, 1.0);
        Some(Cone { u, cos, sin: (1.0 - cos * cos).sqrt(), r })
    }
}

/// The cones of a node's children in f32, lane k = child k, as the test in [`Cones::below`]
/// uses them: the axis, cos α, r, r cos α and (r sin α)². A child without a cone (of other or
/// several shapes, or unused) has cos α = -2 and r = +inf, which bounds nothing.
#[derive(Clone, Copy)]
struct Cones {
    u: [[f32; WIDTH]; 3],
    cos: [f32; WIDTH],
    r: [f32; WIDTH],
    r_cos: [f32; WIDTH],
    r_sin2: [f32; WIDTH],
}

impl Cones {
    const NONE: Cones = Cones {
        u: [[0.0; WIDTH]; 3],
        cos: [-2.0; WIDTH],
        r: [f32::INFINITY; WIDTH],
        r_cos: [0.0; WIDTH],
        r_sin2: [0.0; WIDTH],
    };

    fn set(&mut self, k: usize, c: &Cone) {
        for a in 0..3 {
            self.u[a][k] = c.u[a] as f32;
        }
        self.cos[k] = c.cos as f32;
        self.r[k] = c.r as f32;
        self.r_cos[k] = (c.r * c.cos) as f32;
        self.r_sin2[k] = ((c.r * c.sin) * (c.r * c.sin)) as f32;
    }

    /// Bit mask of the children whose corners lie below the plane: a bound on `n · d` over the
    /// corners' offsets `d` from the centre is at most `limit`, for a unit `n`. The bound is the
    /// farthest a direction within the cone reaches along `n` at the largest distance,
    /// r max(0, cos(φ - α)) with φ the angle between `n` and the axis: r when φ ≤ α, else
    /// r cos φ cos α + r sin φ sin α, compared squared to need no square root.
    #[inline]
    fn below(&self, n: [f32; 3], limit: f32) -> u32 {
        let mut mask = 0;
        for k in 0..WIDTH {
            let c = n[0] * self.u[0][k] + n[1] * self.u[1][k] + n[2] * self.u[2][k];
            let rest = limit - c * self.r_cos[k];
            let inside = c >= self.cos[k];
            let below = if inside {
                self.r[k] <= limit
            } else {
                // The bound is never below 0 (a corner may lie at the centre).
                limit >= 0.0 && rest >= 0.0 && (1.0 - c * c) * self.r_sin2[k] <= rest * rest
            };
            mask |= u32::from(below) << k;
        }
        mask
    }
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

/// Whether every corner of the triangles `tris` (all of shape `shape`, indices into `prims`)
/// lies within the tolerance below the plane of each of them, oriented by its winding (the
/// normal `Prim::surface` gives).
fn mesh_is_convex(bvh: &Bvh, prims: &[Prim], shape: u32, tris: &[u32]) -> bool {
    let (mut lo, mut hi, mut sum) = ([f64::INFINITY; 3], [f64::NEG_INFINITY; 3], [0.0; 3]);
    for &i in tris {
        for v in corners(&prims[i as usize]) {
            for a in 0..3 {
                lo[a] = lo[a].min(v[a]);
                hi[a] = hi[a].max(v[a]);
                sum[a] += v[a];
            }
        }
    }
    let tol = tolerance(lo, hi);
    let centre = sum.map(|x| x / (3 * tris.len()) as f64);
    let (cones, radius) = cones(bvh, prims, shape, centre);
    // The f32 cone test is off by at most about 1e-6 of the radius (unit vectors to 1e-7,
    // cosines to 1e-7, products to 6e-8); it prunes a child only this far inside the plane.
    let margin = 4e-6 * radius;
    tris.par_iter()
        .map_init(Vec::new, |stack, &f| {
            let p = &prims[f as usize];
            let (a, b, c) = (exact(p.a), exact(p.b), exact(p.c));
            let n = [b[1] * c[2] - b[2] * c[1], b[2] * c[0] - b[0] * c[2], b[0] * c[1] - b[1] * c[0]];
            let len = dot(n, n).sqrt();
            if len < SLIVER * (dot(b, b) * dot(c, c)).sqrt() {
                // Its f32 normal may be too far off for `SKIP_COS`.
                return false;
            }
            let n = n.map(|x| x / len);
            let limit = dot(n, a) + tol;
            let cone_limit = (limit - dot(n, centre) - margin) as f32;
            let query =
                Query { bvh, prims, shape, cones: &cones, n, limit, n32: n.map(|x| x as f32), cone_limit };
            query.nothing_above(stack)
        })
        .all(|ok| ok)
}

/// The [`Cones`] of each BVH node for the children whose primitives all belong to `shape`, and
/// the largest distance of a corner from `centre`. A leaf's cone is its corners'; an inner
/// child's holds its children's cones (looser than its corners' own, but one sweep of the tree).
fn cones(bvh: &Bvh, prims: &[Prim], shape: u32, centre: [f64; 3]) -> (Vec<Cones>, f64) {
    let nodes = &bvh.nodes;
    let mine = |i: usize, k: usize| bvh.shapes[i][k] == shape;
    let mut cones: Vec<[Option<Cone>; WIDTH]> = (0..nodes.len())
        .into_par_iter()
        .map(|i| {
            let n = &nodes[i];
            std::array::from_fn(|k| {
                if !mine(i, k) || n.count[k] == 0 {
                    return None;
                }
                let first = n.child[k] as usize;
                let leaf = &prims[first..first + n.count[k] as usize];
                let mut points = [Cone::point([0.0; 3]); 3 * MAX_LEAF];
                for (slot, v) in points.iter_mut().zip(leaf.iter().flat_map(corners)) {
                    *slot = Cone::point(sub(v, centre));
                }
                Cone::around(&points[..3 * leaf.len()])
            })
        })
        .collect();
    // Children follow their parent, so a sweep from the back has every child's cones ready.
    for i in (0..nodes.len()).rev() {
        for k in 0..WIDTH {
            if mine(i, k) && nodes[i].count[k] == 0 {
                let below = cones[nodes[i].child[k] as usize];
                let mut parts = [Cone::point([0.0; 3]); WIDTH];
                let mut m = 0;
                for c in below.iter().flatten() {
                    parts[m] = *c;
                    m += 1;
                }
                cones[i][k] = Cone::around(&parts[..m]);
            }
        }
    }
    let radius = cones.iter().flatten().flatten().map(|c| c.r).fold(0.0, f64::max);
    let packed = cones
        .iter()
        .map(|cs| {
            let mut out = Cones::NONE;
            for (k, c) in cs.iter().enumerate() {
                if let Some(c) = c {
                    out.set(k, c);
                }
            }
            out
        })
        .collect();
    (packed, radius)
}

/// One face's check: is any corner of `shape` above `n · v = limit`?
struct Query<'a> {
    bvh: &'a Bvh,
    prims: &'a [Prim],
    shape: u32,
    cones: &'a [Cones],
    n: [f64; 3],
    limit: f64,
    /// `n` in f32, and the bound the cone test must stay under to prune a child.
    n32: [f32; 3],
    cone_limit: f32,
}

impl Query<'_> {
    /// Whether no corner of a triangle of the shape lies above the plane (false also when the
    /// search exceeds its budget).
    fn nothing_above(&self, stack: &mut Vec<u32>) -> bool {
        let (n, limit, shape) = (self.n, self.limit, self.shape);
        stack.clear();
        stack.push(0);
        let mut visits = 0;
        while let Some(index) = stack.pop() {
            visits += 1;
            if visits > VISITS_PER_FACE {
                return false;
            }
            let node = &self.bvh.nodes[index as usize];
            let summary = &self.bvh.shapes[index as usize];
            let below = self.cones[index as usize].below(self.n32, self.cone_limit);
            for (k, &of) in summary.iter().enumerate() {
                // Below by its cone, unused, or of other shapes only: nothing of the shape above.
                if below >> k & 1 != 0
                    || (node.count[k] == 0 && node.child[k] == EMPTY)
                    || (of != 0 && of != shape)
                {
                    continue;
                }
                if of == 0 && box_reach(node, k, n) <= limit {
                    // Several shapes: only the box bounds it.
                    continue;
                }
                if node.count[k] == 0 {
                    stack.push(node.child[k]);
                    continue;
                }
                let first = node.child[k] as usize;
                let leaf = &self.prims[first..first + node.count[k] as usize];
                let above = |p: &Prim| corners(p).iter().any(|&v| dot(n, v) > limit);
                if leaf.iter().any(|p| p.shape == shape && above(p)) {
                    return false;
                }
            }
        }
        true
    }
}

/// The largest `n · v` over child `k`'s box.
fn box_reach(node: &Node, k: usize, n: [f64; 3]) -> f64 {
    (0..3)
        .map(|a| {
            let (min, max) = (f64::from(node.b[2 * a].0[k]), f64::from(node.b[2 * a + 1].0[k]));
            (n[a] * min).max(n[a] * max)
        })
        .sum()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::math::Ray;
    use crate::PreparedScene;
    use serde_json::{json, Value};

    /// A UV sphere mesh shape of `rings` x `segments` quads, wound so its normals point out
    /// (in when `inward`), with vertex `dent` (if any) pulled a tenth of the radius inwards.
    pub(crate) fn uv_sphere(
        c: [f32; 3],
        r: f32,
        rings: u32,
        segs: u32,
        material: &str,
        inward: bool,
        dent: Option<u32>,
    ) -> Value {
        let mut positions = Vec::new();
        for i in 0..=rings {
            let theta = std::f64::consts::PI * f64::from(i) / f64::from(rings);
            for j in 0..segs {
                let phi = 2.0 * std::f64::consts::PI * f64::from(j) / f64::from(segs);
                let k = if dent == Some(i * segs + j) { 0.9 } else { 1.0 };
                let r = f64::from(r) * k;
                positions.push([
                    c[0] + (r * theta.sin() * phi.cos()) as f32,
                    c[1] + (r * theta.sin() * phi.sin()) as f32,
                    c[2] + (r * theta.cos()) as f32,
                ]);
            }
        }
        let mut indices = Vec::new();
        for i in 0..rings {
            for j in 0..segs {
                let (a, b) = (i * segs + j, i * segs + (j + 1) % segs);
                let (c, d) = (a + segs, b + segs);
                for t in [[a, c, b], [b, c, d]] {
                    indices.push(if inward { [t[0], t[2], t[1]] } else { t });
                }
            }
        }
        json!({"type": "mesh", "positions": positions, "indices": indices, "material": material})
    }

    /// `tests/scenes/every_kind.json` at `w` x `h` pixels and `spp` samples, with `extra` shapes.
    pub(crate) fn every_kind_with(extra: Vec<Value>, w: u32, h: u32, spp: u32) -> PreparedScene {
        let mut v: Value = serde_json::from_str(include_str!("../tests/scenes/every_kind.json")).unwrap();
        v["render"]["width"] = w.into();
        v["render"]["height"] = h.into();
        v["render"]["spp"] = spp.into();
        v["shapes"].as_array_mut().unwrap().extend(extra);
        PreparedScene::new(&tessera_types::scene::Scene::from_json_value(v).unwrap()).unwrap()
    }

    /// Meshes beside every kind of material and light: convex spheres, diffuse and glass (whose
    /// refracted rays go inwards, so do not skip), and three that are not convex.
    pub(crate) fn mesh_shapes() -> Vec<Value> {
        vec![
            uv_sphere([0.8, -1.2, 0.4], 0.4, 24, 48, "ground", false, None),
            uv_sphere([-0.6, -1.6, 0.3], 0.3, 16, 32, "glass", false, None),
            uv_sphere([2.2, -0.8, 0.5], 0.5, 24, 48, "plastic", false, Some(12 * 48 + 40)),
            uv_sphere([-2.2, -0.8, 0.5], 0.5, 12, 24, "rough", true, None),
        ]
    }

    /// The `Prim::shape` values left on a prepared scene's primitives.
    fn convex(s: &PreparedScene) -> std::collections::BTreeSet<u32> {
        s.prims.iter().map(|p| p.shape).filter(|&x| x != 0).collect()
    }

    #[test]
    fn convex_meshes_keep_their_shape_and_others_lose_it() {
        let s = every_kind_with(mesh_shapes(), 1, 1, 1);
        // every_kind.json's seven shapes are 1..=7: its one-triangle mesh (6) is convex too.
        // Of the four meshes added (8..=11), the dented and the inside-out sphere are not.
        assert_eq!(convex(&s), [1, 2, 3, 4, 5, 6, 7, 8, 9].into());
        // Two convex spheres as one mesh are not convex together.
        let mut pair = uv_sphere([0.0, -1.0, 0.3], 0.3, 8, 16, "ground", false, None);
        let other = uv_sphere([1.0, -1.0, 0.3], 0.3, 8, 16, "ground", false, None);
        let base = pair["positions"].as_array().unwrap().len() as u64;
        pair["positions"]
            .as_array_mut()
            .unwrap()
            .extend(other["positions"].as_array().unwrap().iter().cloned());
        let shifted: Vec<Value> = other["indices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                json!(t.as_array().unwrap().iter().map(|i| i.as_u64().unwrap() + base).collect::<Vec<_>>())
            })
            .collect();
        pair["indices"].as_array_mut().unwrap().extend(shifted);
        assert!(!convex(&every_kind_with(vec![pair], 1, 1, 1)).contains(&8));
    }

    #[test]
    fn a_tessellated_sphere_is_convex_despite_f32_rounding() {
        // A sphere of the benchmark's 1M scene, made as it makes them: in f32 a sixth of its
        // edges are reflex by rounding, far below the tolerance.
        let (rings, segments) = crate::bench::MESH1M_RINGS_SEGMENTS;
        let mesh = crate::bench::uv_sphere([-0.6, -0.5, 0.6], 0.6, rings, segments, "ground");
        let shape = serde_json::to_value(tessera_types::scene::Shape::Mesh(mesh)).unwrap();
        let s = every_kind_with(vec![shape], 1, 1, 1);
        assert!(convex(&s).contains(&8));
    }

    /// The same scene with every shape's skip switched off.
    fn without_skipping(mut s: PreparedScene) -> PreparedScene {
        for p in &mut s.prims {
            p.shape = 0;
        }
        s.bvh.summarize_shapes(&s.prims);
        s
    }

    #[test]
    fn skipping_changes_no_bits_of_the_image() {
        for spp in [3, 20] {
            let on = every_kind_with(mesh_shapes(), 24, 16, spp);
            let off = without_skipping(every_kind_with(mesh_shapes(), 24, 16, spp));
            let (a, b) = (crate::render_rect(&on, 0, 0, 24, 16), crate::render_rect(&off, 0, 0, 24, 16));
            let first = a.iter().zip(&b).position(|(x, y)| x.to_bits() != y.to_bits());
            assert_eq!(first, None, "{spp} spp: first differing value");
        }
    }

    #[test]
    fn rays_leaving_a_convex_mesh_find_the_same_hit_with_fewer_leaves() {
        let s = every_kind_with(mesh_shapes(), 1, 1, 1);
        let mut rng = crate::bvh::tests::Rng(7);
        let (mut leaves_on, mut leaves_off, mut rays) = (0, 0, 0);
        let mut stack = crate::bvh::Stack::new();
        for (i, p) in s.prims.iter().enumerate().filter(|(_, p)| p.kind == Kind::Triangle && p.shape != 0) {
            if i % 7 != 0 {
                continue;
            }
            let (u, v) = (rng.next() * 0.5, rng.next() * 0.5);
            let at = p.a + p.b * u + p.c * v;
            let n = p.b.cross(p.c).normalize();
            let mut d = rng.dir();
            if d.dot(n) < 0.0 {
                d = -d;
            }
            let o = crate::integrator::leave(at, n, crate::integrator::offset(at), d);
            let off = Ray::new(o, d);
            let on = Ray { skip: crate::integrator::skip(p.shape, n, d), ..off };
            let count = |ray: &Ray, stack: &mut crate::bvh::Stack| {
                let mut leaves = 0;
                s.bvh.traverse_from(0, ray, 0.0, f32::INFINITY, stack.one(), |_, _| {
                    leaves += 1;
                    f32::INFINITY
                });
                leaves
            };
            leaves_on += count(&on, &mut stack);
            leaves_off += count(&off, &mut stack);
            let hit = |ray: &Ray, stack: &mut crate::bvh::Stack| {
                s.bvh.intersect(&s.prims, ray, 0.0, f32::INFINITY, stack)
            };
            assert_eq!(hit(&on, &mut stack), hit(&off, &mut stack), "prim {i}");
            rays += 1;
        }
        assert!(rays > 100, "{rays} rays");
        // Every ray starts inside its own mesh's boxes, which it no longer descends.
        assert!(leaves_on * 2 < leaves_off, "{leaves_on} leaves with skipping, {leaves_off} without");
    }
}
