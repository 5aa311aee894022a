//! Primitives: spheres, quads, boxes and triangles in one flat, enum-dispatched array (no
//! virtual calls in the hot loop).

use crate::lane::splat3;
use crate::lane::F;
use crate::math::{Ray, Real, V3};
use crate::packet::Rays;

/// Which intersection routine a primitive uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `a` = centre, `b.x` = radius.
    Sphere,
    /// `a` = centre, `b.x`/`b.y` = half sizes; plane z = a.z, normal +Z.
    Quad,
    /// `a` = min, `b` = max.
    Box,
    /// `a` = p0, `b` = p1 - p0, `c` = p2 - p0.
    Triangle,
}

/// One intersectable primitive with its material index.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prim {
    pub kind: Kind,
    pub material: u32,
    /// 1 + the index of the scene shape this primitive belongs to when that shape is convex
    /// (`convex::keep_convex`), else 0. A ray leaving the shape outwards skips its primitives.
    pub shape: u32,
    pub a: V3,
    pub b: V3,
    pub c: V3,
}

/// Axis-aligned bounds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Aabb {
    pub min: V3,
    pub max: V3,
}

impl Aabb {
    pub(crate) const EMPTY: Aabb = Aabb { min: V3::splat(f32::INFINITY), max: V3::splat(f32::NEG_INFINITY) };

    #[inline]
    pub(crate) fn grow_point(&mut self, p: V3) {
        self.min = self.min.min(p);
        self.max = self.max.max(p);
    }

    /// Half the surface area (the SAH only needs ratios).
    #[inline]
    pub(crate) fn half_area(&self) -> f32 {
        let e = self.max - self.min;
        if e.x < 0.0 {
            return 0.0;
        }
        e.x * e.y + e.y * e.z + e.z * e.x
    }
}

/// Surface data at a hit, computed only for the closest hit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Surface {
    /// Hit point, snapped onto the surface where the shape allows.
    pub p: V3,
    /// Unit geometric normal; outward for closed shapes, +Z / winding order for open ones.
    pub n: V3,
    /// Whether the shape encloses a volume (sphere, box): then `n` tells inside from outside.
    pub closed: bool,
    /// `Prim::shape` of the primitive hit.
    pub shape: u32,
}

impl Prim {
    pub(crate) fn bounds(&self) -> Aabb {
        let mut b = match self.kind {
            Kind::Sphere => {
                let r = V3::splat(self.b.x);
                Aabb { min: self.a - r, max: self.a + r }
            }
            Kind::Quad => {
                let h = V3::new(self.b.x, self.b.y, 0.0);
                Aabb { min: self.a - h, max: self.a + h }
            }
            Kind::Box => Aabb { min: self.a, max: self.b },
            Kind::Triangle => {
                let mut bb = Aabb::EMPTY;
                bb.grow_point(self.a);
                bb.grow_point(self.a + self.b);
                bb.grow_point(self.a + self.c);
                bb
            }
        };
        // Flat primitives have zero-thickness bounds; pad so rounding in the slab test cannot
        // cull a ray that the exact primitive test would hit.
        let pad = (b.max.max_abs().max(b.min.max_abs()) + 1.0) * 1e-6;
        b.min = b.min - V3::splat(pad);
        b.max += V3::splat(pad);
        b
    }

    /// Distance to the nearest hit in (`t_min`, `t_max`), or infinity.
    #[inline(always)]
    pub(crate) fn intersect(&self, ray: &Ray, t_min: f32, t_max: f32) -> f32 {
        match self.kind {
            Kind::Sphere => {
                // Hearn–Baker / Ray Tracing Gems 7.2 form: the discriminant from the closest
                // approach avoids catastrophic cancellation for far-away spheres.
                let r = self.b.x;
                let oc = ray.o - self.a;
                let b = oc.dot(ray.d);
                let perp = oc - ray.d * b;
                let disc = r * r - perp.dot(perp);
                if disc < 0.0 {
                    return f32::INFINITY;
                }
                let sq = disc.sqrt();
                let c = oc.dot(oc) - r * r;
                let q = if b > 0.0 { -b - sq } else { -b + sq };
                let (mut t0, mut t1) = (c / q, q);
                if t0 > t1 {
                    std::mem::swap(&mut t0, &mut t1);
                }
                if t0 > t_min && t0 < t_max {
                    t0
                } else if t1 > t_min && t1 < t_max {
                    t1
                } else {
                    f32::INFINITY
                }
            }
            Kind::Quad => {
                let t = (self.a.z - ray.o.z) * ray.inv_d.z;
                if !(t > t_min && t < t_max) {
                    return f32::INFINITY;
                }
                let p = ray.at(t);
                if (p.x - self.a.x).abs() <= self.b.x && (p.y - self.a.y).abs() <= self.b.y {
                    t
                } else {
                    f32::INFINITY
                }
            }
            Kind::Box => {
                let t1 = (self.a - ray.o).cmul(ray.inv_d);
                let t2 = (self.b - ray.o).cmul(ray.inv_d);
                let tn = t1.min(t2).max_elem();
                let tf = t1.max(t2);
                let tf = tf.x.min(tf.y).min(tf.z);
                if tn > tf {
                    return f32::INFINITY;
                }
                if tn > t_min && tn < t_max {
                    tn
                } else if tf > t_min && tf < t_max {
                    tf
                } else {
                    f32::INFINITY
                }
            }
            Kind::Triangle => {
                // Möller–Trumbore, two-sided.
                let pv = ray.d.cross(self.c);
                let det = self.b.dot(pv);
                if det == 0.0 {
                    return f32::INFINITY;
                }
                let inv = 1.0 / det;
                let tv = ray.o - self.a;
                let u = tv.dot(pv) * inv;
                if !(0.0..=1.0).contains(&u) {
                    return f32::INFINITY;
                }
                let qv = tv.cross(self.b);
                let v = ray.d.dot(qv) * inv;
                if v < 0.0 || u + v > 1.0 {
                    return f32::INFINITY;
                }
                let t = self.c.dot(qv) * inv;
                if t > t_min && t < t_max {
                    t
                } else {
                    f32::INFINITY
                }
            }
        }
    }

    /// [`Prim::intersect`] for a packet of rays: lane i has exactly the bits of
    /// `self.intersect(&rays.ray(i), t_min, t_max.0[i])`.
    ///
    /// Every lane runs the scalar code's f32 operations in its order, with its early returns
    /// turned into a miss mask; the shape-wide early return (no lane left) only saves work.
    #[inline(always)]
    pub(crate) fn intersect_lanes<const N: usize>(&self, rays: &Rays<N>, t_min: f32, t_max: F<N>) -> F<N> {
        let inf = F::splat(f32::INFINITY);
        let t_min = F::splat(t_min);
        // Scalar `t > t_min && t < t_max`, which is false for NaN as the mask is.
        let within = |t: F<N>| t.gt(t_min) & t.lt(t_max);
        match self.kind {
            Kind::Sphere => {
                let r = F::splat(self.b.x);
                let oc = rays.o - splat3(self.a);
                let b = oc.dot(rays.d);
                let perp = oc - rays.d * b;
                let disc = r * r - perp.dot(perp);
                // `!(disc < 0)`, not `disc >= 0`: a NaN discriminant goes on, as in the scalar.
                let live = !disc.lt(F::splat(0.0));
                if live.bits() == 0 {
                    return inf;
                }
                let sq = disc.sqrt();
                let c = oc.dot(oc) - r * r;
                let q = F::select(b.gt(F::splat(0.0)), -b - sq, -b + sq);
                let t0 = c / q;
                let swap = t0.gt(q);
                let (t0, t1) = (F::select(swap, q, t0), F::select(swap, t0, q));
                let t = F::select(within(t0), t0, F::select(within(t1), t1, inf));
                F::select(live, t, inf)
            }
            Kind::Quad => {
                let t = (F::splat(self.a.z) - rays.o.z) * rays.inv_d.z;
                let live = within(t);
                if live.bits() == 0 {
                    return inf;
                }
                let p = rays.o + rays.d * t;
                let inside = (p.x - F::splat(self.a.x)).abs().le(F::splat(self.b.x))
                    & (p.y - F::splat(self.a.y)).abs().le(F::splat(self.b.y));
                F::select(live & inside, t, inf)
            }
            Kind::Box => {
                let t1 = (splat3(self.a) - rays.o).cmul(rays.inv_d);
                let t2 = (splat3(self.b) - rays.o).cmul(rays.inv_d);
                let tn = t1.min(t2).max_elem();
                let tf = t1.max(t2);
                // The scalar far distance uses `f32::min` (NaN-ignoring), not `fmin`.
                let min = |a: F<N>, b: F<N>| F::from_fn(|i| a.0[i].min(b.0[i]));
                let tf = min(min(tf.x, tf.y), tf.z);
                let live = !tn.gt(tf);
                let t = F::select(within(tn), tn, F::select(within(tf), tf, inf));
                F::select(live, t, inf)
            }
            Kind::Triangle => {
                let (e1, e2) = (splat3(self.b), splat3(self.c));
                let pv = rays.d.cross(e2);
                let det = e1.dot(pv);
                let zero = F::splat(0.0);
                let one = F::splat(1.0);
                let mut live = !det.eq(zero);
                let inv = one / det;
                let tv = rays.o - splat3(self.a);
                let u = tv.dot(pv) * inv;
                live = live & u.ge(zero) & u.le(one);
                if live.bits() == 0 {
                    return inf;
                }
                let qv = tv.cross(e1);
                let v = rays.d.dot(qv) * inv;
                live = live & !(v.lt(zero) | (u + v).gt(one));
                let t = e2.dot(qv) * inv;
                F::select(live & within(t), t, inf)
            }
        }
    }

    /// Surface data at distance `t` along `ray`, which hit this primitive.
    // Always inlined: out of line it ran as baseline code beside the x86-64-v3 loop, a call per
    // vertex (S1 callgrind -5.0 % inlined, B1 -5.3 %; wall clock no worse, BENCH_NOTES.md).
    #[inline(always)]
    pub(crate) fn surface(&self, ray: &Ray, t: f32) -> Surface {
        let p = ray.at(t);
        match self.kind {
            Kind::Sphere => {
                let n = (p - self.a).normalize();
                Surface { p: self.a + n * self.b.x, n, closed: true, shape: self.shape }
            }
            Kind::Quad => Surface {
                p: V3::new(p.x, p.y, self.a.z),
                n: V3::new(0.0, 0.0, 1.0),
                closed: false,
                shape: self.shape,
            },
            Kind::Box => {
                // The face is the one the point is closest to, relative to the box size.
                let size = self.b - self.a;
                let mut best = f32::INFINITY;
                let mut n = V3::ZERO;
                let mut q = p;
                for axis in 0..3 {
                    let s = size.axis(axis);
                    let dlo = (p.axis(axis) - self.a.axis(axis)).abs() / s;
                    let dhi = (p.axis(axis) - self.b.axis(axis)).abs() / s;
                    let mut e = [0.0f32; 3];
                    if dlo < best {
                        best = dlo;
                        e[axis] = -1.0;
                        n = V3::from(e);
                    }
                    if dhi < best {
                        best = dhi;
                        e[axis] = 1.0;
                        n = V3::from(e);
                    }
                }
                let snap = |v: f32, axis: usize, n: V3| -> f32 {
                    let c = n.axis(axis);
                    if c < 0.0 {
                        self.a.axis(axis)
                    } else if c > 0.0 {
                        self.b.axis(axis)
                    } else {
                        v
                    }
                };
                q.x = snap(p.x, 0, n);
                q.y = snap(p.y, 1, n);
                q.z = snap(p.z, 2, n);
                Surface { p: q, n, closed: true, shape: self.shape }
            }
            Kind::Triangle => {
                Surface { p, n: self.b.cross(self.c).normalize(), closed: false, shape: self.shape }
            }
        }
    }
}
