//! Primitives: spheres, quads, boxes and triangles in one flat, enum-dispatched array (no
//! virtual calls in the hot loop).

use crate::math::{Ray, V3};

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

    /// Surface data at distance `t` along `ray`, which hit this primitive.
    #[inline]
    pub(crate) fn surface(&self, ray: &Ray, t: f32) -> Surface {
        let p = ray.at(t);
        match self.kind {
            Kind::Sphere => {
                let n = (p - self.a).normalize();
                Surface { p: self.a + n * self.b.x, n, closed: true }
            }
            Kind::Quad => {
                Surface { p: V3::new(p.x, p.y, self.a.z), n: V3::new(0.0, 0.0, 1.0), closed: false }
            }
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
                Surface { p: q, n, closed: true }
            }
            Kind::Triangle => Surface { p, n: self.b.cross(self.c).normalize(), closed: false },
        }
    }
}
