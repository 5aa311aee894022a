//! Four f32 lanes for the BVH's box tests. Plain arrays with lane-wise loops: LLVM turns each
//! operation into one SSE instruction (`subps`, `mulps`, `maxps`, `minps`, `cmpleps` +
//! `movmskps`) on x86-64, where SSE2 is baseline, and into NEON on aarch64, with no `unsafe`
//! and no runtime feature detection.

use std::ops::{Mul, Sub};

/// Four f32 lanes, 16-byte aligned so that loads from a node are aligned vector loads.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(16))]
pub(crate) struct F4(pub [f32; 4]);

impl F4 {
    /// The same value in every lane.
    #[inline(always)]
    pub(crate) const fn splat(v: f32) -> F4 {
        F4([v; 4])
    }

    /// Lane-wise `if self > o { self } else { o }`: exactly `maxps`, so a NaN in `self` yields
    /// `o` (see `crate::math::fmax`).
    #[inline(always)]
    pub(crate) fn max(self, o: F4) -> F4 {
        let (a, b) = (self.0, o.0);
        F4([
            if a[0] > b[0] { a[0] } else { b[0] },
            if a[1] > b[1] { a[1] } else { b[1] },
            if a[2] > b[2] { a[2] } else { b[2] },
            if a[3] > b[3] { a[3] } else { b[3] },
        ])
    }

    /// Lane-wise `if self < o { self } else { o }`: exactly `minps`.
    #[inline(always)]
    pub(crate) fn min(self, o: F4) -> F4 {
        let (a, b) = (self.0, o.0);
        F4([
            if a[0] < b[0] { a[0] } else { b[0] },
            if a[1] < b[1] { a[1] } else { b[1] },
            if a[2] < b[2] { a[2] } else { b[2] },
            if a[3] < b[3] { a[3] } else { b[3] },
        ])
    }

    /// Bit i set where lane i of `self` is <= lane i of `o` (false for NaN).
    #[inline(always)]
    pub(crate) fn le_mask(self, o: F4) -> u32 {
        let (a, b) = (self.0, o.0);
        u32::from(a[0] <= b[0])
            | (u32::from(a[1] <= b[1]) << 1)
            | (u32::from(a[2] <= b[2]) << 2)
            | (u32::from(a[3] <= b[3]) << 3)
    }
}

impl Sub for F4 {
    type Output = F4;
    #[inline(always)]
    fn sub(self, o: F4) -> F4 {
        let (a, b) = (self.0, o.0);
        F4([a[0] - b[0], a[1] - b[1], a[2] - b[2], a[3] - b[3]])
    }
}

impl Mul for F4 {
    type Output = F4;
    #[inline(always)]
    fn mul(self, o: F4) -> F4 {
        let (a, b) = (self.0, o.0);
        F4([a[0] * b[0], a[1] * b[1], a[2] * b[2], a[3] * b[3]])
    }
}
