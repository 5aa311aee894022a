//! Transform chains (scene format `transform`): translate/rotate steps composed into one affine
//! map, in f64 so long chains do not drift.

use crate::math::V3;
use tessera_types::scene::Transform;

/// An affine map `p -> m·p + t` (row-major 3x3 linear part).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine {
    /// Linear part, row-major.
    pub m: [[f64; 3]; 3],
    /// Translation.
    pub t: [f64; 3],
}

impl Affine {
    /// The identity map.
    pub const IDENTITY: Affine =
        Affine { m: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], t: [0.0; 3] };

    /// `T1 · T2 · … · Tn` for a chain `[T1, …, Tn]`: each step acts in the frame the earlier
    /// steps leave, so points are transformed by the last step first.
    pub fn from_chain(chain: &[Transform]) -> Affine {
        chain.iter().fold(Affine::IDENTITY, |acc, step| acc.then(&Affine::step(step)))
    }

    /// The map of one step.
    pub fn step(step: &Transform) -> Affine {
        match step {
            Transform::Translate(v) => {
                Affine { t: [f64::from(v[0]), f64::from(v[1]), f64::from(v[2])], ..Affine::IDENTITY }
            }
            Transform::Rotate(r) => {
                let a = [f64::from(r.axis[0]), f64::from(r.axis[1]), f64::from(r.axis[2])];
                let len = (a[0] * a[0] + a[1] * a[1] + a[2] * a[2]).sqrt();
                let (x, y, z) = (a[0] / len, a[1] / len, a[2] / len);
                let (s, c) = libm::sincos(f64::from(r.angle_deg).to_radians());
                let k = 1.0 - c;
                // Rodrigues' rotation matrix (right-hand rule).
                Affine {
                    m: [
                        [c + x * x * k, x * y * k - z * s, x * z * k + y * s],
                        [y * x * k + z * s, c + y * y * k, y * z * k - x * s],
                        [z * x * k - y * s, z * y * k + x * s, c + z * z * k],
                    ],
                    t: [0.0; 3],
                }
            }
        }
    }

    /// `self · other`: apply `other` first, then `self`.
    pub fn then(&self, other: &Affine) -> Affine {
        let m = std::array::from_fn(|i| {
            std::array::from_fn(|j| (0..3).map(|k| self.m[i][k] * other.m[k][j]).sum())
        });
        let t = std::array::from_fn(|i| self.t[i] + (0..3).map(|k| self.m[i][k] * other.t[k]).sum::<f64>());
        Affine { m, t }
    }

    /// Transforms a point.
    pub fn point(&self, p: [f32; 3]) -> [f32; 3] {
        let p = p.map(f64::from);
        std::array::from_fn(|i| {
            (self.m[i][0] * p[0] + self.m[i][1] * p[1] + self.m[i][2] * p[2] + self.t[i]) as f32
        })
    }

    /// Transforms a direction (no translation).
    pub fn vector(&self, v: [f32; 3]) -> [f32; 3] {
        let v = v.map(f64::from);
        std::array::from_fn(|i| (self.m[i][0] * v[0] + self.m[i][1] * v[1] + self.m[i][2] * v[2]) as f32)
    }

    /// Transforms a point given as a [`V3`].
    pub fn point_v3(&self, p: V3) -> V3 {
        V3::from(self.point([p.x, p.y, p.z]))
    }
}
