// The example scene of DESIGN 2.4, used only when the server's default scene cannot be loaded.
export const FALLBACK_SCENE = Object.freeze({
  render: { width: 640, height: 360, spp: 64, max_depth: 8, seed: 0 },
  camera: { type: 'perspective', eye: [0, -9, 2.2], target: [0, 0, 0.7], up: [0, 0, 1], vfov_deg: 40 },
  environment: { type: 'constant', radiance: [1, 1, 1] },
  materials: { grey: { type: 'diffuse', albedo: [0.5, 0.5, 0.5] } },
  shapes: [
    { type: 'quad', center: [0, 0, 0], half_size: [100, 100], material: 'grey' },
    { type: 'sphere', center: [0, 0, 1], radius: 1, material: 'grey' },
  ],
});
