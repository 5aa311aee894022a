//! Random numbers keyed only by (scene seed, pixel x, pixel y, sample index) (DESIGN 4), so a
//! pixel's samples are the same whichever tile, thread or machine renders it.
//!
//! The first dimensions of a path (camera jitter and the first bounces, where noise is most
//! visible) come from an Owen-scrambled, index-shuffled Sobol sequence (Burley 2020, "Practical
//! Hash-based Owen Scrambling"): each 1D or 2D request takes dimensions 0 (and 1) of its own
//! independently scrambled Sobol pattern, so every pair is a well-stratified (0,2)-sequence over
//! the pixel's samples. Later requests, which matter little, are a hash of (pixel, sample,
//! request number), which is cheaper. Both are pure functions of the key, so determinism holds,
//! and both are random-access, so requests a path does not need cost nothing.

use crate::lane::F;

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

/// Direction numbers of Sobol dimension 1: v_0 = 2^31, v_i = v_{i-1} ^ (v_{i-1} >> 1).
#[cfg(test)]
const fn dim1_directions() -> [u32; 32] {
    let mut v = [0u32; 32];
    v[0] = 1 << 31;
    let mut i = 1;
    while i < 32 {
        v[i] = v[i - 1] ^ (v[i - 1] >> 1);
        i += 1;
    }
    v
}

/// A GF(2)-linear map given by the image of each input bit, as four byte-indexed tables: the
/// 32-step bit loop becomes four lookups (4 KiB, stays in L1).
#[cfg(test)]
const fn byte_tables(bit_images: [u32; 32]) -> [[u32; 256]; 4] {
    let mut t = [[0u32; 256]; 4];
    let mut byte = 0;
    while byte < 4 {
        let mut b = 0;
        while b < 256 {
            let mut acc = 0u32;
            let mut k = 0;
            while k < 8 {
                if b & (1 << k) != 0 {
                    acc ^= bit_images[byte * 8 + k];
                }
                k += 1;
            }
            t[byte][b] = acc;
            b += 1;
        }
        byte += 1;
    }
    t
}

/// Sobol dimension 1 (primitive polynomial x + 1): its generator matrix as byte tables.
#[cfg(test)]
static SOBOL_DIM1: [[u32; 256]; 4] = byte_tables(dim1_directions());

/// `reverse(sobol_dim1(reverse(x)))`, also linear: the form the sampler used before
/// `sobol_dim1_rev_from_index`, kept as that function's reference.
#[cfg(test)]
static SOBOL_DIM1_REV: [[u32; 256]; 4] = {
    let v = dim1_directions();
    let mut images = [0u32; 32];
    let mut i = 0;
    while i < 32 {
        images[i] = v[31 - i].reverse_bits();
        i += 1;
    }
    byte_tables(images)
};

/// `table4(&SOBOL_DIM1_REV, x)` computed from `z = reverse(x)` with shifts and masks, which
/// vectorise (table lookups would be gathers). Sobol dimension 1's generator matrix is Pascal's
/// triangle mod 2, so by Lucas's theorem bit j of the result is the XOR of the bits m of `z`
/// whose positions are supersets of j's: a subset-sum transform over the five bits of a bit
/// position, one shift-and-mask step per position bit.
#[inline(always)]
fn sobol_dim1_rev_from_index(z: u32) -> u32 {
    let mut y = z;
    y ^= (y >> 1) & 0x5555_5555;
    y ^= (y >> 2) & 0x3333_3333;
    y ^= (y >> 4) & 0x0f0f_0f0f;
    y ^= (y >> 8) & 0x00ff_00ff;
    y ^= y >> 16;
    y
}

#[cfg(test)]
#[inline(always)]
fn table4(t: &[[u32; 256]; 4], i: u32) -> u32 {
    t[0][(i & 0xff) as usize]
        ^ t[1][((i >> 8) & 0xff) as usize]
        ^ t[2][((i >> 16) & 0xff) as usize]
        ^ t[3][(i >> 24) as usize]
}

#[cfg(test)]
#[inline(always)]
fn sobol_dim1(i: u32) -> u32 {
    table4(&SOBOL_DIM1, i)
}

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

#[cfg(test)]
fn owen_scramble(x: u32, seed: u32) -> u32 {
    lk_permute(x.reverse_bits(), seed).reverse_bits()
}

#[inline(always)]
fn to_unit(x: u32) -> f32 {
    // 24 bits so the result is exactly representable and strictly below 1.
    (x >> 8) as f32 * (1.0 / 16_777_216.0)
}

/// Both coordinates of a Sobol request for sample `s`, the request's hash being `h`:
/// dimensions 0 and 1 of its Owen-scrambled Sobol pattern at its own shuffle of the sample
/// index (Burley 2020). All scrambling works on bit-reversed values, where the Laine–Karras
/// permutation, which lets bits affect only higher bits, is a nested uniform scramble.
#[inline(always)]
fn sobol_pair(s: u32, h: u64) -> (f32, f32) {
    let (shuffle, seed) = (h as u32, (h >> 32) as u32);
    // The shuffled index: owen_scramble(s) = reverse(lk(reverse(s))).
    let index = lk_permute(s.reverse_bits(), shuffle).reverse_bits();
    // Dimension 0 is the radical inverse, reverse(index), whose Owen scramble is
    // reverse(lk(index)); dimension 1 likewise from its generator matrix.
    let d0 = lk_permute(index, seed);
    let d1 = lk_permute(sobol_dim1_rev_from_index(index), seed ^ 0x6a09_e667);
    (to_unit(d0.reverse_bits()), to_unit(d1.reverse_bits()))
}

/// Request `r` (past the Sobol ones) of the sample whose hash is `sample`, as two uniforms from
/// the low and high halves of 64 hashed bits (a 1D request takes the first).
#[inline(always)]
fn hashed(sample: u64, r: u32) -> (f32, f32) {
    let h = mix64(sample ^ u64::from(r).wrapping_mul(0xd1b5_4a32_d192_ed03));
    (to_unit(h as u32), to_unit((h >> 32) as u32))
}

/// Samples per batch of Sobol values: one AVX2 register of u32 lanes.
const LANES: usize = 8;

/// The sample stream for one (seed, pixel, sample): a sequence of 1D and 2D requests.
///
/// Requests are numbered, and each is a pure function of (seed, pixel, sample, request number),
/// so a path can skip the requests a vertex does not need ([`Sampler::skip`], then
/// [`Sampler::at_1d`] / [`Sampler::at_2d`]) for free while every later request keeps its
/// number: streams stay aligned across paths whatever each one used.
///
/// One `Sampler` serves all of a pixel's samples (`for_pixel`, then `start` per sample, in any
/// order). The hashes that do not depend on the sample index (the pixel hash and each Sobol
/// request's hash) are computed once per pixel, each when first requested. A Sobol request is
/// computed for a batch of [`LANES`] consecutive samples at once, when the first of them asks
/// for it: the same scalar formula per lane, which the compiler turns into one pass of vector
/// instructions, so later samples of the batch only read their value.
#[derive(Debug, Clone)]
pub struct Sampler {
    pixel: u64,
    /// Hashes of the Sobol requests whose bit is set in `known`: index-shuffle seed in the low
    /// half, scramble seed in the high half.
    requests: [u64; SOBOL_REQUESTS as usize],
    known: u32,
    /// Hash of (pixel, sample) that keys the requests past the Sobol ones.
    sample: u64,
    /// Number of the next sequential request.
    request: u32,
    /// The current sample's batch (sample index / LANES) and its lane in it.
    batch: u32,
    lane: usize,
    /// Sobol requests whose values for the current batch are in `values`.
    filled: u32,
    /// Per Sobol request, both coordinates for each sample of the batch.
    values: [[[f32; LANES]; 2]; SOBOL_REQUESTS as usize],
}

impl Sampler {
    /// The stream for sample `s` of pixel (`x`, `y`) under scene seed `seed`.
    #[inline]
    pub fn new(seed: u64, x: u32, y: u32, s: u32) -> Sampler {
        let mut sp = Sampler::for_pixel(seed, x, y);
        sp.start(s);
        sp
    }

    /// Pixel (`x`, `y`)'s sampler under scene seed `seed`; `start` picks the sample before
    /// the first draw.
    #[inline]
    pub fn for_pixel(seed: u64, x: u32, y: u32) -> Sampler {
        let mut sp = Sampler {
            pixel: 0,
            requests: [0; SOBOL_REQUESTS as usize],
            known: 0,
            sample: 0,
            request: 0,
            batch: u32::MAX,
            lane: 0,
            filled: 0,
            values: [[[0.0; LANES]; 2]; SOBOL_REQUESTS as usize],
        };
        sp.set_pixel(seed, x, y);
        sp
    }

    /// Makes this the sampler `for_pixel(seed, x, y)` would make, keeping its buffers: what
    /// they hold for the previous pixel is marked stale, not cleared (a render reuses one
    /// sampler per row rather than clearing 0.8 KB per pixel).
    #[inline(always)]
    pub(crate) fn set_pixel(&mut self, seed: u64, x: u32, y: u32) {
        // Chained mixing rather than XOR so that swapping x and y gives a different stream.
        self.pixel = mix64(mix64(seed ^ 0x9e37_79b9_7f4a_7c15) ^ ((u64::from(x) << 32) | u64::from(y)));
        self.known = 0;
        // No sample index maps here (u32::MAX / LANES is smaller), so the first `start`
        // begins a batch (and marks the batch's values stale).
        self.batch = u32::MAX;
    }

    /// Restarts the stream at sample `s` of the same pixel.
    #[inline(always)]
    pub fn start(&mut self, s: u32) {
        self.sample = self.sample_hash(s);
        self.request = 0;
        let batch = s / LANES as u32;
        if batch != self.batch {
            self.batch = batch;
            self.filled = 0;
        }
        self.lane = s as usize % LANES;
    }

    /// Reserves the next `n` requests and returns the number of the first; read them with
    /// [`Sampler::at_1d`] / [`Sampler::at_2d`], or leave them unread at no cost.
    #[inline(always)]
    pub fn skip(&mut self, n: u32) -> u32 {
        let first = self.request;
        self.request += n;
        first
    }

    /// Hash of Sobol request `r` (< SOBOL_REQUESTS), computed by the first sample of the pixel
    /// that reaches it.
    #[inline(always)]
    fn request_hash(&mut self, r: u32) -> u64 {
        let bit = 1u32 << r;
        if self.known & bit == 0 {
            self.requests[r as usize] =
                mix64(self.pixel ^ u64::from(r + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
            self.known |= bit;
        }
        self.requests[r as usize]
    }

    /// Both coordinates of Sobol request `r` for the current sample, filling the batch's
    /// values of that request first if no sample of the batch has asked for them yet.
    #[inline(always)]
    fn sobol(&mut self, r: u32) -> (f32, f32) {
        if self.filled & (1 << r) == 0 {
            self.fill(r);
        }
        let v = &self.values[r as usize];
        (v[0][self.lane], v[1][self.lane])
    }

    /// Request `r`'s values for every sample of the current batch.
    #[inline(always)]
    fn fill(&mut self, r: u32) {
        let h = self.request_hash(r);
        let first = self.batch.wrapping_mul(LANES as u32);
        let [v0, v1] = &mut self.values[r as usize];
        for (lane, (v0, v1)) in v0.iter_mut().zip(v1.iter_mut()).enumerate() {
            (*v0, *v1) = sobol_pair(first + lane as u32, h);
        }
        self.filled |= 1 << r;
    }

    /// Hash of sample `s` of the pixel, which keys its requests past the Sobol ones.
    #[inline(always)]
    pub(crate) fn sample_hash(&self, s: u32) -> u64 {
        mix64(self.pixel ^ u64::from(s))
    }

    /// Request `r` for `N` samples of the pixel at once, given their indices and
    /// `sample_hash`es, as two uniforms each: lane i has what `at_2d(r)` gives sample
    /// `samples[i]`. Nothing is cached: in lockstep each sample reads a request once.
    #[inline(always)]
    pub(crate) fn lanes_2d<const N: usize>(
        &mut self,
        r: u32,
        samples: &[u32; N],
        hashes: &[u64; N],
    ) -> (F<N>, F<N>) {
        let mut u = F::default();
        let mut v = F::default();
        if r < SOBOL_REQUESTS {
            let h = self.request_hash(r);
            for (lane, &s) in samples.iter().enumerate() {
                (u.0[lane], v.0[lane]) = sobol_pair(s, h);
            }
        } else {
            for (lane, &sample) in hashes.iter().enumerate() {
                (u.0[lane], v.0[lane]) = hashed(sample, r);
            }
        }
        (u, v)
    }

    /// Request `r` for `N` samples as one uniform each (see `lanes_2d`).
    #[inline(always)]
    pub(crate) fn lanes_1d<const N: usize>(&mut self, r: u32, samples: &[u32; N], hashes: &[u64; N]) -> F<N> {
        self.lanes_2d(r, samples, hashes).0
    }

    /// Request `r` as one uniform in [0, 1).
    #[inline(always)]
    pub fn at_1d(&mut self, r: u32) -> f32 {
        if r < SOBOL_REQUESTS {
            self.sobol(r).0
        } else {
            hashed(self.sample, r).0
        }
    }

    /// Request `r` as two uniforms in [0, 1), stratified jointly over a pixel's samples.
    #[inline(always)]
    pub fn at_2d(&mut self, r: u32) -> (f32, f32) {
        if r < SOBOL_REQUESTS {
            self.sobol(r)
        } else {
            hashed(self.sample, r)
        }
    }

    /// The next request as one uniform in [0, 1).
    #[inline(always)]
    pub fn next_1d(&mut self) -> f32 {
        let r = self.skip(1);
        self.at_1d(r)
    }

    /// The next request as two uniforms in [0, 1), stratified jointly over a pixel's samples.
    #[inline(always)]
    pub fn next_2d(&mut self) -> (f32, f32) {
        let r = self.skip(1);
        self.at_2d(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lane::W;

    /// The table form must equal the textbook bit loop.
    #[test]
    fn sobol_tables_match_the_bit_loop() {
        let mut v = [0u32; 32];
        v[0] = 1 << 31;
        for i in 1..32 {
            v[i] = v[i - 1] ^ (v[i - 1] >> 1);
        }
        for idx in (0..5000u32).chain([u32::MAX, 0x8000_0001, 0x1234_5678]) {
            let want = (0..32).filter(|k| idx & (1 << k) != 0).fold(0, |a, k| a ^ v[k]);
            assert_eq!(sobol_dim1(idx), want, "{idx}");
        }
        // The first points of dimension 1 are 0, 1/2, 3/4, 1/4 (Sobol's classic sequence).
        let p: Vec<u32> = (0..4).map(sobol_dim1).collect();
        assert_eq!(p, [0, 0x8000_0000, 0xc000_0000, 0x4000_0000]);
        for x in (0..5000u32).map(|i| i.wrapping_mul(0x9e37_79b9)) {
            assert_eq!(table4(&SOBOL_DIM1_REV, x), sobol_dim1(x.reverse_bits()).reverse_bits(), "{x}");
        }
    }

    /// The shift-and-mask form of dimension 1 equals the table form on reversed indices.
    #[test]
    fn dim1_shift_form_matches_the_table() {
        let mut x = 0x0123_4567u32;
        for i in 0..20_000u32 {
            x = (mix64(u64::from(x) ^ u64::from(i)) >> 16) as u32;
            for v in [x, i, i.reverse_bits(), !i] {
                assert_eq!(sobol_dim1_rev_from_index(v.reverse_bits()), table4(&SOBOL_DIM1_REV, v), "{v:#x}");
            }
        }
    }

    /// The batched values equal the textbook form: Owen-scrambled Sobol with a shuffled index.
    #[test]
    fn batches_match_the_textbook_scramble() {
        for s in (0..300u32).chain([u32::MAX - 9, u32::MAX]) {
            let mut fast = Sampler::new(3, 10, 20, s);
            let a = (fast.next_1d(), fast.next_2d());
            let mut slow = Sampler::for_pixel(3, 10, 20);
            let (h0, h1) = (slow.request_hash(0), slow.request_hash(1));
            let idx = owen_scramble(s, h0 as u32);
            let u = to_unit(owen_scramble(idx.reverse_bits(), (h0 >> 32) as u32));
            let idx = owen_scramble(s, h1 as u32);
            let seed = (h1 >> 32) as u32;
            let v = (
                to_unit(owen_scramble(idx.reverse_bits(), seed)),
                to_unit(owen_scramble(sobol_dim1(idx), seed ^ 0x6a09_e667)),
            );
            assert_eq!(a, (u, v), "{s}");
        }
    }

    /// Reusing one sampler across a pixel's samples, and the random-access form, leave every
    /// Sobol request as it was: the sampler before per-pixel caching (request hashes
    /// recomputed per sample, drawn strictly in order), kept here verbatim for its Sobol part,
    /// draws the same values.
    #[test]
    fn a_sampler_moved_to_another_pixel_matches_a_fresh_one() {
        // Fill some batches of pixel (1, 2), then move to (5, 6) mid-batch: nothing stale may
        // leak into the new pixel's values, scalar or batched.
        let mut moved = Sampler::for_pixel(9, 1, 2);
        for s in [0u32, 3, 9] {
            moved.start(s);
            for r in 0..SOBOL_REQUESTS + 2 {
                moved.at_2d(r);
            }
        }
        let lanes: [u32; W] = [8, 3, 40, 9, 0, 63, 17, 8];
        moved.lanes_2d(1, &lanes, &lanes.map(|s| moved.sample_hash(s)));
        moved.set_pixel(9, 5, 6);
        let mut fresh = Sampler::for_pixel(9, 5, 6);
        let hashes = lanes.map(|s| fresh.sample_hash(s));
        assert_eq!(hashes, lanes.map(|s| moved.sample_hash(s)));
        for r in 0..SOBOL_REQUESTS + 3 {
            let (u, v) = moved.lanes_2d(r, &lanes, &hashes);
            assert_eq!((u, v), fresh.lanes_2d(r, &lanes, &hashes), "request {r}");
            // Each lane is what the one-sample reads give its sample, in any order.
            for (i, &s) in lanes.iter().enumerate() {
                fresh.start(s);
                assert_eq!((u.0[i], v.0[i]), fresh.at_2d(r), "sample {s}, request {r}");
            }
        }
        for s in 0..24 {
            moved.start(s);
            fresh.start(s);
            for r in 0..SOBOL_REQUESTS + 3 {
                assert_eq!(moved.at_2d(r), fresh.at_2d(r), "sample {s}, request {r}");
            }
        }
    }

    #[test]
    fn reused_sampler_matches_the_per_sample_form() {
        struct Old {
            pixel: u64,
            index: u32,
            request: u32,
        }
        impl Old {
            fn new(seed: u64, x: u32, y: u32, s: u32) -> Old {
                let pixel =
                    mix64(mix64(seed ^ 0x9e37_79b9_7f4a_7c15) ^ ((u64::from(x) << 32) | u64::from(y)));
                Old { pixel, index: s, request: 0 }
            }
            fn sobol_request(&mut self) -> (u32, u32) {
                assert!(self.request < SOBOL_REQUESTS);
                let h = mix64(self.pixel ^ (u64::from(self.request) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                self.request += 1;
                let idx_rev = lk_permute(self.index.reverse_bits(), h as u32);
                (idx_rev, (h >> 32) as u32)
            }
            fn next_1d(&mut self) -> f32 {
                let (idx_rev, seed) = self.sobol_request();
                to_unit(lk_permute(idx_rev.reverse_bits(), seed).reverse_bits())
            }
            fn next_2d(&mut self) -> (f32, f32) {
                let (idx_rev, seed) = self.sobol_request();
                let d0 = lk_permute(idx_rev.reverse_bits(), seed).reverse_bits();
                let d1 = lk_permute(table4(&SOBOL_DIM1_REV, idx_rev), seed ^ 0x6a09_e667).reverse_bits();
                (to_unit(d0), to_unit(d1))
            }
        }
        let mut key = 0x1234_5678_9abc_def0u64;
        for k in 0..200u32 {
            key = mix64(key);
            let (seed, x, y) = (
                if k % 2 == 0 { key } else { u64::from(k) },
                (key >> 7) as u32 % 4096,
                (key >> 29) as u32 % 4096,
            );
            let mut new = Sampler::for_pixel(seed, x, y);
            for s in (0..70u32).chain([1000, 65_535, u32::MAX, 5]) {
                new.start(s);
                let (mut old, mut via_new) = (Old::new(seed, x, y, s), Sampler::new(seed, x, y, s));
                // Mixed 1D/2D draws, some samples stopping early (as paths do).
                for d in 0..[3u32, 11, 8, 10, 1][(s % 5) as usize] {
                    if (key >> (d % 64)) & 1 == 0 {
                        let (a, b, c) = (new.next_1d(), old.next_1d(), via_new.next_1d());
                        assert_eq!(
                            (a.to_bits(), c.to_bits()),
                            (b.to_bits(), b.to_bits()),
                            "{seed} {x} {y} {s} {d}"
                        );
                    } else {
                        let (a, b, c) = (new.next_2d(), old.next_2d(), via_new.next_2d());
                        assert_eq!((a, c), (b, b), "{seed} {x} {y} {s} {d}");
                    }
                }
            }
        }
    }

    /// A request's value depends only on its number: skipping requests (as a vertex that
    /// needs no lobe choice or light sample does), reading them out of order or reusing the
    /// sampler for another sample changes no value, Sobol or hashed.
    #[test]
    fn requests_are_random_access() {
        let mut key = 0x0bad_cafe_u64;
        let mut reused = Sampler::for_pixel(7, 3, 4);
        for s in (0..40u32).chain([65_535, u32::MAX]) {
            key = mix64(key);
            let mut seq = Sampler::new(7, 3, 4, s);
            let all: Vec<(f32, f32)> = (0..40).map(|_| seq.next_2d()).collect();
            let ones: Vec<f32> = {
                let mut sp = Sampler::new(7, 3, 4, s);
                (0..40).map(|_| sp.next_1d()).collect()
            };
            reused.start(s);
            let mut r = 0;
            while r < 40 {
                let n = 1 + (key >> (r % 60)) as u32 % 4;
                let first = reused.skip(n);
                assert_eq!(first, r);
                // Read the reserved requests backwards, some as 1D, some not at all.
                for q in (first..(first + n).min(40)).rev() {
                    match (key >> (q % 61)) & 3 {
                        0 => {}
                        1 => assert_eq!(reused.at_1d(q).to_bits(), ones[q as usize].to_bits(), "{s} {q}"),
                        _ => assert_eq!(reused.at_2d(q), all[q as usize], "{s} {q}"),
                    }
                }
                r += n;
            }
            // A 1D request is the first coordinate of the same 2D request past the Sobol ones
            // (one hash), and dimension 0 of the same pattern within them.
            for q in 0..40 {
                assert_eq!(ones[q].to_bits(), all[q].0.to_bits(), "{s} {q}");
            }
        }
    }

    /// Over a power-of-two sample count, each 2D request is stratified: every one of the n
    /// elementary 1/n x 1 and 1 x 1/n strips holds exactly one point (a (0,m,2)-net property).
    #[test]
    fn pairs_are_stratified_over_a_pixels_samples() {
        let n = 64u32;
        for request in 0..3 {
            let pts: Vec<(f32, f32)> = (0..n)
                .map(|s| {
                    let mut sp = Sampler::new(9, 4, 5, s);
                    for _ in 0..request {
                        sp.next_2d();
                    }
                    sp.next_2d()
                })
                .collect();
            let mut cols = vec![0; n as usize];
            let mut rows = vec![0; n as usize];
            for (u, v) in pts {
                cols[(u * n as f32) as usize] += 1;
                rows[(v * n as f32) as usize] += 1;
            }
            assert!(cols.iter().all(|&c| c == 1), "request {request}: {cols:?}");
            assert!(rows.iter().all(|&c| c == 1), "request {request}: {rows:?}");
        }
    }
}
