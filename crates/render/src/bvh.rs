//! Bounding volume hierarchy: a 4-wide tree built top-down with binned SAH (subtrees built in
//! parallel), stored as structure-of-arrays nodes so that one ray is tested against four boxes
//! in one pass of 4-lane arithmetic, and traversed front to back with an explicit stack.
//!
//! The build grows each wide node by repeatedly splitting its child with the largest surface
//! area (binary SAH splits, as Embree and pbrt-v4 collapse theirs), so the SAH decides leaf
//! versus split exactly as a binary build would; only the grouping into nodes is wider.
//!
//! A ray that leaves a convex shape skips the children whose primitives all belong to that
//! shape (`Bvh::shapes`, `Ray::skip`, `convex`).

use crate::geometry::{Aabb, Prim};
use crate::math::{Ray, V3};
use crate::packet::PacketEntry;
use crate::simd::F4;

/// Children per node (one SSE register of boxes).
pub(crate) const WIDTH: usize = 4;
const BINS: usize = 16;
/// Most primitives in a leaf.
pub(crate) const MAX_LEAF: usize = 4;
/// Cost of visiting a node relative to intersecting one primitive.
const TRAVERSAL_COST: f32 = 1.0;
/// Binary split levels before the build stops splitting: bounds the build's recursion. It also
/// bounds the traversal stack (see `STACK`).
const MAX_DEPTH: usize = 64;
/// Subtrees with at least this many primitives are built on separate rayon tasks; below it the
/// task overhead and the cost of merging node arrays outweigh the gain.
const PARALLEL_MIN: usize = 8 * 1024;
/// `Node::child` of an unused slot.
pub(crate) const EMPTY: u32 = u32::MAX;

/// Four children's boxes, lane i = child i. `b[2 * axis]` holds the minima on `axis` and
/// `b[2 * axis + 1]` the maxima, so a ray picks its near and far plane per axis by an index
/// computed once from its direction's signs. Unused slots hold an inverted box (min = +inf,
/// max = -inf), which every ray misses: its near distance is +inf and its far distance -inf
/// whatever the sign of the direction, with no 0 * inf to produce a NaN.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Node {
    /// The children's boxes (see above).
    pub(crate) b: [F4; 6],
    /// Inner child: node index. Leaf child: index of its first primitive.
    pub(crate) child: [u32; WIDTH],
    /// 0 for an inner child (or unused slot), else the leaf's primitive count.
    pub(crate) count: [u32; WIDTH],
}

impl Node {
    const EMPTY: Node = Node {
        b: [
            F4::splat(f32::INFINITY),
            F4::splat(f32::NEG_INFINITY),
            F4::splat(f32::INFINITY),
            F4::splat(f32::NEG_INFINITY),
            F4::splat(f32::INFINITY),
            F4::splat(f32::NEG_INFINITY),
        ],
        child: [EMPTY; WIDTH],
        count: [0; WIDTH],
    };

    fn set_bounds(&mut self, lane: usize, bb: &Aabb) {
        for axis in 0..3 {
            self.b[2 * axis].0[lane] = bb.min.axis(axis);
            self.b[2 * axis + 1].0[lane] = bb.max.axis(axis);
        }
    }
}

/// One pending entry of a traversal: a node (`count == 0`) or a leaf, with the distance at
/// which the ray enters its box, so that a pop is skipped once a closer hit is known.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    index: u32,
    count: u32,
    t: f32,
}

/// Most entries a traversal stack can hold: a node visit pushes at most `WIDTH - 1` siblings,
/// and the entries on the stack are siblings of the nodes on the path from the root to the
/// current one, whose length is at most `MAX_DEPTH` (each wide level takes at least one binary
/// split, and the build makes at most `MAX_DEPTH` binary splits on any path).
pub(crate) const STACK: usize = (WIDTH - 1) * MAX_DEPTH + 1;

/// Traversal stack, owned by the caller so that it is set up once per pixel, not per ray.
/// A fixed array indexed by a counter the traversal keeps in a register (a `Vec`'s push and
/// pop cost 46 instructions per traversal on S2), boxed and recycled through a per-thread
/// spare so that a pixel neither zeroes nor allocates it. `None` only while dropped.
pub(crate) struct Stack(Option<Box<Buffers>>);

/// The arrays behind a [`Stack`]: one for single rays and one per packet width
/// (`crate::packet`), in one allocation so that the single-ray traversal's pointer is the
/// allocation's.
#[repr(C)]
pub(crate) struct Buffers {
    /// Single-ray entries.
    one: [Entry; STACK],
    /// Entries of eight-ray packets.
    packet8: [PacketEntry<8>; STACK],
    /// Entries of sixteen-ray packets.
    packet16: [PacketEntry<16>; STACK],
}

thread_local! {
    /// The buffer of the last `Stack` dropped on this thread.
    static SPARE: std::cell::Cell<Option<Box<Buffers>>> = const { std::cell::Cell::new(None) };
}

impl Stack {
    /// An empty stack with room for the deepest traversal.
    pub(crate) fn new() -> Stack {
        let buf = SPARE.take().unwrap_or_else(|| {
            Box::new(Buffers {
                one: [Entry { index: 0, count: 0, t: 0.0 }; STACK],
                packet8: [PacketEntry::EMPTY; STACK],
                packet16: [PacketEntry::EMPTY; STACK],
            })
        });
        Stack(Some(buf))
    }

    /// The single-ray traversal's array.
    #[inline(always)]
    pub(crate) fn one(&mut self) -> &mut [Entry; STACK] {
        &mut self.0.as_deref_mut().expect("a live stack has its buffer").one
    }
}

/// The arrays of a traversal of `N`-ray packets, for the packet widths there are.
pub(crate) trait PacketStack<const N: usize> {
    /// The packet traversal's array and the single-ray one, which it uses for the subtrees
    /// only one of its rays enters.
    fn packet(&mut self) -> (&mut [PacketEntry<N>; STACK], &mut [Entry; STACK]);
}

impl PacketStack<8> for Stack {
    #[inline(always)]
    fn packet(&mut self) -> (&mut [PacketEntry<8>; STACK], &mut [Entry; STACK]) {
        let b = self.0.as_deref_mut().expect("a live stack has its buffer");
        (&mut b.packet8, &mut b.one)
    }
}

impl PacketStack<16> for Stack {
    #[inline(always)]
    fn packet(&mut self) -> (&mut [PacketEntry<16>; STACK], &mut [Entry; STACK]) {
        let b = self.0.as_deref_mut().expect("a live stack has its buffer");
        (&mut b.packet16, &mut b.one)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        SPARE.set(self.0.take());
    }
}

/// The hierarchy over a primitive array, which the build reorders.
#[derive(Debug, Clone)]
pub(crate) struct Bvh {
    /// The nodes, root first (empty for an empty scene).
    pub(crate) nodes: Vec<Node>,
    /// Per node and child: the `Prim::shape` that all the child's primitives share, else 0. A
    /// ray that leaves a convex shape (`Ray::skip`) skips the children of that shape.
    pub(crate) shapes: Vec<[u32; WIDTH]>,
}

/// A ray prepared for box tests: origin and reciprocal direction in every lane, and the index
/// into `Node::b` of the near and far plane per axis.
struct RayBox {
    o: [F4; 3],
    inv: [F4; 3],
    near: [usize; 3],
    far: [usize; 3],
}

impl RayBox {
    #[inline(always)]
    fn new(ray: &Ray) -> RayBox {
        let (o, inv) = (ray.o, ray.inv_d);
        // A negative direction (including -0, whose reciprocal is -inf) enters at the max plane.
        let neg = |v: f32| usize::from(v.is_sign_negative());
        let sx = neg(inv.x);
        let sy = neg(inv.y);
        let sz = neg(inv.z);
        RayBox {
            o: [F4::splat(o.x), F4::splat(o.y), F4::splat(o.z)],
            inv: [F4::splat(inv.x), F4::splat(inv.y), F4::splat(inv.z)],
            near: [sx, 2 + sy, 4 + sz],
            far: [1 - sx, 3 - sy, 5 - sz],
        }
    }
}

/// Entry distances into the node's four boxes and a bit mask of those the ray crosses within
/// (`t_min`, `t_max`).
///
/// The max/min operand order makes a NaN lane (a ray in a box's plane with a zero direction
/// component: 0 * inf) drop out of the reduction rather than poison it, so such a box counts as
/// hit, which is conservative.
#[inline(always)]
fn slab4(n: &Node, r: &RayBox, t_min: f32, t_max: f32) -> (F4, u32) {
    let mut tn = F4::splat(t_min);
    let mut tf = F4::splat(t_max);
    for axis in 0..3 {
        let a = (n.b[r.near[axis]] - r.o[axis]) * r.inv[axis];
        let b = (n.b[r.far[axis]] - r.o[axis]) * r.inv[axis];
        tn = a.max(tn);
        tf = b.min(tf);
    }
    let mask = tn.le_mask(tf);
    (tn, mask)
}

impl Bvh {
    /// Builds the tree and reorders `prims` to match its leaves.
    pub(crate) fn build(prims: &mut Vec<Prim>) -> Bvh {
        if prims.is_empty() {
            return Bvh { nodes: Vec::new(), shapes: Vec::new() };
        }
        let mut refs: Vec<Ref> = {
            use rayon::prelude::*;
            prims
                .par_iter()
                .enumerate()
                .map(|(i, p)| {
                    let b = p.bounds();
                    Ref { min: b.min, prim: i as u32, max: b.max }
                })
                .collect()
        };
        let whole = Kid::of(&refs, 0, refs.len(), 0);
        let mut nodes = Vec::with_capacity(prims.len() / 2 + 1);
        match try_split(&mut refs, &whole) {
            Some((a, b)) => {
                build_inner(&mut refs, 0, [a, b], &mut nodes);
            }
            None => {
                // A single leaf still sits under a root node, so traversal always starts at one.
                let mut root = Node::EMPTY;
                root.set_bounds(0, &whole.bb);
                root.child[0] = 0;
                root.count[0] = refs.len() as u32;
                nodes.push(root);
            }
        }
        *prims = refs.iter().map(|r| prims[r.prim as usize]).collect();
        let mut bvh = Bvh { nodes, shapes: Vec::new() };
        bvh.summarize_shapes(prims);
        bvh
    }

    /// Recomputes `shapes` from the primitives' `Prim::shape`.
    pub(crate) fn summarize_shapes(&mut self, prims: &[Prim]) {
        let nodes = &self.nodes;
        let mut shapes = vec![[0u32; WIDTH]; nodes.len()];
        // A node's children come after it in `nodes` (the build appends a subtree after its
        // root), so a sweep from the back finds every child's summary ready.
        for i in (0..nodes.len()).rev() {
            let n = &nodes[i];
            for k in 0..WIDTH {
                shapes[i][k] = if n.child[k] == EMPTY {
                    0
                } else if n.count[k] > 0 {
                    let first = n.child[k] as usize;
                    common(prims[first..first + n.count[k] as usize].iter().map(|p| p.shape))
                } else {
                    let c = n.child[k] as usize;
                    debug_assert!(c > i, "children follow their parent");
                    common((0..WIDTH).filter(|&j| nodes[c].child[j] != EMPTY).map(|j| shapes[c][j]))
                };
            }
        }
        self.shapes = shapes;
    }

    /// Bit mask of the children of node `index` whose primitives all belong to shape `skip`.
    #[inline(always)]
    fn skipped(&self, index: u32, skip: u32) -> u32 {
        let s = &self.shapes[index as usize];
        (0..WIDTH).fold(0, |m, k| m | (u32::from(s[k] == skip) << k))
    }

    /// Closest hit in (`t_min`, `t_max`): (prim index, t), or None.
    #[inline(always)]
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
        let (mut best, mut best_t) = (u32::MAX, t_max);
        self.traverse_from(0, ray, t_min, t_max, stack.one(), |first, count| {
            for (i, p) in prims[first..first + count].iter().enumerate() {
                let t = p.intersect(ray, t_min, best_t);
                if t < best_t {
                    best_t = t;
                    best = (first + i) as u32;
                }
            }
            best_t
        });
        (best != u32::MAX).then_some((best, best_t))
    }
}

impl Bvh {
    /// Whether anything is hit in (`t_min`, `t_max`): exactly `intersect(..).is_some()`, but
    /// stops at the first hit. Until `intersect` finds its first hit, its bound is `t_max` and
    /// it visits the same nodes in the same order as this query, so both find that hit.
    // Out of line: a second copy of the traversal loop inlined into the integrator perturbs
    // its code generation for every scene, lights or not.
    #[inline(never)]
    pub(crate) fn occluded(
        &self,
        prims: &[Prim],
        ray: &Ray,
        t_min: f32,
        t_max: f32,
        stack: &mut Stack,
    ) -> bool {
        if self.nodes.is_empty() {
            return false;
        }
        let mut hit = false;
        self.traverse_from(0, ray, t_min, t_max, stack.one(), |first, count| {
            hit = prims[first..first + count].iter().any(|p| p.intersect(ray, t_min, t_max) < t_max);
            if hit {
                f32::NEG_INFINITY
            } else {
                t_max
            }
        });
        hit
    }
}

impl Bvh {
    /// Front-to-back traversal of the subtree under the inner node `root` for one ray,
    /// calling `leaf(first prim, count)` on each leaf the ray enters in (`t_min`, bound),
    /// nearest entry first; `leaf` returns the bound from then on (smaller after a hit, -inf
    /// to end the traversal). Root 0 is the whole tree; the packet traversal also uses it for
    /// a subtree that only one of its rays enters, where a node costs a quarter of a packet's
    /// box tests.
    #[inline(always)]
    pub(crate) fn traverse_from(
        &self,
        root: u32,
        ray: &Ray,
        t_min: f32,
        mut bound: f32,
        stack: &mut [Entry; STACK],
        mut leaf: impl FnMut(usize, usize) -> f32,
    ) {
        let r = RayBox::new(ray);
        // Entries below `sp` are this traversal's; the rest are stale and never read. `sp`
        // stays below `STACK` by the bound proven there (an index past it would panic).
        let mut sp = 0usize;
        let mut cur = Entry { index: root, count: 0, t: t_min };
        loop {
            if cur.count > 0 {
                bound = leaf(cur.index as usize, cur.count as usize);
                if bound == f32::NEG_INFINITY {
                    return;
                }
            } else {
                let node = &self.nodes[cur.index as usize];
                let (tn, mut mask) = slab4(node, &r, t_min, bound);
                if ray.skip != 0 {
                    mask &= !self.skipped(cur.index, ray.skip);
                }
                if let Some(next) = descend(node, tn, mask, stack, &mut sp) {
                    cur = next;
                    continue;
                }
            }
            // Pop the next entry that could still hold a closer hit.
            loop {
                if sp == 0 {
                    return;
                }
                sp -= 1;
                let e = stack[sp];
                if e.t < bound {
                    cur = e;
                    break;
                }
            }
        }
    }
}

/// Pushes the children of `node` that the ray enters (`mask`'s lanes, entry distances `tn`)
/// onto the stack farthest first and returns the nearest, to visit next; None when the ray
/// enters none. Ties keep lane order, so the visiting order depends on the tree alone.
#[inline(always)]
fn descend(node: &Node, tn: F4, mut mask: u32, stack: &mut [Entry; STACK], sp: &mut usize) -> Option<Entry> {
    if mask == 0 {
        return None;
    }
    let lane = |i: u32| {
        let i = i as usize;
        Entry { index: node.child[i], count: node.count[i], t: tn.0[i] }
    };
    let e0 = lane(mask.trailing_zeros());
    mask &= mask - 1;
    // One or two children hit is the common case: no sorting loop for them.
    if mask == 0 {
        return Some(e0);
    }
    let e1 = lane(mask.trailing_zeros());
    mask &= mask - 1;
    // Ties keep lane order, as the general case's stable sort does.
    let (near, far) = if e1.t < e0.t { (e1, e0) } else { (e0, e1) };
    if mask == 0 {
        stack[*sp] = far;
        *sp += 1;
        return Some(near);
    }
    // Three or four: insertion sort near to far (stable), push all but the nearest farthest
    // first, visit the nearest.
    let mut hits = [near, far, far, far];
    let mut n = 2;
    while mask != 0 {
        let e = lane(mask.trailing_zeros());
        mask &= mask - 1;
        let mut j = n;
        while j > 0 && hits[j - 1].t > e.t {
            hits[j] = hits[j - 1];
            j -= 1;
        }
        hits[j] = e;
        n += 1;
    }
    for k in (1..n).rev() {
        stack[*sp] = hits[k];
        *sp += 1;
    }
    Some(hits[0])
}

/// The value all of `v` share, else 0 (also for an empty `v`).
fn common(mut v: impl Iterator<Item = u32>) -> u32 {
    let first = v.next().unwrap_or(0);
    if v.all(|x| x == first) {
        first
    } else {
        0
    }
}

/// A primitive's box and its index, as the build moves it around.
#[derive(Clone, Copy)]
struct Ref {
    min: V3,
    prim: u32,
    max: V3,
}

impl Ref {
    /// Twice the centroid: the build only compares centroids, so the halving is skipped.
    #[inline(always)]
    fn c2(&self) -> V3 {
        self.min + self.max
    }
}

/// A range `start..end` of the refs being built, with its bounds, its (doubled) centroid
/// bounds and its binary split depth.
#[derive(Clone, Copy)]
struct Kid {
    start: usize,
    end: usize,
    bb: Aabb,
    cb: Aabb,
    depth: usize,
}

impl Kid {
    fn of(refs: &[Ref], start: usize, end: usize, depth: usize) -> Kid {
        let mut bb = Aabb::EMPTY;
        let mut cb = Aabb::EMPTY;
        for r in &refs[start..end] {
            bb.min = bb.min.min(r.min);
            bb.max = bb.max.max(r.max);
            cb.grow_point(r.c2());
        }
        Kid { start, end, bb, cb, depth }
    }
}

/// One bin of the SAH sweep: the primitive boxes' bounds, their doubled centroids' bounds (so
/// that the two halves of a split need no second pass over their refs) and their count. Lane 3
/// is unused.
#[derive(Clone, Copy)]
struct Bin {
    min: F4,
    max: F4,
    cmin: F4,
    cmax: F4,
    count: u32,
}

impl Bin {
    const EMPTY: Bin = Bin {
        min: F4::splat(f32::INFINITY),
        max: F4::splat(f32::NEG_INFINITY),
        cmin: F4::splat(f32::INFINITY),
        cmax: F4::splat(f32::NEG_INFINITY),
        count: 0,
    };

    #[inline(always)]
    fn merge(&mut self, o: &Bin) {
        self.min = o.min.min(self.min);
        self.max = o.max.max(self.max);
        self.cmin = o.cmin.min(self.cmin);
        self.cmax = o.cmax.max(self.cmax);
        self.count += o.count;
    }

    fn bounds(&self) -> Aabb {
        Aabb { min: v3(self.min), max: v3(self.max) }
    }

    fn cbounds(&self) -> Aabb {
        Aabb { min: v3(self.cmin), max: v3(self.cmax) }
    }
}

#[inline(always)]
fn f4(v: V3) -> F4 {
    F4([v.x, v.y, v.z, 0.0])
}

#[inline(always)]
fn v3(v: F4) -> V3 {
    V3::new(v.0[0], v.0[1], v.0[2])
}

type Bins = [[Bin; BINS]; 3];

/// Adds `refs` to `bins` on all three axes in one pass.
fn bin_refs(refs: &[Ref], lo: F4, scale: F4, bins: &mut Bins) {
    for r in refs {
        let (mn, mx) = (f4(r.min), f4(r.max));
        let c = F4([mn.0[0] + mx.0[0], mn.0[1] + mx.0[1], mn.0[2] + mx.0[2], 0.0]);
        let b = (c - lo) * scale;
        for (axis, bins) in bins.iter_mut().enumerate() {
            // The same float expression as `bin_of`, so binning and partitioning agree.
            let bin = &mut bins[((b.0[axis]) as usize).min(BINS - 1)];
            bin.min = mn.min(bin.min);
            bin.max = mx.max(bin.max);
            bin.cmin = c.min(bin.cmin);
            bin.cmax = c.max(bin.cmax);
            bin.count += 1;
        }
    }
}

/// Refs per parallel binning task. Bins merge by min, max and integer sums, which are exact,
/// so the result does not depend on how the work was split.
const BIN_CHUNK: usize = 32 * 1024;

/// Decides whether `kid` is better split than kept as a leaf and, if so, partitions its refs
/// and returns the two halves.
fn try_split(refs: &mut [Ref], kid: &Kid) -> Option<(Kid, Kid)> {
    let count = kid.end - kid.start;
    if count <= 1 || kid.depth >= MAX_DEPTH {
        return None;
    }
    let slice = &mut refs[kid.start..kid.end];
    // Many identical centroids: any split is as good as another, so halve by position to keep
    // leaves small.
    let median = |refs: &[Ref]| {
        (count > MAX_LEAF).then(|| {
            let m = kid.start + count / 2;
            (Kid::of(refs, kid.start, m, kid.depth + 1), Kid::of(refs, m, kid.end, kid.depth + 1))
        })
    };
    let cb = &kid.cb;
    let mut lo = [0.0f32; 4];
    let mut scale = [0.0f32; 4];
    let mut usable = [false; 3];
    for axis in 0..3 {
        lo[axis] = cb.min.axis(axis);
        let ext = cb.max.axis(axis) - lo[axis];
        usable[axis] = ext > 0.0 && ext.is_finite();
        scale[axis] = if usable[axis] { BINS as f32 / ext } else { 0.0 };
    }
    if !usable.iter().any(|&u| u) {
        return median(refs);
    }
    let (lo, scale) = (F4(lo), F4(scale));
    // On the stack: most splits are of a handful of refs, where allocating and copying the
    // bins cost more than binning them.
    let mut bins = [[Bin::EMPTY; BINS]; 3];
    if slice.len() >= 2 * BIN_CHUNK {
        use rayon::prelude::*;
        let part = |c: &[Ref]| {
            let mut b = Box::new([[Bin::EMPTY; BINS]; 3]);
            bin_refs(c, lo, scale, &mut b);
            b
        };
        bins = *slice.par_chunks(BIN_CHUNK).map(part).reduce_with(|mut a, b| {
            for (a, b) in a.iter_mut().zip(b.iter()) {
                for (a, b) in a.iter_mut().zip(b) {
                    a.merge(b);
                }
            }
            a
        })?;
    } else {
        bin_refs(slice, lo, scale, &mut bins);
    }
    let Some((axis, pos, cost, left, right)) = best_split(&bins, usable) else {
        return median(refs);
    };
    let leaf_cost = count as f32;
    let split_cost = TRAVERSAL_COST + cost / kid.bb.half_area().max(f32::MIN_POSITIVE);
    if count <= MAX_LEAF && split_cost >= leaf_cost {
        return None;
    }
    let (lo, scale) = (lo.0[axis], scale.0[axis]);
    let mid = partition(slice, |r| bin_of(r.c2().axis(axis), lo, scale) < pos);
    if mid == 0 || mid == count {
        return median(refs);
    }
    let m = kid.start + mid;
    let d = kid.depth + 1;
    Some((
        Kid { start: kid.start, end: m, bb: left.bounds(), cb: left.cbounds(), depth: d },
        Kid { start: m, end: kid.end, bb: right.bounds(), cb: right.cbounds(), depth: d },
    ))
}

/// Best binned SAH split: (axis, first bin of the right side, SAH cost numerator, merged left
/// bins, merged right bins).
fn best_split(bins: &Bins, usable: [bool; 3]) -> Option<(usize, usize, f32, Bin, Bin)> {
    let mut best: Option<(usize, usize, f32)> = None;
    for axis in 0..3 {
        if !usable[axis] {
            continue;
        }
        let bins = &bins[axis];
        let mut right_area = [0.0f32; BINS];
        let mut right_count = [0u32; BINS];
        // Empty bins are skipped: merging one changes nothing (min with +inf, max with -inf),
        // so a split just past one costs exactly what the split before it does and never wins
        // the strict comparison. Most splits are of a few refs in mostly empty bins.
        let mut acc = Bin::EMPTY;
        let mut area = acc.bounds().half_area();
        for k in (1..BINS).rev() {
            if bins[k].count != 0 {
                acc.merge(&bins[k]);
                area = acc.bounds().half_area();
            }
            right_area[k] = area;
            right_count[k] = acc.count;
        }
        let mut acc = Bin::EMPTY;
        for k in 1..BINS {
            if bins[k - 1].count == 0 {
                continue;
            }
            acc.merge(&bins[k - 1]);
            let n = acc.count;
            if right_count[k] == 0 {
                continue;
            }
            let cost = acc.bounds().half_area() * n as f32 + right_area[k] * right_count[k] as f32;
            if best.is_none_or(|b| cost < b.2) {
                best = Some((axis, k, cost));
            }
        }
    }
    let (axis, pos, cost) = best?;
    let (mut left, mut right) = (Bin::EMPTY, Bin::EMPTY);
    for (k, b) in bins[axis].iter().enumerate().filter(|(_, b)| b.count != 0) {
        if k < pos {
            left.merge(b);
        } else {
            right.merge(b);
        }
    }
    Some((axis, pos, cost, left, right))
}

#[inline(always)]
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

/// What a kid became while its parent node was being filled.
#[derive(Clone, Copy, PartialEq)]
enum State {
    /// Not yet asked whether it splits.
    Open,
    /// The SAH keeps it as a leaf.
    Leaf,
}

/// Builds the subtree over `refs` (which starts at global primitive position `base`) whose
/// root has the children `init`, appending its nodes to `out` (root first). Returns the root's
/// index in `out`.
fn build_inner(refs: &mut [Ref], base: usize, init: [Kid; 2], out: &mut Vec<Node>) -> u32 {
    let mut kids: Vec<(Kid, State)> = init.iter().map(|&k| (k, State::Open)).collect();
    // Open the kid with the largest surface area until the node is full or all are leaves.
    while kids.len() < WIDTH {
        let pick = kids
            .iter()
            .enumerate()
            .filter(|(_, (_, s))| *s == State::Open)
            .max_by(|a, b| a.1 .0.bb.half_area().total_cmp(&b.1 .0.bb.half_area()))
            .map(|(i, _)| i);
        let Some(i) = pick else { break };
        let kid = kids[i].0;
        match try_split(refs, &kid) {
            Some((a, b)) => {
                kids[i] = (a, State::Open);
                kids.push((b, State::Open));
            }
            None => kids[i].1 = State::Leaf,
        }
    }
    // Children in primitive order, so that the disjoint ranges can be handed out as slices.
    kids.sort_by_key(|(k, _)| k.start);
    let index = out.len();
    out.push(Node::EMPTY);
    let mut node = Node::EMPTY;
    // Decide leaf or inner for each kid; inner ones get the pair to start their node with.
    let mut inner: Vec<(usize, [Kid; 2])> = Vec::new();
    for (lane, (kid, state)) in kids.iter().enumerate() {
        node.set_bounds(lane, &kid.bb);
        let split = if *state == State::Open { try_split(refs, kid) } else { None };
        match split {
            Some((a, b)) => inner.push((lane, [a, b])),
            None => {
                node.child[lane] = (base + kid.start) as u32;
                node.count[lane] = (kid.end - kid.start) as u32;
            }
        }
    }
    let total = refs.len();
    if total >= PARALLEL_MIN && inner.len() > 1 {
        // Build each inner child's subtree into its own array on its own task, then append
        // them in lane order (so the layout is the same whatever the thread count) and shift
        // their node indices.
        let mut jobs: Vec<(usize, usize, &mut [Ref], [Kid; 2])> = Vec::new();
        let mut rest: &mut [Ref] = refs;
        let mut consumed = 0;
        for &(lane, pair) in &inner {
            let (start, end) = (pair[0].start, pair[1].end);
            let tail = std::mem::take(&mut rest);
            let (_, tail) = tail.split_at_mut(start - consumed);
            let (mine, tail) = tail.split_at_mut(end - start);
            rest = tail;
            consumed = end;
            let local = pair.map(|k| Kid { start: k.start - start, end: k.end - start, ..k });
            jobs.push((lane, base + start, mine, local));
        }
        use rayon::prelude::*;
        let subtrees: Vec<(usize, Vec<Node>)> = jobs
            .into_par_iter()
            .map(|(lane, b, slice, pair)| {
                let mut sub = Vec::with_capacity(slice.len() / 2);
                build_inner(slice, b, pair, &mut sub);
                (lane, sub)
            })
            .collect();
        for (lane, sub) in subtrees {
            let off = out.len() as u32;
            node.child[lane] = off;
            out.extend(sub.into_iter().map(|mut n| {
                for k in 0..WIDTH {
                    if n.count[k] == 0 && n.child[k] != EMPTY {
                        n.child[k] += off;
                    }
                }
                n
            }));
        }
    } else {
        for (lane, pair) in inner {
            node.child[lane] = build_inner(refs, base, pair, out);
        }
    }
    out[index] = node;
    index as u32
}

/// Brute-force closest hit, the reference the BVH tests compare against.
#[cfg(test)]
pub(crate) fn brute_force(prims: &[Prim], ray: &Ray, t_min: f32, t_max: f32) -> Option<(u32, f32)> {
    let mut best = None;
    let mut best_t = t_max;
    for (i, p) in prims.iter().enumerate() {
        let t = p.intersect(ray, t_min, best_t);
        if t < best_t {
            best_t = t;
            best = Some((i as u32, t));
        }
    }
    best
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::geometry::Kind;
    use proptest::prelude::*;

    /// A small deterministic generator (SplitMix64), so failures reproduce from the seed.
    pub(crate) struct Rng(pub(crate) u64);
    impl Rng {
        pub(crate) fn next(&mut self) -> f32 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32
        }
        pub(crate) fn v3(&mut self, s: f32) -> V3 {
            V3::new(self.next() * s - s / 2.0, self.next() * s - s / 2.0, self.next() * s - s / 2.0)
        }
        pub(crate) fn dir(&mut self) -> V3 {
            loop {
                let v = self.v3(2.0);
                let l = v.length();
                if l > 0.1 && l <= 1.0 {
                    return v * (1.0 / l);
                }
            }
        }
    }

    pub(crate) fn soup(rng: &mut Rng, n: usize, extent: f32, size: f32) -> Vec<Prim> {
        (0..n)
            .map(|_| {
                let a = rng.v3(extent);
                Prim { kind: Kind::Triangle, material: 0, shape: 0, a, b: rng.v3(size), c: rng.v3(size) }
            })
            .collect()
    }

    /// Compares the BVH with the brute-force loop on `rays` random rays: the same distance,
    /// and the same primitive unless two primitives are hit at exactly that distance.
    fn check(prims: Vec<Prim>, rng: &mut Rng, rays: usize, extent: f32) {
        let mut prims = prims;
        let bvh = Bvh::build(&mut prims);
        let mut stack = Stack::new();
        let mut hits = 0;
        for _ in 0..rays {
            let o = rng.v3(extent * 1.5);
            let ray = Ray::new(o, rng.dir());
            let got = bvh.intersect(&prims, &ray, 0.0, f32::INFINITY, &mut stack);
            let want = brute_force(&prims, &ray, 0.0, f32::INFINITY);
            match (got, want) {
                (None, None) => {}
                (Some((gi, gt)), Some((wi, wt))) => {
                    hits += 1;
                    assert_eq!(gt.to_bits(), wt.to_bits(), "distance differs, ray {ray:?}");
                    if gi != wi {
                        assert_eq!(prims[gi as usize].intersect(&ray, 0.0, f32::INFINITY), wt);
                    }
                }
                _ => panic!("BVH {got:?} vs brute force {want:?} for {ray:?}"),
            }
        }
        assert!(hits > 0, "no ray hit anything: the test would prove nothing");
    }

    #[test]
    fn large_triangle_soup_matches_brute_force() {
        let mut rng = Rng(1);
        let prims = soup(&mut rng, 20_000, 20.0, 1.0);
        check(prims, &mut rng, 3000, 20.0);
    }

    #[test]
    fn mixed_shapes_and_duplicates_match_brute_force() {
        let mut rng = Rng(2);
        let mut prims = soup(&mut rng, 300, 10.0, 2.0);
        for _ in 0..50 {
            prims.push(Prim {
                kind: Kind::Sphere,
                material: 0,
                shape: 0,
                a: rng.v3(10.0),
                b: V3::new(0.5, 0.0, 0.0),
                c: V3::ZERO,
            });
        }
        prims.push(Prim {
            kind: Kind::Quad,
            material: 0,
            shape: 0,
            a: V3::ZERO,
            b: V3::new(100.0, 100.0, 0.0),
            c: V3::ZERO,
        });
        // Identical triangles (no centroid spread at all) exercise the median fallback.
        let t = prims[0];
        prims.extend(std::iter::repeat_n(t, 40));
        check(prims, &mut rng, 3000, 10.0);
    }

    #[test]
    fn axis_aligned_rays_in_box_planes_are_not_lost() {
        // Rays with zero direction components lying exactly in the slab planes of boxes.
        let mut prims: Vec<Prim> = (0..64)
            .map(|i| {
                let x = (i % 8) as f32;
                let y = (i / 8) as f32;
                Prim {
                    kind: Kind::Box,
                    material: 0,
                    shape: 0,
                    a: V3::new(x, y, 0.0),
                    b: V3::new(x + 1.0, y + 1.0, 1.0),
                    c: V3::ZERO,
                }
            })
            .collect();
        let bvh = Bvh::build(&mut prims);
        let mut stack = Stack::new();
        for i in 0..9 {
            for d in [V3::new(1.0, 0.0, 0.0), V3::new(-1.0, 0.0, 0.0), V3::new(0.0, 1.0, 0.0)] {
                let o = V3::new(
                    if d.x < 0.0 { 20.0 } else { -5.0 },
                    if d.y > 0.0 { -5.0 } else { i as f32 },
                    0.5,
                );
                let ray = Ray::new(o, d);
                assert_eq!(
                    bvh.intersect(&prims, &ray, 0.0, f32::INFINITY, &mut stack).map(|h| h.1),
                    brute_force(&prims, &ray, 0.0, f32::INFINITY).map(|h| h.1)
                );
            }
        }
    }

    /// `occluded` equals `intersect(..).is_some()`, on rays aimed at points of random
    /// primitives of a mixed scene with touching, coplanar and duplicated shapes, bounded just
    /// short of the aimed-at point (as shadow rays to point lights are) or not at all.
    #[test]
    fn occluded_matches_the_closest_hit() {
        let mut rng = Rng(7);
        let mut prims = soup(&mut rng, 400, 8.0, 2.0);
        for i in 0..60 {
            let a = rng.v3(8.0);
            prims.push(match i % 3 {
                0 => Prim {
                    kind: Kind::Sphere,
                    material: 0,
                    shape: 0,
                    a,
                    b: V3::new(0.2 + rng.next(), 0.0, 0.0),
                    c: V3::ZERO,
                },
                1 => Prim {
                    kind: Kind::Quad,
                    material: 0,
                    shape: 0,
                    a,
                    b: V3::new(0.1 + rng.next(), 0.1 + rng.next(), 0.0),
                    c: V3::ZERO,
                },
                _ => Prim {
                    kind: Kind::Box,
                    material: 0,
                    shape: 0,
                    a,
                    b: a + V3::new(0.1, 0.2, 0.3) + rng.v3(0.1),
                    c: V3::ZERO,
                },
            });
        }
        for k in 0..4 {
            let a = V3::new(k as f32, 0.5, 2.0);
            prims.push(Prim {
                kind: Kind::Quad,
                material: 0,
                shape: 0,
                a,
                b: V3::new(0.5, 0.5, 0.0),
                c: V3::ZERO,
            });
        }
        let dup = prims.len() - 1;
        prims.push(prims[dup]);
        prims.push(prims[0]);
        let bvh = Bvh::build(&mut prims);
        let mut stack = Stack::new();
        let (mut hit, mut missed) = (0, 0);
        for _ in 0..20_000 {
            let p = prims[(rng.next() * prims.len() as f32) as usize % prims.len()];
            let (u, v) = (rng.next(), rng.next());
            let target = match p.kind {
                Kind::Sphere => p.a + rng.dir() * p.b.x,
                Kind::Quad => p.a + V3::new((2.0 * u - 1.0) * p.b.x, (2.0 * v - 1.0) * p.b.y, 0.0),
                Kind::Box => p.a + (p.b - p.a).cmul(V3::new(u, v, rng.next())),
                Kind::Triangle => {
                    let (u, v) = if u + v > 1.0 { (1.0 - u, 1.0 - v) } else { (u, v) };
                    p.a + p.b * u + p.c * v
                }
            };
            let o = rng.v3(14.0);
            let d = target - o;
            let ray = Ray::new(o, d * (1.0 / d.length()));
            let t_max = if rng.next() < 0.3 { f32::INFINITY } else { d.length() * (1.0 - 1e-4) };
            let got = bvh.occluded(&prims, &ray, 0.0, t_max, &mut stack);
            assert_eq!(got, bvh.intersect(&prims, &ray, 0.0, t_max, &mut stack).is_some(), "{ray:?}");
            if got {
                hit += 1;
            } else {
                missed += 1;
            }
        }
        assert!(hit > 1000 && missed > 1000, "occluded {hit}, unoccluded {missed}");
    }

    /// The build-time benchmark for the 1M-triangle target (run with
    /// `cargo test --release -p tessera-render --lib -- --ignored --nocapture build_1m`):
    /// a 1000 x 500 height-field terrain, 1M triangles, built on rayon's global pool.
    #[test]
    #[ignore = "benchmark: prints the build time of 1M triangles"]
    fn build_1m_triangles() {
        let (nx, ny) = (1000usize, 500usize);
        let h = |x: usize, y: usize| ((x as f32 * 0.05).sin() * (y as f32 * 0.07).cos()) * 0.5;
        let p = |x: usize, y: usize| V3::new(x as f32 * 0.01, y as f32 * 0.01, h(x, y));
        let mut prims = Vec::with_capacity(2 * nx * ny);
        for y in 0..ny {
            for x in 0..nx {
                let (a, b, c, d) = (p(x, y), p(x + 1, y), p(x, y + 1), p(x + 1, y + 1));
                prims.push(Prim { kind: Kind::Triangle, material: 0, shape: 0, a, b: b - a, c: c - a });
                prims.push(Prim { kind: Kind::Triangle, material: 0, shape: 0, a: b, b: d - b, c: c - b });
            }
        }
        let mut times = Vec::new();
        for _ in 0..3 {
            let mut v = prims.clone();
            let t = std::time::Instant::now();
            let bvh = Bvh::build(&mut v);
            times.push(t.elapsed().as_secs_f64());
            assert!(!bvh.nodes.is_empty());
        }
        times.sort_by(f64::total_cmp);
        println!(
            "BVH build, {} triangles, {} rayon threads: {:?} s, median {:.3} s",
            prims.len(),
            rayon::current_num_threads(),
            times,
            times[1]
        );
    }

    /// `best_split` as it was before it skipped empty bins: every bin merged, every split
    /// position costed. The oracle for the test below.
    fn best_split_dense(bins: &Bins, usable: [bool; 3]) -> Option<(usize, usize, f32, Bin, Bin)> {
        let mut best: Option<(usize, usize, f32)> = None;
        for axis in (0..3).filter(|&a| usable[a]) {
            for pos in 1..BINS {
                let (mut left, mut right) = (Bin::EMPTY, Bin::EMPTY);
                bins[axis][..pos].iter().for_each(|b| left.merge(b));
                bins[axis][pos..].iter().rev().for_each(|b| right.merge(b));
                if left.count == 0 || right.count == 0 {
                    continue;
                }
                let cost = left.bounds().half_area() * left.count as f32
                    + right.bounds().half_area() * right.count as f32;
                if best.is_none_or(|b| cost < b.2) {
                    best = Some((axis, pos, cost));
                }
            }
        }
        let (axis, pos, cost) = best?;
        let (mut left, mut right) = (Bin::EMPTY, Bin::EMPTY);
        bins[axis][..pos].iter().for_each(|b| left.merge(b));
        bins[axis][pos..].iter().for_each(|b| right.merge(b));
        Some((axis, pos, cost, left, right))
    }

    /// A split's result as bits, for exact comparison.
    fn split_bits(s: Option<(usize, usize, f32, Bin, Bin)>) -> Option<(usize, usize, u32, Vec<u32>)> {
        s.map(|(axis, pos, cost, l, r)| {
            let lanes = [l.min, l.max, l.cmin, l.cmax, r.min, r.max, r.cmin, r.cmax];
            let mut bits: Vec<u32> = lanes.iter().flat_map(|f| f.0.map(f32::to_bits)).collect();
            bits.extend([l.count, r.count]);
            (axis, pos, cost.to_bits(), bits)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Skipping empty bins picks exactly the split, cost and halves of the full sweep, so
        /// the tree is the one the full sweep built: bins mostly empty (small splits), mostly
        /// full, and with equal boxes, whose costs tie.
        #[test]
        fn best_split_skipping_empty_bins_matches_the_full_sweep(seed in any::<u64>(), fill in 0.0f32..1.0, ties in any::<bool>()) {
            let mut rng = Rng(seed);
            let mut bins = [[Bin::EMPTY; BINS]; 3];
            let shared = (rng.v3(4.0), rng.v3(4.0));
            for bin in bins.iter_mut().flatten() {
                if rng.next() < fill {
                    let (a, b) = if ties { shared } else { (rng.v3(4.0), rng.v3(4.0)) };
                    let (c, d) = (rng.v3(4.0), rng.v3(4.0));
                    *bin = Bin {
                        min: f4(a.min(b)),
                        max: f4(a.max(b)),
                        cmin: f4(c.min(d)),
                        cmax: f4(c.max(d)),
                        count: 1 + (rng.next() * 5.0) as u32,
                    };
                }
            }
            let usable = [rng.next() < 0.8, rng.next() < 0.8, true];
            prop_assert_eq!(split_bits(best_split(&bins, usable)), split_bits(best_split_dense(&bins, usable)));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        /// Random soups of any size (including ones small enough for a single leaf) and random
        /// rays: the wide BVH finds what the brute-force loop finds.
        #[test]
        fn wide_bvh_matches_brute_force_on_random_rays(seed in any::<u64>(), n in 1usize..3000, size in 0.01f32..4.0) {
            let mut rng = Rng(seed);
            let prims = soup(&mut rng, n, 10.0, size);
            let mut prims2 = prims.clone();
            let bvh = Bvh::build(&mut prims2);
            let mut stack = Stack::new();
            for _ in 0..200 {
                let ray = Ray::new(rng.v3(15.0), rng.dir());
                let got = bvh.intersect(&prims2, &ray, 0.0, f32::INFINITY, &mut stack).map(|h| h.1.to_bits());
                let want = brute_force(&prims, &ray, 0.0, f32::INFINITY).map(|h| h.1.to_bits());
                prop_assert_eq!(got, want);
            }
        }
    }
}
