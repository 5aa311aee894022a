//! Small f32 vector math; everything is `Copy` and inlined so the hot loops allocate nothing.

use std::ops::{Add, AddAssign, Div, Index, Mul, MulAssign, Neg, Sub};

/// Minimum that compiles to one `minss`: `f32::min`'s NaN handling costs a compare and blend
/// in the slab test, and a NaN there (0 * inf) only makes a box test conservative either way.
#[inline(always)]
pub fn fmin(a: f32, b: f32) -> f32 {
    if a < b {
        a
    } else {
        b
    }
}

/// Maximum that compiles to one `maxss`; see [`fmin`].
#[inline(always)]
pub fn fmax(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

/// A 3-vector of f32 used for points, directions and RGB.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct V3 {
    /// X (or red).
    pub x: f32,
    /// Y (or green).
    pub y: f32,
    /// Z (or blue).
    pub z: f32,
}

impl V3 {
    /// All zeros.
    pub const ZERO: V3 = V3 { x: 0.0, y: 0.0, z: 0.0 };
    /// All ones.
    pub const ONE: V3 = V3 { x: 1.0, y: 1.0, z: 1.0 };

    /// Builds a vector from its components.
    #[inline(always)]
    pub const fn new(x: f32, y: f32, z: f32) -> V3 {
        V3 { x, y, z }
    }
    /// Builds a vector from an array.
    #[inline(always)]
    pub const fn from(a: [f32; 3]) -> V3 {
        V3 { x: a[0], y: a[1], z: a[2] }
    }
    /// The same value in every component.
    #[inline(always)]
    pub const fn splat(v: f32) -> V3 {
        V3 { x: v, y: v, z: v }
    }
    /// Dot product.
    #[inline(always)]
    pub fn dot(self, o: V3) -> f32 {
        self.x * o.x + self.y * o.y + self.z * o.z
    }
    /// Cross product.
    #[inline(always)]
    pub fn cross(self, o: V3) -> V3 {
        V3::new(self.y * o.z - self.z * o.y, self.z * o.x - self.x * o.z, self.x * o.y - self.y * o.x)
    }
    /// Euclidean length.
    #[inline(always)]
    pub fn length(self) -> f32 {
        self.dot(self).sqrt()
    }
    /// Unit vector in the same direction.
    #[inline(always)]
    pub fn normalize(self) -> V3 {
        self * (1.0 / self.length())
    }
    /// Component-wise product.
    #[inline(always)]
    pub fn cmul(self, o: V3) -> V3 {
        V3::new(self.x * o.x, self.y * o.y, self.z * o.z)
    }
    /// Component-wise minimum (NaN-unaware, see [`fmin`]).
    #[inline(always)]
    pub fn min(self, o: V3) -> V3 {
        V3::new(fmin(self.x, o.x), fmin(self.y, o.y), fmin(self.z, o.z))
    }
    /// Component-wise maximum (NaN-unaware, see [`fmax`]).
    #[inline(always)]
    pub fn max(self, o: V3) -> V3 {
        V3::new(fmax(self.x, o.x), fmax(self.y, o.y), fmax(self.z, o.z))
    }
    /// Largest component.
    #[inline(always)]
    pub fn max_elem(self) -> f32 {
        fmax(fmax(self.x, self.y), self.z)
    }
    /// Largest absolute component.
    #[inline(always)]
    pub fn max_abs(self) -> f32 {
        self.x.abs().max(self.y.abs()).max(self.z.abs())
    }
    /// True when every component is finite.
    #[inline(always)]
    pub fn is_finite(self) -> bool {
        self.x.is_finite() && self.y.is_finite() && self.z.is_finite()
    }
    /// Component by axis index 0..3.
    #[inline(always)]
    pub fn axis(self, a: usize) -> f32 {
        match a {
            0 => self.x,
            1 => self.y,
            _ => self.z,
        }
    }
}

impl Index<usize> for V3 {
    type Output = f32;
    #[inline(always)]
    fn index(&self, a: usize) -> &f32 {
        match a {
            0 => &self.x,
            1 => &self.y,
            _ => &self.z,
        }
    }
}

impl Add for V3 {
    type Output = V3;
    #[inline(always)]
    fn add(self, o: V3) -> V3 {
        V3::new(self.x + o.x, self.y + o.y, self.z + o.z)
    }
}
impl AddAssign for V3 {
    #[inline(always)]
    fn add_assign(&mut self, o: V3) {
        *self = *self + o;
    }
}
impl Sub for V3 {
    type Output = V3;
    #[inline(always)]
    fn sub(self, o: V3) -> V3 {
        V3::new(self.x - o.x, self.y - o.y, self.z - o.z)
    }
}
impl Mul<f32> for V3 {
    type Output = V3;
    #[inline(always)]
    fn mul(self, s: f32) -> V3 {
        V3::new(self.x * s, self.y * s, self.z * s)
    }
}
impl MulAssign<f32> for V3 {
    #[inline(always)]
    fn mul_assign(&mut self, s: f32) {
        *self = *self * s;
    }
}
impl Div<f32> for V3 {
    type Output = V3;
    #[inline(always)]
    fn div(self, s: f32) -> V3 {
        self * (1.0 / s)
    }
}
impl Neg for V3 {
    type Output = V3;
    #[inline(always)]
    fn neg(self) -> V3 {
        V3::new(-self.x, -self.y, -self.z)
    }
}

/// An orthonormal basis around a unit normal, for turning local samples into world directions.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    /// First tangent.
    pub s: V3,
    /// Second tangent.
    pub t: V3,
    /// The normal.
    pub n: V3,
}

impl Frame {
    /// Builds a frame from a unit normal (Duff et al. 2017, branchless and continuous enough).
    #[inline(always)]
    pub fn new(n: V3) -> Frame {
        let sign = 1.0f32.copysign(n.z);
        let a = -1.0 / (sign + n.z);
        let b = n.x * n.y * a;
        let s = V3::new(1.0 + sign * n.x * n.x * a, sign * b, -sign * n.x);
        let t = V3::new(b, sign + n.y * n.y * a, -n.y);
        Frame { s, t, n }
    }
    /// Local (x, y, z) to world.
    #[inline(always)]
    pub fn to_world(&self, v: V3) -> V3 {
        self.s * v.x + self.t * v.y + self.n * v.z
    }
    /// World to local (x, y, z).
    #[inline(always)]
    pub fn to_local(&self, v: V3) -> V3 {
        V3::new(v.dot(self.s), v.dot(self.t), v.dot(self.n))
    }
}

/// A ray with a precomputed reciprocal direction for slab tests.
#[derive(Debug, Clone, Copy)]
pub struct Ray {
    /// Origin.
    pub o: V3,
    /// Unit direction.
    pub d: V3,
    /// 1 / d per component (infinite where d is 0, which the slab test handles).
    pub inv_d: V3,
}

impl Ray {
    /// Builds a ray from an origin and a unit direction.
    #[inline(always)]
    pub fn new(o: V3, d: V3) -> Ray {
        Ray { o, d, inv_d: V3::new(1.0 / d.x, 1.0 / d.y, 1.0 / d.z) }
    }
    /// The point at distance t.
    #[inline(always)]
    pub fn at(&self, t: f32) -> V3 {
        self.o + self.d * t
    }
}
