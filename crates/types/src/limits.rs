//! Upper bounds on everything a user can send (DESIGN 6). The coordinator's config sets them.

use serde::{Deserialize, Serialize};

/// Limits enforced on jobs and requests.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Largest accepted request body, bytes.
    pub max_body_bytes: usize,
    /// Largest WebSocket frame, bytes.
    pub max_ws_frame_bytes: usize,
    /// Widest image, pixels.
    pub max_width: u32,
    /// Tallest image, pixels.
    pub max_height: u32,
    /// Most pixels in one image.
    pub max_pixels: u64,
    /// Most samples per pixel.
    pub max_spp: u32,
    /// Deepest path.
    pub max_depth: u32,
    /// Most shapes in a scene.
    pub max_shapes: usize,
    /// Most materials in a scene.
    pub max_materials: usize,
    /// Most triangles across inline meshes.
    pub max_triangles: usize,
    /// Most tasks one job may be split into.
    pub max_tasks: u32,
    /// Most jobs a zip job may bundle.
    pub max_zip_jobs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
            max_ws_frame_bytes: 16 * 1024 * 1024,
            max_width: 8192,
            max_height: 8192,
            max_pixels: 8192 * 8192,
            max_spp: 65_536,
            max_depth: 64,
            max_shapes: 100_000,
            max_materials: 10_000,
            max_triangles: 2_000_000,
            max_tasks: 16_384,
            max_zip_jobs: 1_000,
        }
    }
}
