//! Microfacet normal distributions (GGX and Beckmann) with Smith masking, in a local frame
//! whose +Z is the macro-surface normal.
//!
//! GGX normals are drawn from the distribution of *visible* normals (Heitz 2018, "Sampling the
//! GGX Distribution of Visible Normals"), which wastes no samples on normals facing away from
//! the viewer; Beckmann normals are drawn from D(m)·cos(m) (Walter et al. 2007), which is exact
//! but noisier at grazing angles. `pdf` returns whichever density `sample` uses.

use crate::math::V3;
use std::f32::consts::PI;

/// An isotropic microfacet distribution of roughness `alpha` (Mitsuba's alpha, not squared).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Microfacet {
    /// Roughness; clamped away from 0 so densities stay finite.
    pub alpha: f32,
    /// Beckmann rather than GGX.
    pub beckmann: bool,
}

/// Smallest alpha rendered as rough; below it the lobe is a spike that f32 cannot resolve, so
/// materials with smaller roughness are rendered smooth instead.
pub(crate) const MIN_ALPHA: f32 = 1e-3;

impl Microfacet {
    /// Normal distribution D(m); 0 below the surface.
    #[inline]
    pub(crate) fn d(&self, m: V3) -> f32 {
        let c2 = m.z * m.z;
        if m.z <= 0.0 {
            return 0.0;
        }
        let tan2 = (1.0 - c2).max(0.0) / c2;
        let a2 = self.alpha * self.alpha;
        if self.beckmann {
            libm::expf(-tan2 / a2) / (PI * a2 * c2 * c2)
        } else {
            let k = a2 + tan2;
            a2 / (PI * c2 * c2 * k * k)
        }
    }

    /// Smith's Lambda for direction `w` (either side of the surface).
    #[inline]
    pub(crate) fn lambda(&self, w: V3) -> f32 {
        let c2 = w.z * w.z;
        if c2 <= 0.0 {
            return f32::INFINITY;
        }
        let tan2 = (1.0 - c2).max(0.0) / c2;
        if tan2 == 0.0 {
            return 0.0;
        }
        if self.beckmann {
            // Walter et al.'s rational approximation, within 0.35 % of the erf form.
            let a = 1.0 / (self.alpha * tan2.sqrt());
            if a >= 1.6 {
                0.0
            } else {
                (1.0 - 1.259 * a + 0.396 * a * a) / (3.535 * a + 2.181 * a * a)
            }
        } else {
            0.5 * ((1.0 + self.alpha * self.alpha * tan2).sqrt() - 1.0)
        }
    }

    /// Masking of one direction.
    #[inline]
    pub(crate) fn g1(&self, w: V3) -> f32 {
        1.0 / (1.0 + self.lambda(w))
    }

    /// Height-correlated masking-shadowing of a pair of directions (symmetric, so reciprocal).
    #[inline]
    pub(crate) fn g(&self, wo: V3, wi: V3) -> f32 {
        1.0 / (1.0 + self.lambda(wo) + self.lambda(wi))
    }

    /// Draws a microfacet normal (upper hemisphere) as seen from `wo`, which may lie on either
    /// side; its density is [`Microfacet::pdf`].
    #[inline]
    pub(crate) fn sample(&self, wo: V3, u: f32, v: f32) -> V3 {
        if self.beckmann {
            let a2 = self.alpha * self.alpha;
            let tan2 = -a2 * libm::logf((1.0 - u).max(1e-12));
            let cos = 1.0 / (1.0 + tan2).sqrt();
            let sin = (1.0 - cos * cos).max(0.0).sqrt();
            let (s, c) = libm::sincosf(2.0 * PI * v);
            return V3::new(sin * c, sin * s, cos);
        }
        let wo = if wo.z < 0.0 { -wo } else { wo };
        // Stretch to the unit-roughness configuration, sample the visible hemisphere of a
        // sphere there (Heitz 2018, listing 1), unstretch.
        let vh = V3::new(self.alpha * wo.x, self.alpha * wo.y, wo.z).normalize();
        let len2 = vh.x * vh.x + vh.y * vh.y;
        let t1 =
            if len2 > 0.0 { V3::new(-vh.y, vh.x, 0.0) * (1.0 / len2.sqrt()) } else { V3::new(1.0, 0.0, 0.0) };
        let t2 = vh.cross(t1);
        let r = u.sqrt();
        let phi = 2.0 * PI * v;
        let (sp, cp) = libm::sincosf(phi);
        let p1 = r * cp;
        let s = 0.5 * (1.0 + vh.z);
        let p2 = (1.0 - s) * (1.0 - p1 * p1).max(0.0).sqrt() + s * r * sp;
        let nh = t1 * p1 + t2 * p2 + vh * (1.0 - p1 * p1 - p2 * p2).max(0.0).sqrt();
        V3::new(self.alpha * nh.x, self.alpha * nh.y, nh.z.max(1e-6)).normalize()
    }

    /// Density of [`Microfacet::sample`] producing normal `m` from `wo`.
    #[inline]
    pub(crate) fn pdf(&self, wo: V3, m: V3) -> f32 {
        if self.beckmann {
            return self.d(m) * m.z.max(0.0);
        }
        let cos_o = wo.z.abs();
        if cos_o == 0.0 {
            return 0.0;
        }
        self.g1(wo) * wo.dot(m).abs() * self.d(m) / cos_o
    }
}
