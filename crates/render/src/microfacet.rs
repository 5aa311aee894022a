//! Microfacet normal distributions (GGX and Beckmann) with Smith masking, in a local frame
//! whose +Z is the macro-surface normal.
//!
//! Normals are drawn from the distribution of *visible* normals, G1(wo)·max(0, wo·m)·D(m)/cos θo,
//! which wastes no samples on normals facing away from the viewer: GGX by Heitz 2018 ("Sampling
//! the GGX Distribution of Visible Normals"), Beckmann by Heitz & d'Eon 2014 with pbrt-v3's
//! numerical inversion of the slope CDF (`BeckmannSample11`).

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
        // Normals seen from below are those seen from -wo above: visibility is |wo·m| > 0.
        let wo = if wo.z < 0.0 { -wo } else { wo };
        if self.beckmann {
            // Stretch to unit roughness, draw a visible slope there, rotate it to wo's azimuth
            // and unstretch (pbrt-v3's BeckmannSample).
            let ws = V3::new(self.alpha * wo.x, self.alpha * wo.y, wo.z).normalize();
            let (sx, sy) = beckmann_slopes_11(ws.z, u, v);
            let len = (ws.x * ws.x + ws.y * ws.y).sqrt();
            let (cp, sp) = if len > 0.0 { (ws.x / len, ws.y / len) } else { (1.0, 0.0) };
            let (rx, ry) = (cp * sx - sp * sy, sp * sx + cp * sy);
            return V3::new(-self.alpha * rx, -self.alpha * ry, 1.0).normalize();
        }
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
        let cos_o = wo.z.abs();
        if cos_o == 0.0 {
            return 0.0;
        }
        // The sampler follows Beckmann's exact (erf) masking, not the rational Lambda that
        // `g1` uses for the BSDF value, so the density uses the exact one too (they differ by
        // up to 0.35 %, which would bias f/pdf).
        let g1 =
            if self.beckmann { 1.0 / (1.0 + beckmann_lambda_exact(self.alpha, wo)) } else { self.g1(wo) };
        g1 * wo.dot(m).abs() * self.d(m) / cos_o
    }
}

/// 1/√π.
const FRAC_1_SQRT_PI: f32 = 0.564_189_6;

/// Beckmann's Smith Lambda in closed form: (erf(a) − 1)/2 + e^(−a²)/(2a√π), a = 1/(α tan θ).
/// erfc is taken straight from Abramowitz–Stegun 7.1.26's form so that nothing cancels to 0
/// in f32 for large a.
fn beckmann_lambda_exact(alpha: f32, w: V3) -> f32 {
    let c2 = w.z * w.z;
    let tan = ((1.0 - c2).max(0.0) / c2).sqrt();
    if tan == 0.0 {
        return 0.0;
    }
    let a = 1.0 / (alpha * tan);
    let e = libm::expf(-a * a);
    (0.5 * (e * FRAC_1_SQRT_PI / a - erfc_pos(a))).max(0.0)
}

/// erfc(x) for x ≥ 0 (Abramowitz–Stegun 7.1.26, absolute error below 1.5e-7).
fn erfc_pos(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly =
        t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152 + t * 1.061_405_4))));
    poly * libm::expf(-x * x)
}

/// erf(x) (odd extension of [`erfc_pos`]).
fn erf(x: f32) -> f32 {
    let y = 1.0 - erfc_pos(x.abs());
    if x < 0.0 {
        -y
    } else {
        y
    }
}

/// Inverse error function (Giles 2010, single precision), argument clamped inside (−1, 1).
fn erf_inv(x: f32) -> f32 {
    let x = x.clamp(-0.99999, 0.99999);
    let mut w = -libm::logf((1.0 - x) * (1.0 + x));
    let p = if w < 5.0 {
        w -= 2.5;
        let mut p = 2.810_226_4e-8;
        p = 3.432_739_4e-7 + p * w;
        p = -3.523_387_7e-6 + p * w;
        p = -4.391_506_5e-6 + p * w;
        p = 0.000_218_580_87 + p * w;
        p = -0.001_253_725 + p * w;
        p = -0.004_177_681_6 + p * w;
        p = 0.246_640_73 + p * w;
        1.501_409_4 + p * w
    } else {
        w = w.sqrt() - 3.0;
        let mut p = -0.000_200_214_26;
        p = 0.000_100_950_56 + p * w;
        p = 0.001_349_343_2 + p * w;
        p = -0.003_673_428_4 + p * w;
        p = 0.005_739_507_7 + p * w;
        p = -0.007_622_461 + p * w;
        p = 0.009_438_870_5 + p * w;
        p = 1.001_674 + p * w;
        2.832_976_8 + p * w
    };
    p * x
}

/// Slopes (x, y) of a visible normal of the unit-roughness Beckmann surface seen from a
/// direction with cos θ = `cos_o` and azimuth 0 (Heitz & d'Eon 2014). The x slope inverts its
/// CDF, (1 + b + tanθ/√π·e^(−erfinv(b)²))·norm in the erf domain b, by safeguarded Newton
/// steps (pbrt-v3: the paper's closed-form guess alone is discontinuous, which hurts QMC);
/// the y slope is an independent standard normal scaled by 1/√2.
fn beckmann_slopes_11(cos_o: f32, u: f32, v: f32) -> (f32, f32) {
    if cos_o > 0.9999 {
        let r = (-libm::logf((1.0 - u).max(1e-12))).sqrt();
        let (s, c) = libm::sincosf(2.0 * PI * v);
        return (r * c, r * s);
    }
    let sin_o = (1.0 - cos_o * cos_o).max(0.0).sqrt();
    let tan_o = sin_o / cos_o;
    let cot_o = 1.0 / tan_o;
    let (mut a, mut c) = (-1.0f32, erf(cot_o));
    let x = u.max(1e-6);
    // pbrt-v3's fitted initial guess, close enough that a few Newton steps converge.
    let theta = libm::acosf(cos_o);
    let fit = 1.0 + theta * (-0.876 + theta * (0.4265 - 0.0594 * theta));
    let mut b = c - (1.0 + c) * libm::powf(1.0 - x, fit);
    let norm = 1.0 / (1.0 + c + FRAC_1_SQRT_PI * tan_o * libm::expf(-cot_o * cot_o));
    for _ in 0..9 {
        // Written so that a NaN b also falls back to bisection.
        if !(b >= a && b <= c) {
            b = 0.5 * (a + c);
        }
        let ib = erf_inv(b);
        let value = norm * (1.0 + b + FRAC_1_SQRT_PI * tan_o * libm::expf(-ib * ib)) - x;
        let deriv = norm * (1.0 - ib * tan_o);
        if value.abs() < 1e-5 {
            break;
        }
        if value > 0.0 {
            c = b;
        } else {
            a = b;
        }
        b -= value / deriv;
    }
    (erf_inv(b), erf_inv(2.0 * v.max(1e-6) - 1.0))
}
