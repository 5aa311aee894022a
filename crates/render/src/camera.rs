//! Pinhole cameras: perspective and orthographic, image row 0 at the top, placed by
//! `eye`/`target`/`up` and then moved by an optional transform chain.

use crate::math::{Ray, Real, Vec3, V3};
use crate::xform::Affine;
use tessera_types::scene::Camera as CameraDesc;

/// A camera ready to generate rays for film positions.
#[derive(Debug, Clone)]
pub(crate) struct Camera {
    eye: V3,
    fwd: V3,
    /// Right vector scaled to half the image width at unit distance (or in world units).
    right: V3,
    /// Up vector scaled to half the image height.
    up: V3,
    ortho: bool,
    inv_w: f32,
    inv_h: f32,
}

impl Camera {
    /// Builds the camera for a `width` x `height` image.
    pub(crate) fn new(desc: &CameraDesc, width: u32, height: u32) -> Camera {
        let aspect = width as f32 / height as f32;
        let (eye, target, up, half_h, ortho, chain) = match desc {
            CameraDesc::Perspective(p) => {
                let half = libm::tanf(p.vfov_deg.to_radians() * 0.5);
                (p.eye, p.target, p.up, half, false, &p.transform)
            }
            CameraDesc::Orthographic(o) => (o.eye, o.target, o.up, o.height * 0.5, true, &o.transform),
        };
        // The chain moves the whole look-at rig: eye and target as points, up as a direction
        // (rotations keep lengths, so the orthographic height is unchanged).
        let xf = Affine::from_chain(chain);
        let (eye, target, up) =
            (V3::from(xf.point(eye)), V3::from(xf.point(target)), V3::from(xf.vector(up)));
        let fwd = (target - eye).normalize();
        let right = fwd.cross(up).normalize();
        let cup = right.cross(fwd);
        Camera {
            eye,
            fwd,
            right: right * (half_h * aspect),
            up: cup * half_h,
            ortho,
            inv_w: 1.0 / width as f32,
            inv_h: 1.0 / height as f32,
        }
    }

    /// The ray through film position (`fx`, `fy`) in pixels, (0, 0) = top-left corner.
    #[inline]
    pub(crate) fn ray(&self, fx: f32, fy: f32) -> Ray {
        let (o, d) = self.origin_dir(fx, fy);
        Ray::new(o, d)
    }

    /// Origin and unit direction of the ray through film position (`fx`, `fy`), for one
    /// position or one per lane.
    #[inline(always)]
    pub(crate) fn origin_dir<T: Real>(&self, fx: T, fy: T) -> (Vec3<T>, Vec3<T>) {
        let s = Vec3::<T>::splat3;
        let (one, two) = (T::splat(1.0), T::splat(2.0));
        let sx = two * fx * T::splat(self.inv_w) - one;
        let sy = one - two * fy * T::splat(self.inv_h);
        if self.ortho {
            (s(self.eye) + s(self.right) * sx + s(self.up) * sy, s(self.fwd))
        } else {
            (s(self.eye), (s(self.fwd) + s(self.right) * sx + s(self.up) * sy).normalize())
        }
    }
}
