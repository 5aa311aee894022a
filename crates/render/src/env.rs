//! The environment: radiance from where no shape is hit, and a direction sampler proportional
//! to its luminance so next-event estimation can pick it like any other light.

use crate::math::V3;
use std::f32::consts::PI;
use tessera_types::scene::Environment as EnvDesc;

/// Radiance from where no shape is hit.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Env {
    /// The same radiance from every direction.
    Constant(V3),
    /// `horizon` at and below the horizon, blending linearly to `zenith` by direction z.
    Gradient { zenith: V3, horizon: V3 },
}

/// Rec. 709 luminance, the scalar every light is weighed and sampled by.
#[inline]
pub(crate) fn luminance(c: V3) -> f32 {
    0.2126 * c.x + 0.7152 * c.y + 0.0722 * c.z
}

impl Env {
    /// The environment a scene describes.
    pub(crate) fn new(desc: &EnvDesc) -> Env {
        match desc {
            EnvDesc::Constant(c) => Env::Constant(V3::from(c.radiance)),
            EnvDesc::Gradient(g) => {
                Env::Gradient { zenith: V3::from(g.zenith), horizon: V3::from(g.horizon) }
            }
        }
    }

    /// Radiance arriving from direction `-d` (i.e. seen along `d`).
    #[inline(always)]
    pub(crate) fn radiance(&self, d: V3) -> V3 {
        match *self {
            Env::Constant(c) => c,
            Env::Gradient { zenith, horizon } => {
                let t = d.z.clamp(0.0, 1.0);
                horizon + (zenith - horizon) * t
            }
        }
    }

    /// Luminance at the horizon (and below) and at the zenith; equal for a constant sky.
    #[inline(always)]
    fn lum_h_z(&self) -> (f32, f32) {
        match *self {
            Env::Constant(c) => (luminance(c), luminance(c)),
            Env::Gradient { zenith, horizon } => (luminance(horizon), luminance(zenith)),
        }
    }

    /// Integral of luminance over the sphere of directions: 4πL for a constant sky; for a
    /// gradient 2π·h below the horizon plus ∫₀¹ (h + (z−h)·z) 2π dz = π(h + z) above (dω = dz dφ).
    pub(crate) fn power(&self) -> f32 {
        let (h, z) = self.lum_h_z();
        match self {
            Env::Constant(_) => 4.0 * PI * h,
            Env::Gradient { .. } => PI * (3.0 * h + z),
        }
    }

    /// A direction drawn with density proportional to luminance, and that solid-angle density.
    /// z = cos θ is drawn from its analytic marginal and φ uniformly, which is exact because
    /// luminance depends on z alone and dω = dz dφ. Call only when [`Env::power`] > 0.
    #[inline]
    pub(crate) fn sample(&self, u: f32, v: f32) -> (V3, f32) {
        let (h, zen) = self.lum_h_z();
        let z = match self {
            Env::Constant(_) => 1.0 - 2.0 * u,
            Env::Gradient { .. } => {
                // Mass below the horizon: 2πh out of π(3h + zen).
                let below = 2.0 * h / (3.0 * h + zen);
                if u < below {
                    (u / below - 1.0).min(0.0)
                } else {
                    // Above: CDF (h·z + k·z²/2) / (h + k/2) = u', k = zen − h. The root is
                    // written as 2c / (h + √(h² + 2k·c)), c = u'(h + k/2), which has no
                    // cancellation for either sign of k and is exact at k = 0.
                    let up = ((u - below) / (1.0 - below)).clamp(0.0, 1.0);
                    let k = zen - h;
                    let c = up * (h + 0.5 * k);
                    let den = h + (h * h + 2.0 * k * c).max(0.0).sqrt();
                    if den > 0.0 {
                        (2.0 * c / den).min(1.0)
                    } else {
                        0.0
                    }
                }
            }
        };
        let r = (1.0 - z * z).max(0.0).sqrt();
        let (s, c) = libm::sincosf(2.0 * PI * v);
        let wi = V3::new(r * c, r * s, z);
        (wi, self.pdf(wi))
    }

    /// Solid-angle density with which [`Env::sample`] draws `d`.
    #[inline]
    pub(crate) fn pdf(&self, d: V3) -> f32 {
        let p = self.power();
        if p > 0.0 {
            luminance(self.radiance(d)) / p
        } else {
            0.0
        }
    }
}

/// The environment's direction sampler, public for the crate's statistical tests (the
/// integrator uses the same code through its light list).
#[derive(Debug, Clone, Copy)]
pub struct EnvSampler(Env);

impl EnvSampler {
    /// The sampler of a scene's environment.
    pub fn new(desc: &EnvDesc) -> EnvSampler {
        EnvSampler(Env::new(desc))
    }

    /// A direction with density proportional to luminance, and its solid-angle density.
    pub fn sample(&self, u: f32, v: f32) -> (V3, f32) {
        self.0.sample(u, v)
    }

    /// Solid-angle density of drawing `d`.
    pub fn pdf(&self, d: V3) -> f32 {
        self.0.pdf(d)
    }

    /// Radiance arriving from `-d`.
    pub fn radiance(&self, d: V3) -> V3 {
        self.0.radiance(d)
    }
}
