//! Random numbers keyed only by (scene seed, pixel x, pixel y, sample index) (DESIGN 4), so a
//! pixel's samples are the same whichever tile, thread or machine renders it.
//!
//! The first dimensions of a path (camera jitter and the first bounces, where noise is most
//! visible) come from an Owen-scrambled, index-shuffled Sobol sequence (Burley 2020, "Practical
//! Hash-based Owen Scrambling"): each 1D or 2D request takes dimensions 0 (and 1) of its own
//! independently scrambled Sobol pattern, so every pair is a well-stratified (0,2)-sequence over
//! the pixel's samples. Later dimensions, which matter little, come from a PCG32 stream, which is
//! cheaper. Both are pure functions of the key, so determinism holds.

/// Mixes a 64-bit value (SplitMix64 finaliser); good avalanche, cheap.
#[inline(always)]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// How many 1D/2D requests per sample use the scrambled Sobol pattern: the camera (1) and the
/// first two bounces (5 each: lobe, direction, roulette, light choice, light position).
const SOBOL_REQUESTS: u32 = 11;

/// Direction numbers of Sobol dimension 1 (primitive polynomial x + 1): v_i = v_{i-1} ^ (v_{i-1} >> 1).
const SOBOL_DIM1: [u32; 32] = {
    let mut v = [0u32; 32];
    v[0] = 1 << 31;
    let mut i = 1;
    while i < 32 {
        v[i] = v[i - 1] ^ (v[i - 1] >> 1);
        i += 1;
    }
    v
};

/// Laine–Karras style hash permutation that only lets bits affect higher bits (Burley 2020),
/// which applied to bit-reversed values is a nested uniform (Owen) scramble.
#[inline(always)]
fn lk_permute(mut x: u32, seed: u32) -> u32 {
    x ^= x.wrapping_mul(0x3d20_adea);
    x = x.wrapping_add(seed);
    x = x.wrapping_mul((seed >> 16) | 1);
    x ^= x.wrapping_mul(0x0552_6c56);
    x ^= x.wrapping_mul(0x53a2_2864);
    x
}

#[inline(always)]
fn owen_scramble(x: u32, seed: u32) -> u32 {
    lk_permute(x.reverse_bits(), seed).reverse_bits()
}

#[inline(always)]
fn to_unit(x: u32) -> f32 {
    // 24 bits so the result is exactly representable and strictly below 1.
    (x >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// The sample stream for one (seed, pixel, sample); draws dimensions in a fixed order.
#[derive(Debug, Clone)]
pub struct Sampler {
    pixel: u64,
    index: u32,
    request: u32,
    state: u64,
    inc: u64,
}

impl Sampler {
    /// The stream for sample `s` of pixel (`x`, `y`) under scene seed `seed`.
    #[inline]
    pub fn new(seed: u64, x: u32, y: u32, s: u32) -> Sampler {
        // Chained mixing rather than XOR so that swapping x and y gives a different stream.
        let pixel = mix64(mix64(seed ^ 0x9e37_79b9_7f4a_7c15) ^ ((u64::from(x) << 32) | u64::from(y)));
        let h = mix64(pixel ^ u64::from(s));
        let mut sp = Sampler { pixel, index: s, request: 0, state: 0, inc: (mix64(h ^ 0xda94_2042_e4dd_58b5) << 1) | 1 };
        sp.next_u32();
        sp.state = sp.state.wrapping_add(h);
        sp.next_u32();
        sp
    }

    /// Next 32 bits of the PCG32 stream.
    #[inline(always)]
    fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.state = old.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(self.inc);
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        let rot = (old >> 59) as u32;
        xorshifted.rotate_right(rot)
    }

    /// Seeds and shuffled index of the next Sobol request, or None past the Sobol dimensions.
    #[inline(always)]
    fn sobol_request(&mut self) -> Option<(u32, u32)> {
        if self.request >= SOBOL_REQUESTS {
            return None;
        }
        let h = mix64(self.pixel ^ (u64::from(self.request) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        self.request += 1;
        // Shuffling the index by its own Owen scramble decorrelates the patterns' orders.
        let idx = owen_scramble(self.index, h as u32);
        Some((idx, (h >> 32) as u32))
    }

    /// Uniform in [0, 1).
    #[inline(always)]
    pub fn next_1d(&mut self) -> f32 {
        match self.sobol_request() {
            Some((idx, seed)) => to_unit(owen_scramble(idx.reverse_bits(), seed)),
            None => to_unit(self.next_u32()),
        }
    }

    /// Two uniforms in [0, 1), stratified jointly over a pixel's samples.
    #[inline(always)]
    pub fn next_2d(&mut self) -> (f32, f32) {
        match self.sobol_request() {
            Some((idx, seed)) => {
                let mut d1 = 0u32;
                let mut i = idx;
                let mut k = 0;
                while i != 0 {
                    if i & 1 != 0 {
                        d1 ^= SOBOL_DIM1[k];
                    }
                    i >>= 1;
                    k += 1;
                }
                let d0 = idx.reverse_bits();
                (to_unit(owen_scramble(d0, seed)), to_unit(owen_scramble(d1, seed ^ 0x6a09_e667)))
            }
            None => {
                let a = to_unit(self.next_u32());
                (a, to_unit(self.next_u32()))
            }
        }
    }
}
