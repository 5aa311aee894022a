//! Packet traversal: the `N` rays of a group of the wide integrator (paths of one pixel, one
//! per lane; eight with AVX2, sixteen with AVX-512) traced through the 4-wide BVH together.
//!
//! Each node visit tests the node's four child boxes against all the rays, so the node is
//! loaded once for the packet instead of once per ray, and the box arithmetic runs a register
//! of rays per instruction. A lane takes part in a subtree only while its ray entered the
//! subtree's box before its current closest hit, so each lane's answer is the scalar
//! traversal's: same distance bits, and the same primitive unless two are hit at exactly that
//! distance (the visiting order, which decides such ties, is the packet's, not the ray's). A
//! subtree that only one lane enters is handed to the scalar traversal, which tests four boxes
//! against that ray instead of 4N.

use crate::bvh::{Bvh, Node, PacketStack, Stack, STACK, WIDTH};
use crate::geometry::Prim;
use crate::lane::{F, M, U, V};
use crate::math::{Ray, Real, Vec3};

/// `N` rays, lane i = ray i, with reciprocal directions for slab tests.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Rays<const N: usize> {
    /// Origins.
    pub o: V<N>,
    /// Unit directions.
    pub d: V<N>,
    /// 1 / d per component and lane (infinite where d is 0), as [`Ray::new`] computes it.
    pub inv_d: V<N>,
    /// `Ray::skip` per lane.
    pub skip: U<N>,
}

impl<const N: usize> Rays<N> {
    /// Rays from origins and unit directions.
    #[inline(always)]
    pub(crate) fn new(o: V<N>, d: V<N>) -> Rays<N> {
        let one = F::splat(1.0);
        Rays { o, d, inv_d: Vec3::new(one / d.x, one / d.y, one / d.z), skip: U::default() }
    }

    /// Lane `i` as a scalar ray (the same bits as `Ray::new(o_i, d_i)`).
    #[inline(always)]
    pub(crate) fn ray(&self, i: usize) -> Ray {
        Ray { o: self.o.get(i), d: self.d.get(i), inv_d: self.inv_d.get(i), skip: self.skip.0[i] }
    }

    /// Sets lane `i` to `ray`.
    #[inline(always)]
    pub(crate) fn set(&mut self, i: usize, ray: &Ray) {
        self.o.set(i, ray.o);
        self.d.set(i, ray.d);
        self.inv_d.set(i, ray.inv_d);
        self.skip.0[i] = ray.skip;
    }

    /// Packs `N` scalar rays.
    #[cfg(test)]
    pub(crate) fn from_rays(rays: &[Ray; N]) -> Rays<N> {
        let mut r = Rays::default();
        for (i, ray) in rays.iter().enumerate() {
            r.set(i, ray);
        }
        r
    }
}

/// One pending entry of a packet traversal: a node (`count == 0`) or a leaf, with each lane's
/// entry distance into its box, +inf for lanes that did not enter it. A lane takes part when
/// the entry is popped only if it entered before its current closest hit, so the distances are
/// both the lane mask and the cull test.
#[derive(Clone, Copy)]
#[repr(C, align(32))]
pub(crate) struct PacketEntry<const N: usize> {
    tn: F<N>,
    index: u32,
    count: u32,
}

impl<const N: usize> PacketEntry<N> {
    /// A placeholder for the stack's initial contents.
    pub(crate) const EMPTY: PacketEntry<N> = PacketEntry { tn: F([f32::INFINITY; N]), index: 0, count: 0 };
}

/// The packet prepared for box tests: per axis, origins, reciprocal directions and which
/// lanes enter at the max plane (negative direction, including -0).
struct RaysBox<const N: usize> {
    o: [F<N>; 3],
    inv: [F<N>; 3],
    neg: [M<N>; 3],
}

impl<const N: usize> RaysBox<N> {
    #[inline(always)]
    fn new(r: &Rays<N>) -> RaysBox<N> {
        let neg = |v: F<N>| M::from_fn(|i| v.0[i].is_sign_negative());
        RaysBox {
            o: [r.o.x, r.o.y, r.o.z],
            inv: [r.inv_d.x, r.inv_d.y, r.inv_d.z],
            neg: [neg(r.inv_d.x), neg(r.inv_d.y), neg(r.inv_d.z)],
        }
    }
}

/// Per child of `n`: each lane's entry distance into the child's box and whether the lane
/// enters it within (0, `t_max`). Per lane exactly the scalar `slab4` (the same planes, the
/// same operations and max/min operand order, so a NaN plane drops out the same way); a lane
/// with `t_max` = -inf enters nothing.
#[inline(always)]
fn slab_packet<const N: usize>(n: &Node, r: &RaysBox<N>, t_max: F<N>) -> [(F<N>, M<N>); WIDTH] {
    let mut out = [(F::splat(0.0), M::NONE); WIDTH];
    for (c, slot) in out.iter_mut().enumerate() {
        let mut tn = F::splat(0.0);
        let mut tf = t_max;
        for axis in 0..3 {
            let lo = (F::splat(n.b[2 * axis].0[c]) - r.o[axis]) * r.inv[axis];
            let hi = (F::splat(n.b[2 * axis + 1].0[c]) - r.o[axis]) * r.inv[axis];
            let a = F::select(r.neg[axis], hi, lo);
            let b = F::select(r.neg[axis], lo, hi);
            tn = a.fmax(tn);
            tf = b.fmin(tf);
        }
        *slot = (tn, tn.le(tf));
    }
    out
}

/// Pushes the children of `node` that some lane enters onto the stack, farthest first, and
/// returns the nearest with its lanes, to visit next; None when no lane enters any. A child's
/// sort key is the entry distance of its lowest entering lane: 7-10 % fewer instructions than
/// the smallest entry distance over its lanes (callgrind, S1 and B1), whose horizontal minimum
/// costs more than it saves in order. Ties keep child order.
///
/// The four keys go through a sorting network of branch-free compare-exchanges on (distance
/// bits, child) words: an insertion sort's data-dependent branches and its loop over the
/// children cost 4 % of the 1M-triangle scene's instructions (BENCH_NOTES, session 6).
#[inline(always)]
fn descend_packet<const N: usize>(
    node: &Node,
    hits: [(F<N>, M<N>); WIDTH],
    stack: &mut [PacketEntry<N>; STACK],
    sp: &mut usize,
) -> Option<(PacketEntry<N>, M<N>)> {
    // An entry distance is +0, -0 (fmax of zeros) or positive, never NaN: with the sign bit
    // cleared its bits order as its value, and the child in the low word breaks ties in child
    // order. A child no lane enters sorts last.
    let mut keys = [u64::MAX; WIDTH];
    let mut n = 0;
    for (c, key) in keys.iter_mut().enumerate() {
        let bits = hits[c].1.bits();
        if bits != 0 {
            let t = hits[c].0 .0[bits.trailing_zeros() as usize & (N - 1)];
            *key = u64::from(t.to_bits() & 0x7fff_ffff) << 32 | c as u64;
            n += 1;
        }
    }
    if n == 0 {
        return None;
    }
    // The optimal network for four keys.
    const { assert!(WIDTH == 4) };
    for (i, j) in [(0, 1), (2, 3), (0, 2), (1, 3), (1, 2)] {
        let (a, b) = (keys[i], keys[j]);
        (keys[i], keys[j]) = (a.min(b), a.max(b));
    }
    let inf = F::splat(f32::INFINITY);
    let entry = |key: u64| {
        let c = key as u32 as usize & (WIDTH - 1);
        PacketEntry { tn: F::select(hits[c].1, hits[c].0, inf), index: node.child[c], count: node.count[c] }
    };
    for &key in keys[1..n].iter().rev() {
        stack[*sp] = entry(key);
        *sp += 1;
    }
    let c = keys[0] as u32 as usize & (WIDTH - 1);
    Some((entry(keys[0]), hits[c].1))
}

impl Bvh {
    /// Front-to-back packet traversal of the boxes each lane enters in (0, `bound`), calling
    /// `leaf(first prim, count, lanes, bound)` on each leaf for the lanes that entered it, or
    /// `leaf1(lane, first prim, count, bound)` when only one lane did. `bound` is per lane and
    /// may shrink (closest hit) or drop to -inf (lane finished); the traversal stops when a
    /// leaf callback returns true or nothing is left to visit.
    ///
    /// Two callbacks, each called from one place, rather than one called from two: LLVM then
    /// inlines both into the instruction-set copy of the pixel loop. A closure called from two
    /// places stays out of line, compiled for the x86-64 baseline, and there the sixteen-lane
    /// leaf test ran as SSE2 code (11 % of S2's time on an AVX-512 CPU).
    #[inline(always)]
    fn traverse_packet<const N: usize>(
        &self,
        rays: &Rays<N>,
        bound: &mut F<N>,
        stack: &mut Stack,
        mut leaf: impl FnMut(usize, usize, M<N>, &mut F<N>) -> bool,
        mut leaf1: impl FnMut(usize, usize, usize, &mut F<N>) -> bool,
    ) where
        Stack: PacketStack<N>,
    {
        if self.nodes.is_empty() {
            return;
        }
        let r = RaysBox::new(rays);
        let ninf = F::splat(f32::NEG_INFINITY);
        let (stack, one) = stack.packet();
        // Entries below `sp` are this traversal's; `sp` stays below `STACK` by the bound proven
        // in bvh.rs (a visit pushes at most `WIDTH - 1` entries, as the scalar one does).
        let mut sp = 0usize;
        let mut index = 0u32;
        let mut count = 0u32;
        let mut lanes = bound.gt(ninf);
        let skipping = rays.skip != U::default();
        loop {
            if count > 0 {
                if leaf(index as usize, count as usize, lanes, bound) {
                    return;
                }
            } else if lanes.bits().is_power_of_two() {
                // Half the node visits of the 1M-triangle scene's packets have one lane left.
                let i = lanes.bits().trailing_zeros() as usize;
                let mut stop = false;
                self.traverse_from(
                    index,
                    &rays.ray(i),
                    0.0,
                    bound.0[i],
                    one,
                    #[inline(always)]
                    |first, count| {
                        stop = leaf1(i, first, count, bound);
                        if stop {
                            f32::NEG_INFINITY
                        } else {
                            bound.0[i]
                        }
                    },
                );
                if stop {
                    return;
                }
            } else {
                let node = &self.nodes[index as usize];
                let mut hits = slab_packet(node, &r, F::select(lanes, *bound, ninf));
                if skipping {
                    let shapes = &self.shapes[index as usize];
                    for (&shape, hit) in shapes.iter().zip(&mut hits) {
                        if shape != 0 {
                            hit.1 = hit.1 & !M::from_fn(|k| rays.skip.0[k] == shape);
                        }
                    }
                }
                if let Some((e, m)) = descend_packet(node, hits, stack, &mut sp) {
                    (index, count, lanes) = (e.index, e.count, m);
                    continue;
                }
            }
            // Pop the next entry that some lane entered before its closest hit so far.
            loop {
                if sp == 0 {
                    return;
                }
                sp -= 1;
                let e = &stack[sp];
                let m = e.tn.lt(*bound);
                if m.bits() != 0 {
                    (index, count, lanes) = (e.index, e.count, m);
                    break;
                }
            }
        }
    }

    /// Per active lane, the closest hit in (0, `t_max`) of that lane's ray: lane i of the
    /// result is (prim index, t), exactly as `intersect(prims, &rays.ray(i), 0.0, t_max_i)`
    /// (up to which of several primitives hit at the very same distance is named). A lane with
    /// no hit, or not in `active`, gets (`u32::MAX`, its `t_max`).
    #[inline(always)]
    pub(crate) fn intersect_packet<const N: usize>(
        &self,
        prims: &[Prim],
        rays: &Rays<N>,
        active: M<N>,
        t_max: F<N>,
        stack: &mut Stack,
    ) -> ([u32; N], F<N>)
    where
        Stack: PacketStack<N>,
    {
        let ninf = F::splat(f32::NEG_INFINITY);
        // Inactive lanes get an empty interval: they enter no box and hit nothing.
        let mut best_t = F::select(active, t_max, ninf);
        let mut best = [u32::MAX; N];
        // `intersect_lanes` gives each lane `Prim::intersect`'s bits, so the packet's leaf test
        // and the single lane's scalar one agree.
        // (`as_slice_of_cells`: `as_array_of_cells` is newer than the workspace's rust-version.)
        let best1 = std::cell::Cell::from_mut(&mut best[..]).as_slice_of_cells();
        self.traverse_packet(
            rays,
            &mut best_t,
            stack,
            #[inline(always)]
            |first, count, lanes, best_t| {
                for (i, p) in prims[first..first + count].iter().enumerate() {
                    let t = p.intersect_lanes(rays, 0.0, F::select(lanes, *best_t, ninf));
                    let hit = t.lt(*best_t);
                    *best_t = F::select(hit, t, *best_t);
                    let id = (first + i) as u32;
                    for (k, b) in best1.iter().enumerate() {
                        // A blend on the mask's sign bit, as `F::select` (a branch per lane else).
                        let m = ((hit.0[k] as i32) >> 31) as u32;
                        b.set((id & m) | (b.get() & !m));
                    }
                }
                false
            },
            #[inline(always)]
            |lane, first, count, best_t| {
                let ray = rays.ray(lane);
                for (i, p) in prims[first..first + count].iter().enumerate() {
                    let t = p.intersect(&ray, 0.0, best_t.0[lane]);
                    if t < best_t.0[lane] {
                        best_t.0[lane] = t;
                        best1[lane].set((first + i) as u32);
                    }
                }
                false
            },
        );
        let found = M::from_fn(|i| best[i] != u32::MAX);
        (best, F::select(found, best_t, t_max))
    }

    /// Per active lane, whether anything is hit in (0, `t_max`): exactly the scalar
    /// `occluded(prims, &rays.ray(i), 0.0, t_max_i)`. Inactive lanes are false. A lane stops at
    /// its first hit, the packet when every active lane has one.
    #[inline(always)]
    pub(crate) fn occluded_packet<const N: usize>(
        &self,
        prims: &[Prim],
        rays: &Rays<N>,
        active: M<N>,
        t_max: F<N>,
        stack: &mut Stack,
    ) -> M<N>
    where
        Stack: PacketStack<N>,
    {
        let ninf = F::splat(f32::NEG_INFINITY);
        // A lane's bound drops to -inf at its first hit, which retires it from the traversal.
        let mut bound = F::select(active, t_max, ninf);
        let occ = std::cell::Cell::new(M::NONE);
        // A hit retires its lane; the packet stops when every active lane has one.
        let retire = |hit: M<N>, bound: &mut F<N>| {
            occ.set(occ.get() | hit);
            *bound = F::select(hit, ninf, *bound);
            (active & !occ.get()).bits() == 0
        };
        self.traverse_packet(
            rays,
            &mut bound,
            stack,
            #[inline(always)]
            |first, count, lanes, bound| {
                for p in &prims[first..first + count] {
                    // The scalar test's bound is the lane's `t_max` throughout, as here.
                    let t = p.intersect_lanes(rays, 0.0, F::select(lanes, *bound, ninf));
                    let hit = t.lt(*bound);
                    if hit.bits() != 0 && retire(hit, bound) {
                        return true;
                    }
                }
                false
            },
            #[inline(always)]
            |lane, first, count, bound| {
                let ray = rays.ray(lane);
                let t_max = bound.0[lane];
                let hit = prims[first..first + count].iter().any(|p| p.intersect(&ray, 0.0, t_max) < t_max);
                hit && retire(M::from_fn(|k| k == lane), bound)
            },
        );
        occ.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bvh::tests::{soup, Rng};
    use crate::geometry::Kind;
    use crate::lane::{F8, M8, W};
    use crate::math::V3;
    use proptest::prelude::*;

    /// A random primitive of `kind` around the origin, within `extent`.
    fn prim(rng: &mut Rng, kind: Kind, extent: f32) -> Prim {
        let a = rng.v3(extent);
        let (b, c) = match kind {
            Kind::Sphere => (V3::new(0.2 + rng.next(), 0.0, 0.0), V3::ZERO),
            Kind::Quad => (V3::new(0.1 + rng.next(), 0.1 + rng.next(), 0.0), V3::ZERO),
            Kind::Box => (a + V3::new(0.1, 0.1, 0.1) + rng.v3(2.0).max(V3::ZERO), V3::ZERO),
            Kind::Triangle => (rng.v3(2.0), rng.v3(2.0)),
        };
        Prim { kind, material: 0, shape: 0, a, b, c }
    }

    /// Triangles, spheres, quads and boxes mixed, with a ground quad and a duplicate.
    fn mixed(rng: &mut Rng, n: usize, extent: f32) -> Vec<Prim> {
        let mut prims = soup(rng, n / 2, extent, 2.0);
        let kinds = [Kind::Sphere, Kind::Quad, Kind::Box, Kind::Triangle];
        for i in 0..n - n / 2 {
            prims.push(prim(rng, kinds[i % 4], extent));
        }
        prims.push(Prim {
            kind: Kind::Quad,
            material: 0,
            shape: 0,
            a: V3::new(0.0, 0.0, -extent / 2.0),
            b: V3::new(1e4, 1e4, 0.0),
            c: V3::ZERO,
        });
        prims.push(prims[0]);
        prims
    }

    /// `N` rays from origins near `o`: nearly parallel to one direction (`coherent`, one
    /// pixel's camera rays) or in random directions (diffuse bounces).
    fn packet<const N: usize>(rng: &mut Rng, o: V3, coherent: bool) -> [Ray; N] {
        let d0 = rng.dir();
        std::array::from_fn(|_| {
            let d = if coherent { (d0 + rng.v3(0.01)).normalize() } else { rng.dir() };
            Ray::new(o + rng.v3(0.02), d)
        })
    }

    /// A random active mask (never empty) and per-lane bounds, infinite or not.
    fn lanes<const N: usize>(rng: &mut Rng, extent: f32) -> (M<N>, F<N>) {
        let bits = ((rng.next() * (1u32 << N) as f32) as u32).max(1);
        let t_max =
            F(std::array::from_fn(
                |_| if rng.next() < 0.5 { f32::INFINITY } else { rng.next() * extent * 2.0 },
            ));
        (M::from_bits(bits), t_max)
    }

    /// Checks every lane of `intersect_packet` and `occluded_packet` against the scalar queries; returns
    /// how many lanes hit something.
    fn check_packet<const N: usize>(
        bvh: &Bvh,
        prims: &[Prim],
        rays: &[Ray; N],
        active: M<N>,
        t_max: F<N>,
        stack: &mut Stack,
    ) -> usize
    where
        Stack: PacketStack<N>,
    {
        let r8 = Rays::from_rays(rays);
        let (ids, ts) = bvh.intersect_packet(prims, &r8, active, t_max, stack);
        let occ = bvh.occluded_packet(prims, &r8, active, t_max, stack);
        let mut hits = 0;
        for (i, &id) in ids.iter().enumerate() {
            let ray = r8.ray(i);
            let tm = t_max.0[i];
            let got = (id != u32::MAX).then_some((id, ts.0[i]));
            if !active.get(i) {
                assert_eq!((id, ts.0[i].to_bits(), occ.get(i)), (u32::MAX, tm.to_bits(), false), "lane {i}");
                continue;
            }
            let want = bvh.intersect(prims, &ray, 0.0, tm, stack);
            assert_eq!(occ.get(i), bvh.occluded(prims, &ray, 0.0, tm, stack), "lane {i} {ray:?} {tm}");
            match (got, want) {
                (None, None) => assert_eq!(ts.0[i].to_bits(), tm.to_bits()),
                (Some((gi, gt)), Some((wi, wt))) => {
                    hits += 1;
                    assert_eq!(gt.to_bits(), wt.to_bits(), "lane {i} {ray:?}");
                    if gi != wi {
                        // A tie: both primitives are hit at exactly this distance.
                        assert_eq!(prims[gi as usize].intersect(&ray, 0.0, tm).to_bits(), wt.to_bits());
                        assert_eq!(prims[wi as usize].intersect(&ray, 0.0, tm).to_bits(), wt.to_bits());
                    }
                }
                _ => panic!("lane {i}: packet {got:?} vs scalar {want:?} for {ray:?}, t_max {tm}"),
            }
        }
        hits
    }

    /// Packets of `N` rays, of both kinds, from random origins against a mixed scene.
    fn check_scene<const N: usize>(seed: u64, n: usize, packets: usize) -> usize
    where
        Stack: PacketStack<N>,
    {
        let extent = 10.0;
        let mut rng = Rng(seed);
        let mut prims = mixed(&mut rng, n, extent);
        let bvh = Bvh::build(&mut prims);
        let mut stack = Stack::new();
        let mut hits = 0;
        for k in 0..packets {
            let o = rng.v3(extent * 1.5);
            let rays = packet::<N>(&mut rng, o, k % 2 == 0);
            let (active, t_max) = lanes::<N>(&mut rng, extent);
            hits += check_packet(&bvh, &prims, &rays, active, t_max, &mut stack);
        }
        hits
    }

    #[test]
    fn packets_match_scalar_traversal() {
        for (seed, n) in [(1, 1), (2, 7), (3, 300), (4, 3000)] {
            let hits = check_scene::<8>(seed, n, 1500);
            assert!(hits > 500, "seed {seed}: only {hits} lanes hit");
            let hits = check_scene::<16>(seed, n, 750);
            assert!(hits > 500, "seed {seed}, 16 lanes: only {hits} lanes hit");
        }
    }

    #[test]
    fn empty_scene_hits_nothing() {
        let bvh = Bvh::build(&mut Vec::new());
        let mut rng = Rng(5);
        let rays = Rays::from_rays(&packet(&mut rng, V3::ZERO, true));
        let t_max = F8::splat(3.0);
        let mut stack = Stack::new();
        let (ids, ts) = bvh.intersect_packet(&[], &rays, M8::from_bits(0xff), t_max, &mut stack);
        assert_eq!((ids, ts), ([u32::MAX; W], t_max));
        assert_eq!(bvh.occluded_packet(&[], &rays, M8::from_bits(0xff), t_max, &mut stack), M8::NONE);
    }

    /// Shadow-ray packets aimed at points on primitives and bounded just short of them (as
    /// `occluded_matches_the_closest_hit` in bvh.rs), from origins near each other.
    #[test]
    fn shadow_packets_match_scalar_occlusion() {
        let mut rng = Rng(11);
        let mut prims = mixed(&mut rng, 400, 8.0);
        let bvh = Bvh::build(&mut prims);
        let mut stack = Stack::new();
        let (mut occluded, mut open) = (0, 0);
        for _ in 0..2000 {
            let o = rng.v3(14.0);
            let mut t_max = F8::splat(0.0);
            let rays: [Ray; W] = std::array::from_fn(|i| {
                let p = prims[(rng.next() * prims.len() as f32) as usize % prims.len()];
                let target = p.a + rng.v3(0.2);
                let o = o + rng.v3(0.05);
                let d = target - o;
                t_max.0[i] = if rng.next() < 0.3 { f32::INFINITY } else { d.length() * (1.0 - 1e-4) };
                Ray::new(o, d.normalize())
            });
            let active = M8::from_bits(((rng.next() * 256.0) as u32).max(1));
            check_packet(&bvh, &prims, &rays, active, t_max, &mut stack);
            let occ = bvh.occluded_packet(&prims, &Rays::from_rays(&rays), active, t_max, &mut stack);
            occluded += occ.bits().count_ones();
            open += (active & !occ).bits().count_ones();
        }
        assert!(occluded > 1000 && open > 500, "occluded {occluded}, open {open}");
    }

    /// Directions with zero and negative-zero components, so that `inv_d` is infinite, plus
    /// random ones.
    fn awkward_dir(rng: &mut Rng) -> V3 {
        let mut d = rng.dir();
        for axis in 0..3 {
            let u = rng.next();
            let z = if u < 0.15 {
                Some(0.0)
            } else if u < 0.3 {
                Some(-0.0)
            } else {
                None
            };
            if let Some(z) = z {
                match axis {
                    0 => d.x = z,
                    1 => d.y = z,
                    _ => d.z = z,
                }
            }
        }
        if d.x == 0.0 && d.y == 0.0 && d.z == 0.0 {
            d.z = 1.0;
        }
        d.normalize()
    }

    #[test]
    fn prim_intersect_lanes_is_the_scalar_test_per_lane() {
        let mut rng = Rng(3);
        let mut hits = [0usize; 4];
        for (k, kind) in [Kind::Sphere, Kind::Quad, Kind::Box, Kind::Triangle].into_iter().enumerate() {
            for _ in 0..20_000 {
                let p = prim(&mut rng, kind, 2.0);
                let rays: [Ray; W] = std::array::from_fn(|i| {
                    // Origins inside the shape, on its planes, or around it.
                    let o = match i % 4 {
                        0 => p.a + rng.v3(0.1),
                        1 if kind == Kind::Box => {
                            p.a + (p.b - p.a).cmul(V3::new(rng.next(), rng.next(), 0.0))
                        }
                        1 => V3::new(rng.next(), rng.next(), p.a.z),
                        _ => rng.v3(6.0),
                    };
                    let d =
                        if i % 2 == 0 { awkward_dir(&mut rng) } else { (p.a + rng.v3(1.0) - o).normalize() };
                    Ray::new(o, d)
                });
                let r8 = Rays::from_rays(&rays);
                let t_min = if rng.next() < 0.8 { 0.0 } else { rng.next() };
                let t_max =
                    F(std::array::from_fn(
                        |_| if rng.next() < 0.5 { f32::INFINITY } else { rng.next() * 8.0 },
                    ));
                let got = p.intersect_lanes(&r8, t_min, t_max);
                for i in 0..W {
                    let want = p.intersect(&r8.ray(i), t_min, t_max.0[i]);
                    assert_eq!(
                        got.0[i].to_bits(),
                        want.to_bits(),
                        "{p:?} {:?} {t_min} {}",
                        r8.ray(i),
                        t_max.0[i]
                    );
                    hits[k] += usize::from(want.is_finite());
                }
            }
        }
        assert!(hits.iter().all(|&h| h > 10_000), "hits per kind {hits:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        /// Random mixed scenes of any size: every lane of every packet is the scalar answer.
        #[test]
        fn packets_match_scalar_on_random_scenes(seed in any::<u64>(), n in 1usize..2000) {
            check_scene::<8>(seed, n, 200);
            check_scene::<16>(seed, n, 100);
        }
    }
}

/// The packet-versus-scalar benchmark (run with `cargo test --release -p tessera-render --lib
/// -- --ignored --nocapture packet_speed`, or under `valgrind --tool=callgrind` with
/// `PACKET_REPS=1` and the kernels' inclusive counts read with `callgrind_annotate`).
#[cfg(test)]
mod bench {
    use super::*;
    use crate::bvh::tests::Rng;
    use crate::lane::{F8, M8, W};
    use crate::math::Frame;
    use crate::math::V3;
    use crate::PreparedScene;
    use std::time::Instant;

    /// One packet and its active lanes.
    struct Packet {
        rays: Rays<W>,
        active: M8,
    }

    /// Parses and prepares a scene file.
    fn load(path: &std::path::Path) -> PreparedScene {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let scene = tessera_types::scene::Scene::from_json_str(&text).expect("a valid scene");
        PreparedScene::with_base_dir(&scene, path.parent().expect("a directory")).expect("a valid scene")
    }

    /// `n` packets of eight jittered camera rays through one random pixel each, and the
    /// bounce packets from them: per lane whose camera ray hit, a cosine-distributed direction
    /// about the facing normal from the hit point, lifted off as the integrator does.
    fn packets(scene: &PreparedScene, n: usize) -> (Vec<Packet>, Vec<Packet>) {
        let mut rng = Rng(42);
        let mut stack = Stack::new();
        let (mut cam, mut bounce) = (Vec::new(), Vec::new());
        for _ in 0..n {
            let x = (rng.next() * scene.width as f32).floor();
            let y = (rng.next() * scene.height as f32).floor();
            let rays: [Ray; W] = std::array::from_fn(|_| scene.camera.ray(x + rng.next(), y + rng.next()));
            let mut next = rays;
            let mut active = 0u32;
            for (i, ray) in rays.iter().enumerate() {
                let Some((id, t)) = scene.bvh.intersect(&scene.prims, ray, 0.0, f32::INFINITY, &mut stack)
                else {
                    continue;
                };
                let s = scene.prims[id as usize].surface(ray, t);
                let nf = if ray.d.dot(s.n) < 0.0 { s.n } else { -s.n };
                let (u, v) = (rng.next(), rng.next());
                let (r, phi) = (u.sqrt(), 2.0 * std::f32::consts::PI * v);
                let local = V3::new(r * phi.cos(), r * phi.sin(), (1.0 - u).max(0.0).sqrt());
                let o = s.p + nf * (1e-4 * s.p.max_abs().max(1.0));
                next[i] = Ray::new(o, Frame::new(nf).to_world(local).normalize());
                active |= 1 << i;
            }
            cam.push(Packet { rays: Rays::from_rays(&rays), active: M8::from_bits(0xff) });
            if active != 0 {
                bounce.push(Packet { rays: Rays::from_rays(&next), active: M8::from_bits(active) });
            }
        }
        (cam, bounce)
    }

    /// Folds a closest hit into a checksum that both ways of tracing must agree on (ties
    /// aside, which these scenes do not have).
    #[inline(always)]
    fn fold(sum: u64, id: u32, t: f32) -> u64 {
        sum.wrapping_mul(31).wrapping_add(u64::from(id) ^ u64::from(t.to_bits()))
    }

    /// Every active lane of every packet through the scalar `intersect`.
    #[inline(always)]
    fn scalar_intersect(s: &PreparedScene, ps: &[Packet], stack: &mut Stack) -> u64 {
        let mut sum = 0;
        for p in ps {
            for i in 0..W {
                if p.active.get(i) {
                    let hit = s.bvh.intersect(&s.prims, &p.rays.ray(i), 0.0, f32::INFINITY, stack);
                    let (id, t) = hit.unwrap_or((u32::MAX, f32::INFINITY));
                    sum = fold(sum, id, t);
                }
            }
        }
        sum
    }

    /// Every packet through `intersect_packet`.
    #[inline(always)]
    fn packet_intersect(s: &PreparedScene, ps: &[Packet], stack: &mut Stack) -> u64 {
        let mut sum = 0;
        for p in ps {
            let (ids, ts) =
                s.bvh.intersect_packet(&s.prims, &p.rays, p.active, F8::splat(f32::INFINITY), stack);
            for (i, &id) in ids.iter().enumerate() {
                if p.active.get(i) {
                    sum = fold(sum, id, ts.0[i]);
                }
            }
        }
        sum
    }

    /// Every active lane of every packet through the scalar `occluded` (unbounded).
    #[inline(always)]
    fn scalar_occluded(s: &PreparedScene, ps: &[Packet], stack: &mut Stack) -> u64 {
        let mut sum = 0;
        for p in ps {
            for i in 0..W {
                if p.active.get(i) {
                    let occ = s.bvh.occluded(&s.prims, &p.rays.ray(i), 0.0, f32::INFINITY, stack);
                    sum = sum * 3 + u64::from(occ);
                }
            }
        }
        sum
    }

    /// Every packet through `occluded_packet`.
    #[inline(always)]
    fn packet_occluded(s: &PreparedScene, ps: &[Packet], stack: &mut Stack) -> u64 {
        let mut sum = 0;
        for p in ps {
            let occ = s.bvh.occluded_packet(&s.prims, &p.rays, p.active, F8::splat(f32::INFINITY), stack);
            for i in 0..W {
                if p.active.get(i) {
                    sum = sum * 3 + u64::from(occ.get(i));
                }
            }
        }
        sum
    }

    /// A kernel: one query over all packets.
    type Kernel = fn(&PreparedScene, &[Packet], &mut Stack) -> u64;

    /// Compiles each kernel for x86-64-v3 as the integrator's copy is; the names are what
    /// callgrind reports.
    macro_rules! v3 {
        ($($name:ident => $body:ident),*) => {$(
            /// The kernel compiled for x86-64-v3.
            #[inline(never)]
            #[target_feature(enable = "avx2,fma,bmi1,bmi2,lzcnt,movbe,popcnt")]
            fn $name(s: &PreparedScene, ps: &[Packet], stack: &mut Stack) -> u64 {
                $body(s, ps, stack)
            }
        )*};
    }
    v3!(
        v3_scalar_intersect => scalar_intersect,
        v3_packet_intersect => packet_intersect,
        v3_scalar_occluded => scalar_occluded,
        v3_packet_occluded => packet_occluded
    );

    #[test]
    #[ignore = "benchmark: prints scalar x8 versus packet times"]
    fn packet_speed() {
        if !std::arch::is_x86_feature_detected!("avx2")
            || !std::arch::is_x86_feature_detected!("fma")
            || !std::arch::is_x86_feature_detected!("bmi1")
            || !std::arch::is_x86_feature_detected!("bmi2")
            || !std::arch::is_x86_feature_detected!("lzcnt")
            || !std::arch::is_x86_feature_detected!("movbe")
            || !std::arch::is_x86_feature_detected!("popcnt")
        {
            eprintln!("no x86-64-v3 on this CPU");
            return;
        }
        let reps: usize = std::env::var("PACKET_REPS").ok().and_then(|v| v.parse().ok()).unwrap_or(9);
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let scenes = [
            ("S1", root.join("../../../shared/scenes/S1_spheres.json")),
            ("B1", root.join("../../bench/scenes/B1_barchart.json")),
        ];
        let kernels: [(&str, Kernel, Kernel); 2] = [
            // SAFETY (all four): the features were detected above.
            (
                "intersect",
                |s, p, k| unsafe { v3_scalar_intersect(s, p, k) },
                |s, p, k| unsafe { v3_packet_intersect(s, p, k) },
            ),
            (
                "occluded",
                |s, p, k| unsafe { v3_scalar_occluded(s, p, k) },
                |s, p, k| unsafe { v3_packet_occluded(s, p, k) },
            ),
        ];
        // `PACKET_ONLY=S1:camera` runs one case, so that callgrind counts it alone.
        let only = std::env::var("PACKET_ONLY").ok();
        let mut stack = Stack::new();
        for (name, path) in &scenes {
            let scene = load(path);
            let (cam, bounce) = packets(&scene, 4096);
            for (kind, ps) in [("camera", &cam), ("bounce", &bounce)] {
                if only.as_ref().is_some_and(|o| *o != format!("{name}:{kind}")) {
                    continue;
                }
                let lanes: u32 = ps.iter().map(|p| p.active.bits().count_ones()).sum();
                for (query, scalar, packet) in kernels {
                    let (mut ts, mut tp) = (Vec::new(), Vec::new());
                    for _ in 0..reps {
                        let t = Instant::now();
                        let a = scalar(&scene, ps, &mut stack);
                        ts.push(t.elapsed().as_secs_f64());
                        let t = Instant::now();
                        let b = packet(&scene, ps, &mut stack);
                        tp.push(t.elapsed().as_secs_f64());
                        assert_eq!(a, b, "{name} {kind} {query}: the checksums differ");
                    }
                    ts.sort_by(f64::total_cmp);
                    tp.sort_by(f64::total_cmp);
                    let (ms, mp) = (ts[reps / 2], tp[reps / 2]);
                    println!(
                        "{name} {kind:6} {query:9} {} packets, {lanes} rays: scalar x8 {:.1} ns/ray, \
                         packet {:.1} ns/ray, speed-up {:.2}x",
                        ps.len(),
                        ms * 1e9 / f64::from(lanes),
                        mp * 1e9 / f64::from(lanes),
                        ms / mp
                    );
                }
            }
        }
    }
}
