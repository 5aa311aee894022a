//! Small f32 vector math; everything is `Copy` and inlined so the hot loops allocate nothing.

use std::ops::{Add, AddAssign, BitAnd, BitOr, Div, Index, Mul, MulAssign, Neg, Not, Sub};

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

/// A float type the vector maths runs on: `f32` for one path, or [`crate::lane::F`] for a group
/// of paths in lockstep, one per SIMD lane. Each operation is the IEEE operation lane by lane, so
/// a lane of an `F` computation has exactly the bits of the same `f32` computation (Rust neither
/// contracts nor reassociates float arithmetic).
pub trait Real:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Neg<Output = Self>
{
    /// Per-lane truth values, as comparisons produce them.
    type Mask: Copy + BitAnd<Output = Self::Mask> + BitOr<Output = Self::Mask> + Not<Output = Self::Mask>;
    /// The same value in every lane.
    fn splat(v: f32) -> Self;
    /// Lane-wise `if m { a } else { b }`.
    fn select(m: Self::Mask, a: Self, b: Self) -> Self;
    /// Lane-wise `self > o`.
    fn gt(self, o: Self) -> Self::Mask;
    /// Lane-wise `self == o`.
    fn eq_(self, o: Self) -> Self::Mask;
    /// Absolute value.
    fn abs(self) -> Self;
    /// Square root.
    fn sqrt(self) -> Self;
    /// [`fmin`] lane by lane.
    fn fmin(self, o: Self) -> Self;
    /// [`fmax`] lane by lane.
    fn fmax(self, o: Self) -> Self;
    /// The magnitude of 1 with the sign of `self`.
    fn signum1(self) -> Self;
}

impl Real for f32 {
    type Mask = bool;
    #[inline(always)]
    fn splat(v: f32) -> f32 {
        v
    }
    #[inline(always)]
    fn select(m: bool, a: f32, b: f32) -> f32 {
        if m {
            a
        } else {
            b
        }
    }
    #[inline(always)]
    fn gt(self, o: f32) -> bool {
        self > o
    }
    #[inline(always)]
    fn eq_(self, o: f32) -> bool {
        self == o
    }
    #[inline(always)]
    fn abs(self) -> f32 {
        f32::abs(self)
    }
    #[inline(always)]
    fn sqrt(self) -> f32 {
        f32::sqrt(self)
    }
    #[inline(always)]
    fn fmin(self, o: f32) -> f32 {
        fmin(self, o)
    }
    #[inline(always)]
    fn fmax(self, o: f32) -> f32 {
        fmax(self, o)
    }
    #[inline(always)]
    fn signum1(self) -> f32 {
        1.0f32.copysign(self)
    }
}

/// A 3-vector used for points, directions and RGB; of `f32` ([`V3`]) or of lanes.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Vec3<T = f32> {
    /// X (or red).
    pub x: T,
    /// Y (or green).
    pub y: T,
    /// Z (or blue).
    pub z: T,
}

/// A 3-vector of f32.
pub type V3 = Vec3<f32>;

impl<T: Copy> Vec3<T> {
    /// Builds a vector from its components.
    #[inline(always)]
    pub const fn new(x: T, y: T, z: T) -> Vec3<T> {
        Vec3 { x, y, z }
    }
    /// The same value in every component.
    #[inline(always)]
    pub const fn splat(v: T) -> Vec3<T> {
        Vec3 { x: v, y: v, z: v }
    }
}

impl<T: Real> Vec3<T> {
    /// `v` in every lane of each component.
    #[inline(always)]
    pub fn splat3(v: V3) -> Vec3<T> {
        Vec3::new(T::splat(v.x), T::splat(v.y), T::splat(v.z))
    }
    /// Dot product.
    #[inline(always)]
    pub fn dot(self, o: Vec3<T>) -> T {
        self.x * o.x + self.y * o.y + self.z * o.z
    }
    /// Cross product.
    #[inline(always)]
    pub fn cross(self, o: Vec3<T>) -> Vec3<T> {
        Vec3::new(self.y * o.z - self.z * o.y, self.z * o.x - self.x * o.z, self.x * o.y - self.y * o.x)
    }
    /// Euclidean length.
    #[inline(always)]
    pub fn length(self) -> T {
        self.dot(self).sqrt()
    }
    /// Unit vector in the same direction.
    #[inline(always)]
    pub fn normalize(self) -> Vec3<T> {
        self * (T::splat(1.0) / self.length())
    }
    /// Component-wise product.
    #[inline(always)]
    pub fn cmul(self, o: Vec3<T>) -> Vec3<T> {
        Vec3::new(self.x * o.x, self.y * o.y, self.z * o.z)
    }
    /// Component-wise minimum (NaN-unaware, see [`fmin`]).
    #[inline(always)]
    pub fn min(self, o: Vec3<T>) -> Vec3<T> {
        Vec3::new(self.x.fmin(o.x), self.y.fmin(o.y), self.z.fmin(o.z))
    }
    /// Component-wise maximum (NaN-unaware, see [`fmax`]).
    #[inline(always)]
    pub fn max(self, o: Vec3<T>) -> Vec3<T> {
        Vec3::new(self.x.fmax(o.x), self.y.fmax(o.y), self.z.fmax(o.z))
    }
    /// Lane-wise `if m { a } else { b }`.
    #[inline(always)]
    pub fn select(m: T::Mask, a: Vec3<T>, b: Vec3<T>) -> Vec3<T> {
        Vec3::new(T::select(m, a.x, b.x), T::select(m, a.y, b.y), T::select(m, a.z, b.z))
    }
    /// Largest component.
    #[inline(always)]
    pub fn max_elem(self) -> T {
        self.x.fmax(self.y).fmax(self.z)
    }
}

impl V3 {
    /// All zeros.
    pub const ZERO: V3 = V3 { x: 0.0, y: 0.0, z: 0.0 };
    /// All ones.
    pub const ONE: V3 = V3 { x: 1.0, y: 1.0, z: 1.0 };

    /// Builds a vector from an array.
    #[inline(always)]
    pub const fn from(a: [f32; 3]) -> V3 {
        V3 { x: a[0], y: a[1], z: a[2] }
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

impl<T: Real> Add for Vec3<T> {
    type Output = Vec3<T>;
    #[inline(always)]
    fn add(self, o: Vec3<T>) -> Vec3<T> {
        Vec3::new(self.x + o.x, self.y + o.y, self.z + o.z)
    }
}
impl<T: Real> AddAssign for Vec3<T> {
    #[inline(always)]
    fn add_assign(&mut self, o: Vec3<T>) {
        *self = *self + o;
    }
}
impl<T: Real> Sub for Vec3<T> {
    type Output = Vec3<T>;
    #[inline(always)]
    fn sub(self, o: Vec3<T>) -> Vec3<T> {
        Vec3::new(self.x - o.x, self.y - o.y, self.z - o.z)
    }
}
impl<T: Real> Mul<T> for Vec3<T> {
    type Output = Vec3<T>;
    #[inline(always)]
    fn mul(self, s: T) -> Vec3<T> {
        Vec3::new(self.x * s, self.y * s, self.z * s)
    }
}
impl<T: Real> MulAssign<T> for Vec3<T> {
    #[inline(always)]
    fn mul_assign(&mut self, s: T) {
        *self = *self * s;
    }
}
impl<T: Real> Div<T> for Vec3<T> {
    type Output = Vec3<T>;
    #[inline(always)]
    fn div(self, s: T) -> Vec3<T> {
        self * (T::splat(1.0) / s)
    }
}
impl<T: Real> Neg for Vec3<T> {
    type Output = Vec3<T>;
    #[inline(always)]
    fn neg(self) -> Vec3<T> {
        Vec3::new(-self.x, -self.y, -self.z)
    }
}

/// An orthonormal basis around a unit normal, for turning local samples into world directions.
#[derive(Debug, Clone, Copy)]
pub struct Frame<T = f32> {
    /// First tangent.
    pub s: Vec3<T>,
    /// Second tangent.
    pub t: Vec3<T>,
    /// The normal.
    pub n: Vec3<T>,
}

impl<T: Real> Frame<T> {
    /// Builds a frame from a unit normal (Duff et al. 2017, branchless and continuous enough).
    #[inline(always)]
    pub fn new(n: Vec3<T>) -> Frame<T> {
        let one = T::splat(1.0);
        let sign = n.z.signum1();
        let a = -one / (sign + n.z);
        let b = n.x * n.y * a;
        let s = Vec3::new(one + sign * n.x * n.x * a, sign * b, -sign * n.x);
        let t = Vec3::new(b, sign + n.y * n.y * a, -n.y);
        Frame { s, t, n }
    }
    /// Local (x, y, z) to world.
    #[inline(always)]
    pub fn to_world(&self, v: Vec3<T>) -> Vec3<T> {
        self.s * v.x + self.t * v.y + self.n * v.z
    }
    /// World to local (x, y, z).
    #[inline(always)]
    pub fn to_local(&self, v: Vec3<T>) -> Vec3<T> {
        Vec3::new(v.dot(self.s), v.dot(self.t), v.dot(self.n))
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
    /// `Prim::shape` of the convex shape this ray leaves outwards, which it cannot hit again
    /// and so does not search; 0 for none.
    pub(crate) skip: u32,
}

impl Ray {
    /// Builds a ray from an origin and a unit direction.
    #[inline(always)]
    pub fn new(o: V3, d: V3) -> Ray {
        Ray { o, d, inv_d: V3::new(1.0 / d.x, 1.0 / d.y, 1.0 / d.z), skip: 0 }
    }
    /// The point at distance t.
    #[inline(always)]
    pub fn at(&self, t: f32) -> V3 {
        self.o + self.d * t
    }
}

/// Sine and cosine of `x` in [-π/4, π/4]: Cephes' `sinf`/`cosf` polynomials, within 2 ulp
/// there (tested), with no range reduction or branch, so lanes vectorise and every system
/// computes the same bits.
#[inline(always)]
pub(crate) fn sincos_quarter<T: Real>(x: T) -> (T, T) {
    let z = x * x;
    let s =
        ((T::splat(-1.951_529_6e-4) * z + T::splat(8.332_161e-3)) * z - T::splat(1.666_665_5e-1)) * z * x + x;
    let c =
        ((T::splat(2.443_315_7e-5) * z - T::splat(1.388_731_6e-3)) * z + T::splat(4.166_664_6e-2)) * z * z
            - T::splat(0.5) * z
            + T::splat(1.0);
    (s, c)
}

/// Sine and cosine of 2π`v` for `v` in [0, 1]: `v` is reduced exactly to the nearest quarter
/// turn, the rest goes through [`sincos_quarter`], and the quadrant swaps and negates. No
/// branch and no table, so lanes vectorise, and the result does not depend on the system's
/// libm (within 2 ulp of the true values, tested).
#[inline(always)]
pub(crate) fn sincos_turn<T: Real>(v: T) -> (T, T) {
    let below = |x: f32| T::splat(x).gt(v);
    let (q1, q2, q3, q4) = (!below(0.125), !below(0.375), !below(0.625), !below(0.875));
    let (q1, q2, q3) = (q1 & !q2, q2 & !q3, q3 & !q4);
    let turn = T::select(
        q1,
        T::splat(0.25),
        T::select(
            q2,
            T::splat(0.5),
            T::select(q3, T::splat(0.75), T::select(q4, T::splat(1.0), T::splat(0.0))),
        ),
    );
    // Exact (Sterbenz): `v` is within a factor of two of `turn` whenever `turn` is not 0.
    let (s, c) = sincos_quarter(T::splat(2.0 * std::f32::consts::PI) * (v - turn));
    let sin = T::select(q1, c, T::select(q2, -s, T::select(q3, -c, s)));
    let cos = T::select(q1, -s, T::select(q2, -c, T::select(q3, s, c)));
    (sin, cos)
}

#[cfg(test)]
mod tests {
    /// Error of `a` against `b` in units of f32 epsilon relative to |b|.
    fn ulps(a: f32, b: f64) -> f64 {
        (f64::from(a) - b).abs() / f64::from(f32::EPSILON) / b.abs().max(1e-30)
    }

    #[test]
    fn quarter_sincos_is_within_two_ulp() {
        let mut worst = (0.0f64, 0.0f64);
        for k in -100_000..=100_000 {
            let x = std::f32::consts::FRAC_PI_4 * k as f32 / 100_000.0;
            let (s, c) = super::sincos_quarter(x);
            let xd = f64::from(x);
            if k != 0 {
                worst.0 = worst.0.max(ulps(s, xd.sin()));
            }
            worst.1 = worst.1.max(ulps(c, xd.cos()));
        }
        assert!(worst.0 <= 2.0 && worst.1 <= 2.0, "worst error in ulp (sin, cos): {worst:?}");
    }

    /// Away from the zeros of sine and cosine the error is relative; near them (where a
    /// relative error is meaningless) it is absolute, within one ulp of 1 as libm's is.
    #[test]
    fn turn_sincos_is_accurate_over_the_whole_turn() {
        let mut worst = 0.0f64;
        for k in 0..=(1 << 20) {
            let v = k as f32 / (1 << 20) as f32;
            let (s, c) = super::sincos_turn(v);
            let x = 2.0 * std::f64::consts::PI * f64::from(v);
            for (got, want) in [(s, x.sin()), (c, x.cos())] {
                let err = if want.abs() > 1e-3 {
                    ulps(got, want)
                } else {
                    (f64::from(got) - want).abs() / f64::from(f32::EPSILON)
                };
                worst = worst.max(err);
            }
        }
        assert!(worst <= 2.0, "worst error in ulp: {worst}");
    }
}
