//! Camera transform chains (seed 001's `translate(..).rotate(..)`): composition order, the
//! rotation sense, and that a transformed camera renders what the equivalent look-at camera
//! renders.

mod common;
use common::*;
use serde_json::{json, Value};
use tessera_render::xform::Affine;
use tessera_types::scene::{Rotate, Transform};

fn rot(angle: f32, axis: [f32; 3]) -> Transform {
    Transform::Rotate(Rotate { angle_deg: angle, axis })
}

fn close(a: [f32; 3], b: [f32; 3]) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
}

/// `[translate(0, 4, -2), rotate(90, z)]` applies the rotation first (it acts in the translated
/// frame): (1, 0, 0) → (0, 1, 0) → (0, 5, -2). Rotations follow the right-hand rule; a chain
/// and its steps composed by hand agree.
#[test]
fn chain_composes_in_the_local_frame() {
    let chain = [Transform::Translate([0.0, 4.0, -2.0]), rot(90.0, [0.0, 0.0, 1.0])];
    let a = Affine::from_chain(&chain);
    assert!(close(a.point([1.0, 0.0, 0.0]), [0.0, 5.0, -2.0]), "{:?}", a.point([1.0, 0.0, 0.0]));
    // Directions ignore the translation.
    assert!(close(a.vector([1.0, 0.0, 0.0]), [0.0, 1.0, 0.0]));
    // Right-hand rule about +X: +Y goes to +Z.
    assert!(close(Affine::step(&rot(90.0, [2.0, 0.0, 0.0])).point([0.0, 1.0, 0.0]), [0.0, 0.0, 1.0]));
    // The reverse order translates the rotated frame: (1,0,0) → (1,4,-2) → (-4,1,-2).
    let b = Affine::from_chain(&[rot(90.0, [0.0, 0.0, 1.0]), Transform::Translate([0.0, 4.0, -2.0])]);
    assert!(close(b.point([1.0, 0.0, 0.0]), [-4.0, 1.0, -2.0]), "{:?}", b.point([1.0, 0.0, 0.0]));
    // Seed 001's example: 20° about Y then the move.
    let c = Affine::from_chain(&[Transform::Translate([0.0, 4.0, -2.0]), rot(20.0, [0.0, 1.0, 0.0])]);
    let (s, co) = 20f32.to_radians().sin_cos();
    assert!(close(c.point([1.0, 0.0, 0.0]), [co, 4.0, -2.0 - s]), "{:?}", c.point([1.0, 0.0, 0.0]));
}

fn test_scene(camera: Value) -> Value {
    scene(
        24,
        16,
        4,
        3,
        camera,
        json!({"type": "gradient", "zenith": [0.3, 0.5, 1.0], "horizon": [1, 0.9, 0.8]}),
        json!({"g": {"type": "diffuse", "albedo": [0.5, 0.5, 0.5]}, "r": {"type": "diffuse", "albedo": [0.8, 0.2, 0.1]}}),
        json!([
            {"type": "quad", "center": [0, 0, 0], "half_size": [20, 20], "material": "g"},
            {"type": "sphere", "center": [0.5, 0.3, 0.7], "radius": 0.7, "material": "r"},
            {"type": "box", "min": [-2, 1, 0], "max": [-1, 2, 1.5], "material": "g"}
        ]),
    )
}

/// A camera moved by a chain renders the same image as a look-at camera placed where the
/// chain puts it: bit-identical for a pure translation (the sums round the same way), within
/// 1e-3 for a rotation (eye and target round differently through the matrix).
#[test]
fn transformed_camera_matches_equivalent_look_at() {
    let (eye, target, up) = ([0.0f32, -6.0, 2.0], [0.0f32, 0.0, 0.6], [0.0f32, 0.0, 1.0]);
    let t = [0.5f32, -1.0, 0.25];
    let moved =
        test_scene(json!({"type": "perspective", "eye": eye, "target": target, "up": up, "vfov_deg": 45,
        "transform": [{"translate": t}]}));
    let add = |a: [f32; 3]| [a[0] + t[0], a[1] + t[1], a[2] + t[2]];
    let direct = test_scene(
        json!({"type": "perspective", "eye": add(eye), "target": add(target), "up": up, "vfov_deg": 45}),
    );
    assert_eq!(render(&prepare(moved)), render(&prepare(direct)), "translated camera");

    let chain = vec![Transform::Translate([0.0, 0.5, 0.0]), rot(30.0, [0.0, 0.0, 1.0])];
    let a = Affine::from_chain(&chain);
    let rotated =
        test_scene(json!({"type": "perspective", "eye": eye, "target": target, "up": up, "vfov_deg": 45,
        "transform": serde_json::to_value(&chain).unwrap()}));
    let direct = test_scene(json!({"type": "perspective", "eye": a.point(eye), "target": a.point(target),
        "up": a.vector(up), "vfov_deg": 45}));
    let (x, y) = (render(&prepare(rotated)), render(&prepare(direct)));
    let worst = x.iter().zip(&y).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
    assert!(worst < 1e-3, "rotated camera differs by {worst}");
    // And the rotation really moved the view.
    let plain = render(&prepare(test_scene(
        json!({"type": "perspective", "eye": eye, "target": target, "up": up, "vfov_deg": 45}),
    )));
    assert!(plain.iter().zip(&x).any(|(p, q)| (p - q).abs() > 0.05));
}

/// The orthographic camera takes chains too: rotating a top-down view 90° about +Z turns an
/// emitter in the +X half of the image into one in the top half.
#[test]
fn orthographic_rotation_turns_the_image() {
    let cam = |transform: Value| {
        scene(
            16,
            16,
            2,
            1,
            json!({"type": "orthographic", "eye": [0, 0, 5], "target": [0, 0, 0], "up": [0, 1, 0], "height": 2,
                   "transform": transform}),
            constant([0.0, 0.0, 0.0]),
            json!({"lamp": {"type": "emitter", "radiance": [1, 1, 1]}}),
            json!([{"type": "quad", "center": [0.5, 0, 0], "half_size": [0.25, 0.25], "material": "lamp"}]),
        )
    };
    let plain = render(&prepare(cam(json!([]))));
    assert_eq!(px(&plain, 16, 12, 8), [1.0; 3], "lamp right of centre");
    // Rotating the camera by -90° about Z is the same as rotating the world by +90°: the lamp
    // at +X appears where +Y was, the top of the image.
    let turned = render(&prepare(cam(json!([{"rotate": {"angle_deg": -90, "axis": [0, 0, 1]}}]))));
    assert_eq!(px(&turned, 16, 8, 3), [1.0; 3], "lamp above centre");
    assert_eq!(px(&turned, 16, 12, 8), [0.0; 3]);
}
