//! The per-pixel loop compiled for the x86-64 baseline, x86-64-v3 and x86-64-v4, picked at run
//! time.
//!
//! One binary runs on any x86-64 CPU, yet on a CPU with AVX2 the whole path tracer (everything
//! `integrator::pixel` inlines) runs with three-operand AVX forms and BMI bit operations: 7 %
//! fewer instructions and about 4 % less time on S1 (crates/render/BENCH_NOTES.md). With
//! AVX-512 the wide integrator runs sixteen lanes to a group instead of eight, with 32 vector
//! registers, mask registers for compares and blends, and 64-bit lane multiplies for the
//! sampler's hashes: on an AMD Zen 4, S1 +44 %, S2 +31 %, B1 +33 % and M1 +6 % over the AVX2
//! copy on the same CPU (BENCHMARKS.md, 03:31 window of 2026-12-01). On the Intel Xeon of
//! session 5 an eight-lane AVX-512 copy was within noise of v3 (B1 +3 %, S1 -6 %);
//! `TESSERA_ISA=x86-64-v3` caps the level where AVX-512 does not pay.
//!
//! The levels compute bit-identical pixels: Rust never contracts `a * b + c` into a fused
//! multiply-add or reassociates float arithmetic, so another instruction set changes which
//! instructions compute each IEEE operation, not its result (DESIGN 4; tested in
//! `tests/determinism.rs` on every level the CPU has).

use crate::bvh::{PacketStack, Stack};
use crate::sampler::Sampler;
use crate::{integrator, wide, PreparedScene};

/// An instruction-set level the pixel loop can run with on this CPU.
///
/// Only [`Isa::detect`] and [`Isa::available`] make one, after checking the CPU, so holding
/// an `Isa` proves the CPU supports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Isa(Level);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    /// Whatever the build targets (x86-64 baseline: SSE2).
    Baseline,
    /// x86-64-v3: AVX2, FMA, BMI1/2, LZCNT, MOVBE.
    #[cfg(target_arch = "x86_64")]
    V3,
    /// x86-64-v4: x86-64-v3 and AVX-512 F, BW, CD, DQ, VL.
    #[cfg(target_arch = "x86_64")]
    V4,
}

impl Isa {
    /// The build's own level, which every CPU that runs the binary has.
    pub const BASELINE: Isa = Isa(Level::Baseline);

    /// The widest level this CPU supports, capped by the `TESSERA_ISA` environment variable
    /// when it names a level (`baseline`, `x86-64-v3`, `x86-64-v4`): a way to compare levels
    /// and to rule a wide code path out when chasing a problem.
    pub fn detect() -> Isa {
        let levels = Isa::available();
        let cap = std::env::var("TESSERA_ISA").ok();
        let capped = cap.as_deref().and_then(|name| levels.iter().rposition(|l| l.name() == name));
        levels[capped.unwrap_or(levels.len() - 1)]
    }

    /// Every level this CPU supports, narrowest first.
    pub fn available() -> Vec<Isa> {
        #[allow(unused_mut)] // only non-x86-64 builds leave it as it is
        let mut levels = vec![Isa::BASELINE];
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            let v3 = has!("avx2")
                && has!("fma")
                && has!("bmi1")
                && has!("bmi2")
                && has!("lzcnt")
                && has!("movbe")
                && has!("popcnt");
            if v3 {
                levels.push(Isa(Level::V3));
                if has!("avx512f")
                    && has!("avx512bw")
                    && has!("avx512cd")
                    && has!("avx512dq")
                    && has!("avx512vl")
                {
                    levels.push(Isa(Level::V4));
                }
            }
        }
        levels
    }

    /// A short name for logs and benchmarks.
    pub fn name(self) -> &'static str {
        match self.0 {
            Level::Baseline => "baseline",
            #[cfg(target_arch = "x86_64")]
            Level::V3 => "x86-64-v3",
            #[cfg(target_arch = "x86_64")]
            Level::V4 => "x86-64-v4",
        }
    }
}

/// Renders pixel `coord(i)` into `out[3i..3i + 3]` for every pixel of `out` with the scene's
/// instruction-set level.
#[inline]
pub(crate) fn render_pixels(scene: &PreparedScene, out: &mut [f32], coord: impl Fn(usize) -> (u32, u32)) {
    match scene.isa.0 {
        Level::Baseline => pixels::<8>(scene, out, coord),
        // SAFETY: an `Isa` holding `Level::V3` is only made by `Isa::available`, after
        // `is_x86_feature_detected!` reported every feature `pixels_v3` enables.
        #[cfg(target_arch = "x86_64")]
        Level::V3 => unsafe { pixels_v3(scene, out, coord) },
        // SAFETY: an `Isa` holding `Level::V4` is only made by `Isa::available`, after
        // `is_x86_feature_detected!` reported every feature `pixels_v4` enables.
        #[cfg(target_arch = "x86_64")]
        Level::V4 => unsafe { pixels_v4(scene, out, coord) },
    }
}

// The body every level shares; inlined into each so it is compiled once per level, with `N`
// lanes to a group of the wide integrator.
#[inline(always)]
fn pixels<const N: usize>(scene: &PreparedScene, out: &mut [f32], coord: impl Fn(usize) -> (u32, u32))
where
    Stack: PacketStack<N>,
{
    let mut sampler = Sampler::for_pixel(scene.seed, 0, 0);
    let mut stack = Stack::new();
    let mut scratch = wide::Scratch::<N>::default();
    for (i, px) in out.chunks_exact_mut(3).enumerate() {
        let (x, y) = coord(i);
        let rgb = if scene.wide {
            wide::pixel(scene, x, y, &mut sampler, &mut stack, &mut scratch)
        } else {
            integrator::pixel(scene, x, y, &mut sampler, &mut stack)
        };
        px.copy_from_slice(&rgb);
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,bmi1,bmi2,lzcnt,movbe,popcnt")]
fn pixels_v3(scene: &PreparedScene, out: &mut [f32], coord: impl Fn(usize) -> (u32, u32)) {
    pixels::<8>(scene, out, coord)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(
    enable = "avx2,fma,bmi1,bmi2,lzcnt,movbe,popcnt,avx512f,avx512bw,avx512cd,avx512dq,avx512vl"
)]
fn pixels_v4(scene: &PreparedScene, out: &mut [f32], coord: impl Fn(usize) -> (u32, u32)) {
    pixels::<16>(scene, out, coord)
}
