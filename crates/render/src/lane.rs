//! SIMD lanes, one per path of a group of the wide integrator (`wide.rs`): `N` = 8 (AVX2) or 16
//! (AVX-512) f32 lanes.
//!
//! Plain arrays with lane-wise loops, as `simd.rs`'s `F4`: LLVM turns each operation into one
//! vector instruction per register's worth of lanes in each instruction-set copy of the pixel
//! loop (`isa.rs`), with no `unsafe` but for `M::bits` (`movmskps` per four lanes, which LLVM
//! does not find on its own). Every operation is the IEEE operation per lane, so lane i of a
//! computation has the bits the scalar computation has for path i, whatever the width.

use crate::math::{fmax, fmin, Real, Vec3};
use std::ops::{Add, BitAnd, BitOr, Div, Mul, Neg, Not, Sub};

/// The lanes of the AVX2 copy of the pixel loop (and of the tests that fix one width).
pub(crate) const W: usize = 8;

/// Applies `$f` to each lane index and collects the results into an array.
macro_rules! lanes {
    (|$i:ident| $e:expr) => {{
        let mut out = [Default::default(); N];
        for $i in 0..N {
            out[$i] = $e;
        }
        out
    }};
}

/// `N` f32 lanes, 32-byte aligned so loads and stores are aligned AVX moves.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(32))]
pub(crate) struct F<const N: usize>(pub [f32; N]);

/// `N` lane flags, each all ones (true) or all zeros, as compares produce them, so `select`
/// is a bitwise blend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C, align(32))]
pub(crate) struct M<const N: usize>(pub [u32; N]);

/// `N` u32 lanes (shape indices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct U<const N: usize>(pub [u32; N]);

impl<const N: usize> Default for U<N> {
    #[inline(always)]
    fn default() -> U<N> {
        U([0; N])
    }
}

/// `N` 3-vectors, one per lane.
pub(crate) type V<const N: usize> = Vec3<F<N>>;

/// Eight lanes.
#[cfg(test)]
pub(crate) type F8 = F<W>;
/// Eight lane flags.
#[cfg(test)]
pub(crate) type M8 = M<W>;

impl<const N: usize> Default for F<N> {
    #[inline(always)]
    fn default() -> F<N> {
        F([0.0; N])
    }
}

impl<const N: usize> Default for M<N> {
    #[inline(always)]
    fn default() -> M<N> {
        M([0; N])
    }
}

impl<const N: usize> M<N> {
    /// Every lane false.
    pub(crate) const NONE: M<N> = M([0; N]);

    /// Lane i set where `f(i)`.
    #[inline(always)]
    pub(crate) fn from_fn(f: impl Fn(usize) -> bool) -> M<N> {
        M(lanes!(|i| if f(i) { u32::MAX } else { 0 }))
    }

    /// Lane i set where bit i of `bits` is.
    #[inline(always)]
    pub(crate) fn from_bits(bits: u32) -> M<N> {
        M(lanes!(|i| if bits >> i & 1 != 0 { u32::MAX } else { 0 }))
    }

    /// Bit i set where lane i is.
    ///
    /// With SSE, one `movmskps` per four lanes: LLVM does not recognise the portable
    /// bit-gathering loop below as one and spends a dozen instructions on it, 4-8 % of a
    /// box-heavy scene's (BENCH_NOTES, session 6).
    #[inline(always)]
    pub(crate) fn bits(self) -> u32 {
        #[cfg(all(target_arch = "x86_64", target_feature = "sse"))]
        {
            use std::arch::x86_64::{_mm_movemask_ps, _mm_setr_ps};
            let mut b = 0;
            for (q, c) in self.0.chunks_exact(4).enumerate() {
                let c = [c[0], c[1], c[2], c[3]].map(f32::from_bits);
                // SAFETY: both intrinsics need only SSE, which this code is compiled for (the
                // `cfg` above: the build's baseline, so every CPU that runs the binary has it),
                // and they take and return values, no pointers.
                let four = unsafe { _mm_movemask_ps(_mm_setr_ps(c[0], c[1], c[2], c[3])) };
                b |= (four as u32) << (4 * q);
            }
            b
        }
        #[cfg(not(all(target_arch = "x86_64", target_feature = "sse")))]
        {
            let mut b = 0;
            for i in 0..N {
                b |= (self.0[i] >> 31) << i;
            }
            b
        }
    }

    /// Whether lane `i` is set.
    #[cfg(test)]
    pub(crate) fn get(self, i: usize) -> bool {
        self.0[i] != 0
    }
}

impl<const N: usize> BitAnd for M<N> {
    type Output = M<N>;
    #[inline(always)]
    fn bitand(self, o: M<N>) -> M<N> {
        M(lanes!(|i| self.0[i] & o.0[i]))
    }
}

impl<const N: usize> BitOr for M<N> {
    type Output = M<N>;
    #[inline(always)]
    fn bitor(self, o: M<N>) -> M<N> {
        M(lanes!(|i| self.0[i] | o.0[i]))
    }
}

impl<const N: usize> Not for M<N> {
    type Output = M<N>;
    #[inline(always)]
    fn not(self) -> M<N> {
        M(lanes!(|i| !self.0[i]))
    }
}

/// A lane-wise comparison as a mask.
macro_rules! compare {
    ($name:ident, $op:tt) => {
        /// Lane-wise comparison (false where either lane is NaN, except for `ne`).
        #[inline(always)]
        pub(crate) fn $name(self, o: F<N>) -> M<N> {
            M(lanes!(|i| if self.0[i] $op o.0[i] { u32::MAX } else { 0 }))
        }
    };
}

impl<const N: usize> F<N> {
    /// Lane i is `f(i)`.
    #[inline(always)]
    pub(crate) fn from_fn(f: impl Fn(usize) -> f32) -> F<N> {
        F(lanes!(|i| f(i)))
    }

    compare!(lt, <);
    compare!(le, <=);
    compare!(gt, >);
    compare!(ge, >=);
    compare!(eq, ==);
}

/// A lane-wise binary operator.
macro_rules! binary {
    ($tr:ident, $f:ident, $op:tt) => {
        impl<const N: usize> $tr for F<N> {
            type Output = F<N>;
            #[inline(always)]
            fn $f(self, o: F<N>) -> F<N> {
                F(lanes!(|i| self.0[i] $op o.0[i]))
            }
        }
    };
}

binary!(Add, add, +);
binary!(Sub, sub, -);
binary!(Mul, mul, *);
binary!(Div, div, /);

impl<const N: usize> Neg for F<N> {
    type Output = F<N>;
    #[inline(always)]
    fn neg(self) -> F<N> {
        F(lanes!(|i| -self.0[i]))
    }
}

impl<const N: usize> Real for F<N> {
    type Mask = M<N>;
    #[inline(always)]
    fn splat(v: f32) -> F<N> {
        F([v; N])
    }
    #[inline(always)]
    fn select(m: M<N>, a: F<N>, b: F<N>) -> F<N> {
        // A mask lane is all ones or all zeros, so spreading its sign bit leaves it as it is;
        // written this way LLVM knows only the sign bit matters and emits one `vblendvps`
        // instead of and/andn/or.
        F(lanes!(|i| {
            let m = ((m.0[i] as i32) >> 31) as u32;
            f32::from_bits((a.0[i].to_bits() & m) | (b.0[i].to_bits() & !m))
        }))
    }
    #[inline(always)]
    fn gt(self, o: F<N>) -> M<N> {
        F::gt(self, o)
    }
    #[inline(always)]
    fn eq_(self, o: F<N>) -> M<N> {
        F::eq(self, o)
    }
    #[inline(always)]
    fn abs(self) -> F<N> {
        F(lanes!(|i| self.0[i].abs()))
    }
    #[inline(always)]
    fn sqrt(self) -> F<N> {
        F(lanes!(|i| self.0[i].sqrt()))
    }
    #[inline(always)]
    fn fmin(self, o: F<N>) -> F<N> {
        F(lanes!(|i| fmin(self.0[i], o.0[i])))
    }
    #[inline(always)]
    fn fmax(self, o: F<N>) -> F<N> {
        F(lanes!(|i| fmax(self.0[i], o.0[i])))
    }
    #[inline(always)]
    fn signum1(self) -> F<N> {
        F(lanes!(|i| 1.0f32.copysign(self.0[i])))
    }
}

impl<const N: usize> V<N> {
    /// Lane `i` as a scalar vector.
    #[inline(always)]
    pub(crate) fn get(&self, i: usize) -> Vec3 {
        Vec3::new(self.x.0[i], self.y.0[i], self.z.0[i])
    }

    /// Sets lane `i` to `v`.
    #[inline(always)]
    pub(crate) fn set(&mut self, i: usize, v: Vec3) {
        self.x.0[i] = v.x;
        self.y.0[i] = v.y;
        self.z.0[i] = v.z;
    }
}

/// The same vector in every lane.
#[inline(always)]
pub(crate) fn splat3<const N: usize>(v: Vec3) -> V<N> {
    V::splat3(v)
}

/// The lanes whose bit is set, lowest first.
pub(crate) struct Lanes(pub u32);

impl Iterator for Lanes {
    type Item = usize;
    #[inline(always)]
    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let i = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Equal bits, or both NaN: NaN payloads differ between constant folding and hardware,
    /// and the integrator drops non-finite samples whatever their bits.
    fn same(a: f32, b: f32) -> bool {
        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
    }

    #[test]
    fn lanes_compute_the_scalar_bits() {
        let a = F([1.0, -2.5, 0.0, -0.0, f32::INFINITY, 3.0e-39, 7.0, f32::NAN]);
        let b = F([3.0, 0.1, -0.0, 0.0, 2.0, 1.0e-3, -7.0, 1.0]);
        for i in 0..W {
            let (x, y) = (a.0[i], b.0[i]);
            assert!(same((a + b).0[i], x + y), "lane {i}");
            assert!(same((a - b).0[i], x - y), "lane {i}");
            assert!(same((a * b).0[i], x * y), "lane {i}");
            assert!(same((a / b).0[i], x / y), "lane {i}");
            assert!(same(a.sqrt().0[i], x.sqrt()), "lane {i}");
            assert!(same(a.fmin(b).0[i], fmin(x, y)), "lane {i}");
            assert!(same(a.fmax(b).0[i], fmax(x, y)), "lane {i}");
            assert_eq!(a.signum1().0[i], 1.0f32.copysign(x));
            assert_eq!(a.gt(b).get(i), x > y);
            assert_eq!(a.eq(b).get(i), x == y);
        }
    }

    #[test]
    fn sixteen_lane_masks_round_trip_through_bits() {
        for bits in [0u32, 1, 0x8000, 0xa5c3, 0xffff, 0x0ff0] {
            let m = M::<16>::from_bits(bits);
            assert_eq!(m.bits(), bits);
            assert_eq!((!m).bits(), !bits & 0xffff);
            let s = F::select(m, F::<16>::splat(1.0), F::splat(2.0));
            for i in 0..16 {
                assert_eq!(s.0[i], if bits >> i & 1 != 0 { 1.0 } else { 2.0 });
            }
        }
    }

    #[test]
    fn masks_select_and_round_trip_through_bits() {
        for bits in [0u32, 1, 0x80, 0xa5, 0xff] {
            let m = M8::from_bits(bits);
            assert_eq!(m.bits(), bits);
            let s = F8::select(m, F8::splat(1.0), F8::splat(2.0));
            for i in 0..W {
                assert_eq!(s.0[i], if bits >> i & 1 != 0 { 1.0 } else { 2.0 });
            }
            assert_eq!((!m).bits(), !bits & 0xff);
            assert_eq!((m & M8::from_bits(0x0f)).bits(), bits & 0x0f);
            assert_eq!((m | M8::from_bits(0x0f)).bits(), bits | 0x0f);
        }
    }
}
