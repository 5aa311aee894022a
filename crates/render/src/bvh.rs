//! Bounding volume hierarchy: binned SAH build, flat node array, iterative traversal with a
//! fixed stack (no allocation per ray).

use crate::geometry::{Aabb, Prim};
use crate::math::{fmax, fmin, Ray, V3};

/// One node: leaves have `count > 0` and own prims `first..first+count`; inner nodes have
/// `count == 0` and children at `first` and `first + 1` (siblings adjacent, so one index does).
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub(crate) struct Node {
    min: V3,
    first: u32,
    max: V3,
    count: u32,
}

const BINS: usize = 16;
const MAX_LEAF: usize = 4;
/// Cost of visiting a node relative to intersecting one primitive.
const TRAVERSAL_COST: f32 = 1.0;
/// Deep enough for any tree built from the limits' 2M triangles with binned splits; the build
/// falls back to a leaf rather than exceed it.
pub(crate) const STACK: usize = 64;

/// Traversal stack, owned by the caller so that a traversal does not zero it on every ray.
/// Each entry keeps its box's entry distance, so a pop is skipped without a retest once a
/// closer hit has been found.
pub(crate) struct Stack([(u32, f32); STACK]);

impl Stack {
    pub(crate) fn new() -> Stack {
        Stack([(0, 0.0); STACK])
    }
}

/// The hierarchy over a primitive array, which the build reorders.
#[derive(Debug, Clone)]
pub(crate) struct Bvh {
    nodes: Vec<Node>,
}

#[derive(Clone, Copy)]
struct Bin {
    bounds: Aabb,
    count: u32,
}

struct Builder<'a> {
    prims: &'a [Prim],
    bounds: Vec<Aabb>,
    centroids: Vec<V3>,
    order: Vec<u32>,
    nodes: Vec<Node>,
}

impl Bvh {
    /// Builds the tree and reorders `prims` to match its leaves.
    pub(crate) fn build(prims: &mut Vec<Prim>) -> Bvh {
        if prims.is_empty() {
            return Bvh { nodes: Vec::new() };
        }
        let bounds: Vec<Aabb> = prims.iter().map(Prim::bounds).collect();
        let centroids = bounds.iter().map(Aabb::centroid).collect();
        let mut b = Builder {
            prims,
            bounds,
            centroids,
            order: (0..prims.len() as u32).collect(),
            nodes: Vec::with_capacity(2 * prims.len()),
        };
        b.nodes.push(Node { min: V3::ZERO, first: 0, max: V3::ZERO, count: 0 });
        b.split(0, 0, prims.len(), 1);
        let reordered = b.order.iter().map(|&i| b.prims[i as usize]).collect();
        let nodes = std::mem::take(&mut b.nodes);
        *prims = reordered;
        Bvh { nodes }
    }

    /// Closest hit in (`t_min`, `t_max`): (prim index, t), or None.
    #[inline]
    pub(crate) fn intersect(
        &self,
        prims: &[Prim],
        ray: &Ray,
        t_min: f32,
        t_max: f32,
        stack: &mut Stack,
    ) -> Option<(u32, f32)> {
        if self.nodes.is_empty() {
            return None;
        }
        let mut best_t = t_max;
        let mut best = u32::MAX;
        let stack = &mut stack.0;
        let mut sp = 0usize;
        let mut node = &self.nodes[0];
        if slab(node, ray, t_min, best_t) == f32::INFINITY {
            return None;
        }
        loop {
            if node.count > 0 {
                let first = node.first as usize;
                for (i, p) in prims[first..first + node.count as usize].iter().enumerate() {
                    let t = p.intersect(ray, t_min, best_t);
                    if t < best_t {
                        best_t = t;
                        best = (first + i) as u32;
                    }
                }
            } else {
                let l = node.first;
                let tl = slab(&self.nodes[l as usize], ray, t_min, best_t);
                let tr = slab(&self.nodes[l as usize + 1], ray, t_min, best_t);
                let (near, far, tn, tf) = if tl <= tr { (l, l + 1, tl, tr) } else { (l + 1, l, tr, tl) };
                if tn != f32::INFINITY {
                    if tf != f32::INFINITY {
                        stack[sp] = (far, tf);
                        sp += 1;
                    }
                    node = &self.nodes[near as usize];
                    continue;
                }
            }
            // Pop the next node that could still hold a closer hit.
            loop {
                if sp == 0 {
                    return (best != u32::MAX).then_some((best, best_t));
                }
                sp -= 1;
                let (n, t) = stack[sp];
                if t < best_t {
                    node = &self.nodes[n as usize];
                    break;
                }
            }
        }
    }
}

/// Entry distance of the ray into the node's box within (`t_min`, `t_max`), or infinity.
#[inline(always)]
fn slab(n: &Node, ray: &Ray, t_min: f32, t_max: f32) -> f32 {
    let t1 = (n.min - ray.o).cmul(ray.inv_d);
    let t2 = (n.max - ray.o).cmul(ray.inv_d);
    let lo = t1.min(t2);
    let hi = t1.max(t2);
    let tn = fmax(fmax(fmax(lo.x, lo.y), lo.z), t_min);
    let tf = fmin(fmin(fmin(hi.x, hi.y), hi.z), t_max);
    if tn <= tf {
        tn
    } else {
        f32::INFINITY
    }
}

impl Builder<'_> {
    fn split(&mut self, node: usize, start: usize, end: usize, depth: usize) {
        let mut bb = Aabb::EMPTY;
        let mut cb = Aabb::EMPTY;
        for &i in &self.order[start..end] {
            bb.grow(&self.bounds[i as usize]);
            cb.grow_point(self.centroids[i as usize]);
        }
        self.nodes[node].min = bb.min;
        self.nodes[node].max = bb.max;
        let count = end - start;
        let leaf = |s: &mut Self| {
            s.nodes[node].first = start as u32;
            s.nodes[node].count = count as u32;
        };
        // The stack holds at most one entry per level, so never build deeper than it.
        if count <= 1 || depth >= STACK - 1 {
            return leaf(self);
        }
        let Some((axis, pos, cost)) = self.best_split(start, end, &cb) else {
            return leaf(self);
        };
        let leaf_cost = count as f32;
        let split_cost = TRAVERSAL_COST + cost / bb.half_area().max(f32::MIN_POSITIVE);
        if count <= MAX_LEAF && split_cost >= leaf_cost {
            return leaf(self);
        }
        let (lo, ext) = (cb.min.axis(axis), cb.max.axis(axis) - cb.min.axis(axis));
        let scale = BINS as f32 / ext;
        let cents = &self.centroids;
        let mid = start
            + partition(&mut self.order[start..end], |&i| {
                bin_of(cents[i as usize].axis(axis), lo, scale) < pos
            });
        if mid == start || mid == end {
            return leaf(self);
        }
        let children = self.nodes.len();
        self.nodes.push(Node { min: V3::ZERO, first: 0, max: V3::ZERO, count: 0 });
        self.nodes.push(Node { min: V3::ZERO, first: 0, max: V3::ZERO, count: 0 });
        self.nodes[node].first = children as u32;
        self.nodes[node].count = 0;
        self.split(children, start, mid, depth + 1);
        self.split(children + 1, mid, end, depth + 1);
    }

    /// Best binned SAH split: (axis, first bin of the right side, SAH cost numerator).
    fn best_split(&self, start: usize, end: usize, cb: &Aabb) -> Option<(usize, usize, f32)> {
        let mut best: Option<(usize, usize, f32)> = None;
        for axis in 0..3 {
            let lo = cb.min.axis(axis);
            let ext = cb.max.axis(axis) - lo;
            if ext.is_nan() || ext <= 0.0 {
                continue;
            }
            let scale = BINS as f32 / ext;
            let mut bins = [Bin { bounds: Aabb::EMPTY, count: 0 }; BINS];
            for &i in &self.order[start..end] {
                let b = &mut bins[bin_of(self.centroids[i as usize].axis(axis), lo, scale)];
                b.bounds.grow(&self.bounds[i as usize]);
                b.count += 1;
            }
            let mut right_area = [0.0f32; BINS];
            let mut right_count = [0u32; BINS];
            let mut acc = Aabb::EMPTY;
            let mut n = 0;
            for k in (1..BINS).rev() {
                acc.grow(&bins[k].bounds);
                n += bins[k].count;
                right_area[k] = acc.half_area();
                right_count[k] = n;
            }
            let mut acc = Aabb::EMPTY;
            let mut n = 0;
            for k in 1..BINS {
                acc.grow(&bins[k - 1].bounds);
                n += bins[k - 1].count;
                if n == 0 || right_count[k] == 0 {
                    continue;
                }
                let cost = acc.half_area() * n as f32 + right_area[k] * right_count[k] as f32;
                if best.is_none_or(|b| cost < b.2) {
                    best = Some((axis, k, cost));
                }
            }
        }
        best
    }
}

#[inline]
fn bin_of(c: f32, lo: f32, scale: f32) -> usize {
    (((c - lo) * scale) as usize).min(BINS - 1)
}

/// In-place partition; returns how many elements satisfy `pred` (they end up first).
fn partition<T>(v: &mut [T], pred: impl Fn(&T) -> bool) -> usize {
    let mut i = 0;
    for j in 0..v.len() {
        if pred(&v[j]) {
            v.swap(i, j);
            i += 1;
        }
    }
    i
}
