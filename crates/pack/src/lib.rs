//! ZIP archives of files held in memory, with fixed timestamps so the same files always give
//! the same archive bytes.

use std::io::{Cursor, Write};
use zip::write::SimpleFileOptions;

/// Why an archive could not be built.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// Two entries share a name.
    #[error("duplicate entry name: {0}")]
    Duplicate(String),
    /// An entry name is empty, absolute or climbs out of the archive.
    #[error("unsafe entry name: {0:?}")]
    BadName(String),
    /// The ZIP writer failed.
    #[error("zip error: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// Writing to the in-memory buffer failed.
    #[error("io error: {0}")]
    Io(#[from] std::io::Error),
}

/// Whether an entry is worth deflating: already-compressed formats are stored as they are.
fn compresses(name: &str) -> bool {
    let ext = name.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    !matches!(ext.as_str(), "png" | "jpg" | "jpeg" | "zip" | "exr" | "gz")
}

fn safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && name.split('/').all(|part| !part.is_empty() && part != ".." && part != ".")
}

/// Builds a ZIP of `(name, bytes)` entries in the given order.
pub fn zip_files(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>, PackError> {
    let mut seen = std::collections::HashSet::new();
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in files {
        if !safe_name(name) {
            return Err(PackError::BadName(name.clone()));
        }
        if !seen.insert(name.as_str()) {
            return Err(PackError::Duplicate(name.clone()));
        }
        let method =
            if compresses(name) { zip::CompressionMethod::Deflated } else { zip::CompressionMethod::Stored };
        let opts = SimpleFileOptions::default()
            .compression_method(method)
            .last_modified_time(zip::DateTime::default())
            .large_file(data.len() as u64 >= u32::MAX as u64);
        zip.start_file(name.as_str(), opts)?;
        zip.write_all(data)?;
    }
    Ok(zip.finish()?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn roundtrip_preserves_names_order_and_bytes() {
        let files = vec![
            ("a.png".to_string(), vec![1, 2, 3]),
            ("dir/b.ppm".to_string(), b"P6\n1 1\n255\nabc".to_vec()),
            ("empty.txt".to_string(), vec![]),
        ];
        let bytes = zip_files(&files).unwrap();
        let mut ar = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        assert_eq!(ar.len(), 3);
        for (i, (name, data)) in files.iter().enumerate() {
            let mut f = ar.by_index(i).unwrap();
            assert_eq!(f.name(), name);
            let mut got = Vec::new();
            f.read_to_end(&mut got).unwrap();
            assert_eq!(&got, data);
        }
    }

    #[test]
    fn same_files_same_bytes() {
        let files = vec![("x.ppm".to_string(), vec![7u8; 1000])];
        assert_eq!(zip_files(&files).unwrap(), zip_files(&files).unwrap());
    }

    #[test]
    fn refuses_duplicates_and_unsafe_names() {
        let dup = vec![("a".to_string(), vec![]), ("a".to_string(), vec![])];
        assert!(matches!(zip_files(&dup), Err(PackError::Duplicate(_))));
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a\\b", "a//b"] {
            let r = zip_files(&[(bad.to_string(), vec![])]);
            assert!(matches!(r, Err(PackError::BadName(_))), "{bad:?}");
        }
    }
}
