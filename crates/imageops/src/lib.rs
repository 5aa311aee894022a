//! Turns linear f32 RGB buffers into image files (PNG, JPEG, BMP, PPM, EXR). Filters of the
//! image-job issue slot in beside [`encode`].

use std::io::Cursor;

/// Output formats of a render (DESIGN 2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// 8-bit sRGB PNG.
    Png,
    /// 8-bit sRGB JPEG, quality 92.
    Jpeg,
    /// 8-bit sRGB BMP.
    Bmp,
    /// 8-bit sRGB binary PPM (P6), as seed 000 wrote.
    Ppm,
    /// Linear f32 OpenEXR.
    Exr,
}

impl Format {
    /// Every format, in the order the UI offers them.
    pub const ALL: [Format; 5] = [Format::Png, Format::Jpeg, Format::Bmp, Format::Ppm, Format::Exr];

    /// Parses a format name (`png`, `jpeg`/`jpg`, `bmp`, `ppm`, `exr`), case-insensitively.
    pub fn parse(s: &str) -> Option<Format> {
        Some(match s.to_ascii_lowercase().as_str() {
            "png" => Format::Png,
            "jpeg" | "jpg" => Format::Jpeg,
            "bmp" => Format::Bmp,
            "ppm" => Format::Ppm,
            "exr" => Format::Exr,
            _ => return None,
        })
    }

    /// Picks the format from a file name's extension.
    pub fn from_path(path: &std::path::Path) -> Option<Format> {
        path.extension().and_then(|e| e.to_str()).and_then(Format::parse)
    }

    /// Canonical name, as written in job documents.
    pub fn name(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpeg",
            Format::Bmp => "bmp",
            Format::Ppm => "ppm",
            Format::Exr => "exr",
        }
    }

    /// File extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            other => other.name(),
        }
    }

    /// MIME type for downloads.
    pub fn mime(self) -> &'static str {
        match self {
            Format::Png => "image/png",
            Format::Jpeg => "image/jpeg",
            Format::Bmp => "image/bmp",
            Format::Ppm => "image/x-portable-pixmap",
            Format::Exr => "image/x-exr",
        }
    }
}

/// Why an image could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum ImageOpsError {
    /// The buffer does not hold `width * height * 3` values.
    #[error("buffer holds {got} values, expected {expected} for {width}x{height} RGB")]
    BadBuffer {
        /// Values found.
        got: usize,
        /// Values expected.
        expected: usize,
        /// Image width.
        width: u32,
        /// Image height.
        height: u32,
    },
    /// The encoder failed.
    #[error("encoding failed: {0}")]
    Encode(#[from] image::ImageError),
}

/// The sRGB transfer curve applied to one linear value, clamped and rounded to 8 bits.
pub fn linear_to_srgb8(v: f32) -> u8 {
    let v = if v.is_finite() { v.clamp(0.0, 1.0) } else { 0.0 };
    let s = if v <= 0.003_130_8 { 12.92 * v } else { 1.055 * v.powf(1.0 / 2.4) - 0.055 };
    (s * 255.0 + 0.5) as u8
}

/// Converts a linear RGB buffer to 8-bit sRGB, element by element.
pub fn to_srgb8(rgb: &[f32]) -> Vec<u8> {
    rgb.iter().map(|&v| linear_to_srgb8(v)).collect()
}

fn check(rgb: &[f32], width: u32, height: u32) -> Result<(), ImageOpsError> {
    let expected = width as usize * height as usize * 3;
    if rgb.len() != expected {
        return Err(ImageOpsError::BadBuffer { got: rgb.len(), expected, width, height });
    }
    Ok(())
}

/// Encodes a linear RGB buffer (row 0 at the top) as a file of `format`. 8-bit formats get
/// the sRGB curve and clamping; EXR keeps linear f32. The same input always gives the same
/// bytes.
pub fn encode(rgb: &[f32], width: u32, height: u32, format: Format) -> Result<Vec<u8>, ImageOpsError> {
    check(rgb, width, height)?;
    if format == Format::Exr {
        let img = image::Rgb32FImage::from_raw(width, height, rgb.to_vec()).expect("length checked above");
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::OpenExr)?;
        return Ok(out.into_inner());
    }
    encode_srgb8(&to_srgb8(rgb), width, height, format)
}

/// Encodes an 8-bit sRGB RGB buffer in an 8-bit format.
pub fn encode_srgb8(rgb8: &[u8], width: u32, height: u32, format: Format) -> Result<Vec<u8>, ImageOpsError> {
    let expected = width as usize * height as usize * 3;
    if rgb8.len() != expected {
        return Err(ImageOpsError::BadBuffer { got: rgb8.len(), expected, width, height });
    }
    if format == Format::Ppm {
        // Written by hand: the format is three lines of header and raw bytes, and seed 000's
        // tools expect exactly this layout.
        let mut out = format!("P6\n{width} {height}\n255\n").into_bytes();
        out.extend_from_slice(rgb8);
        return Ok(out);
    }
    let mut out = Cursor::new(Vec::new());
    match format {
        Format::Png => image::codecs::png::PngEncoder::new_with_quality(
            &mut out,
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::Adaptive,
        )
        .write_image(rgb8, width, height, image::ExtendedColorType::Rgb8)?,
        Format::Jpeg => image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 92).write_image(
            rgb8,
            width,
            height,
            image::ExtendedColorType::Rgb8,
        )?,
        Format::Bmp => image::codecs::bmp::BmpEncoder::new(&mut out).write_image(
            rgb8,
            width,
            height,
            image::ExtendedColorType::Rgb8,
        )?,
        Format::Ppm | Format::Exr => unreachable!("handled above"),
    }
    Ok(out.into_inner())
}

use image::ImageEncoder;

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(w: u32, h: u32) -> Vec<f32> {
        (0..w * h * 3).map(|i| (i % 97) as f32 / 96.0).collect()
    }

    #[test]
    fn srgb_curve_endpoints_and_midpoint() {
        assert_eq!(linear_to_srgb8(0.0), 0);
        assert_eq!(linear_to_srgb8(1.0), 255);
        assert_eq!(linear_to_srgb8(2.0), 255);
        assert_eq!(linear_to_srgb8(-1.0), 0);
        assert_eq!(linear_to_srgb8(f32::NAN), 0);
        // Linear 0.5 is sRGB 0.7354, i.e. 187.5 -> rounds to 188; 0.0031308 is the knee.
        assert_eq!(linear_to_srgb8(0.5), 188);
        assert_eq!(linear_to_srgb8(0.003_130_8), 10);
    }

    #[test]
    fn every_format_decodes_back_to_the_same_size() {
        let (w, h) = (13, 7);
        let buf = gradient(w, h);
        for f in Format::ALL {
            let bytes = encode(&buf, w, h, f).unwrap();
            let img = image::load_from_memory(&bytes).unwrap_or_else(|e| panic!("{f:?}: {e}"));
            assert_eq!((img.width(), img.height()), (w, h), "{f:?}");
        }
    }

    #[test]
    fn png_roundtrips_exact_srgb_bytes_and_exr_keeps_floats() {
        let (w, h) = (5, 4);
        let buf = gradient(w, h);
        let png = encode(&buf, w, h, Format::Png).unwrap();
        let back = image::load_from_memory(&png).unwrap().to_rgb8().into_raw();
        assert_eq!(back, to_srgb8(&buf));
        let exr = encode(&buf, w, h, Format::Exr).unwrap();
        let back = image::load_from_memory(&exr).unwrap().to_rgb32f().into_raw();
        assert_eq!(back, buf);
    }

    #[test]
    fn encoding_is_deterministic_and_checks_length() {
        let buf = gradient(8, 8);
        for f in Format::ALL {
            assert_eq!(encode(&buf, 8, 8, f).unwrap(), encode(&buf, 8, 8, f).unwrap());
        }
        assert!(matches!(encode(&buf, 9, 8, Format::Png), Err(ImageOpsError::BadBuffer { .. })));
    }

    #[test]
    fn format_names_parse_back() {
        for f in Format::ALL {
            assert_eq!(Format::parse(f.name()), Some(f));
            assert_eq!(Format::parse(f.extension()), Some(f));
        }
        assert_eq!(Format::parse("gif"), None);
    }
}
