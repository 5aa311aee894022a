//! Reading and writing linear float RGB images (EXR) for references, benchmarks and tools.

use crate::RenderError;
use std::path::Path;

/// A linear RGB image, row-major, row 0 at the top, 3 f32 per pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct Image {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// `width * height * 3` floats.
    pub data: Vec<f32>,
}

/// Reads the first RGB(A) layer of an EXR file as linear RGB.
pub fn read_exr_rgb(path: &Path) -> Result<Image, RenderError> {
    use exr::prelude::{read_first_rgba_layer_from_file, Vec2};
    let err =
        |e: exr::error::Error| RenderError::Exr { path: path.display().to_string(), message: e.to_string() };
    let img = read_first_rgba_layer_from_file(
        path,
        |res: Vec2<usize>, _| Image {
            width: res.0 as u32,
            height: res.1 as u32,
            data: vec![0.0; res.0 * res.1 * 3],
        },
        |img: &mut Image, pos: Vec2<usize>, (r, g, b, _a): (f32, f32, f32, f32)| {
            let i = (pos.1 * img.width as usize + pos.0) * 3;
            img.data[i] = r;
            img.data[i + 1] = g;
            img.data[i + 2] = b;
        },
    )
    .map_err(err)?;
    Ok(img.layer_data.channel_data.pixels)
}

/// Writes linear RGB as a float EXR.
pub fn write_exr_rgb(path: &Path, img: &Image) -> Result<(), RenderError> {
    let w = img.width as usize;
    exr::prelude::write_rgb_file(path, w, img.height as usize, |x, y| {
        let i = (y * w + x) * 3;
        (img.data[i], img.data[i + 1], img.data[i + 2])
    })
    .map_err(|e| RenderError::Exr { path: path.display().to_string(), message: e.to_string() })
}

/// Mean over all channels of all pixels, in f64.
pub fn mean(data: &[f32]) -> f64 {
    data.iter().map(|&v| f64::from(v)).sum::<f64>() / data.len().max(1) as f64
}

/// Root mean square difference over all channels.
pub fn rmse(a: &[f32], b: &[f32]) -> f64 {
    assert_eq!(a.len(), b.len(), "images differ in size");
    let s: f64 = a.iter().zip(b).map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2)).sum();
    (s / a.len().max(1) as f64).sqrt()
}

/// Averages `block` x `block` pixel blocks (dropping partial blocks at the right and bottom),
/// which suppresses per-pixel noise so that RMSE measures bias and low-frequency error.
pub fn block_average(data: &[f32], width: u32, height: u32, block: u32) -> Vec<f32> {
    let (bw, bh) = ((width / block) as usize, (height / block) as usize);
    let (w, b) = (width as usize, block as usize);
    let mut out = vec![0.0f32; bw * bh * 3];
    for by in 0..bh {
        for bx in 0..bw {
            let mut acc = [0.0f64; 3];
            for y in by * b..(by + 1) * b {
                for x in bx * b..(bx + 1) * b {
                    for c in 0..3 {
                        acc[c] += f64::from(data[(y * w + x) * 3 + c]);
                    }
                }
            }
            for c in 0..3 {
                out[(by * bw + bx) * 3 + c] = (acc[c] / (b * b) as f64) as f32;
            }
        }
    }
    out
}
