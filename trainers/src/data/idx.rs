//! MNIST and Fashion-MNIST in their IDX files, plain or gzipped.

use std::io::Read;
use std::path::Path;

use super::Dataset;
use crate::DataError;

/// Reads an IDX file of unsigned bytes: its dimensions and its data.
fn read_file(path: &Path) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let fail = |why: String| DataError::Idx {
        path: path.to_owned(),
        why,
    };
    let raw = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
    let bytes = if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| fail(format!("bad gzip data: {e}")))?;
        out
    } else {
        raw
    };
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(fail("no IDX magic number".into()));
    }
    if bytes[2] != 0x08 {
        return Err(fail(format!(
            "element type 0x{:02x} is not unsigned bytes (0x08)",
            bytes[2]
        )));
    }
    let ndims = bytes[3] as usize;
    let header = 4 + 4 * ndims;
    if bytes.len() < header {
        return Err(fail("truncated header".into()));
    }
    let dims: Vec<usize> = (0..ndims)
        .map(|i| {
            u32::from_be_bytes(bytes[4 + 4 * i..8 + 4 * i].try_into().expect("4 bytes")) as usize
        })
        .collect();
    let expected: usize = dims.iter().product();
    if bytes.len() - header != expected {
        return Err(fail(format!(
            "dimensions {dims:?} need {expected} bytes of data, found {}",
            bytes.len() - header
        )));
    }
    Ok((dims, bytes[header..].to_vec()))
}

/// A dataset from an IDX image file (`n x rows x cols`) and an IDX label file (`n`),
/// such as MNIST's `train-images-idx3-ubyte(.gz)` and `train-labels-idx1-ubyte(.gz)`.
/// Pixels are scaled to [0, 1]; errors name the file at fault.
pub fn read_idx(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<Dataset, DataError> {
    let (images, labels) = (images.as_ref(), labels.as_ref());
    let (idims, pixels) = read_file(images)?;
    let (ldims, classes) = read_file(labels)?;
    if idims.len() != 3 {
        return Err(DataError::Idx {
            path: images.to_owned(),
            why: format!("images need 3 dimensions, found {idims:?}"),
        });
    }
    if ldims.len() != 1 || ldims[0] != idims[0] {
        return Err(DataError::Idx {
            path: labels.to_owned(),
            why: format!("{ldims:?} labels for {} images", idims[0]),
        });
    }
    let labels: Vec<usize> = classes.iter().map(|&c| c as usize).collect();
    let n_classes = labels.iter().max().map_or(1, |m| m + 1).max(10);
    let mut data = Dataset::new(
        pixels.iter().map(|&p| p as f32 / 255.0).collect(),
        labels,
        idims[1] * idims[2],
        n_classes,
    )?;
    data.image = Some((idims[1], idims[2]));
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut out = vec![0, 0, 0x08, dims.len() as u8];
        for d in dims {
            out.extend_from_slice(&d.to_be_bytes());
        }
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn reads_plain_and_gzipped_files() {
        let dir = tempfile::tempdir().unwrap();
        let pixels: Vec<u8> = (0..3 * 2 * 2).map(|i| (i * 20) as u8).collect();
        let images = dir.path().join("images.idx");
        std::fs::write(&images, idx(&[3, 2, 2], &pixels)).unwrap();
        let labels = dir.path().join("labels.idx.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&idx(&[3], &[7, 0, 9])).unwrap();
        std::fs::write(&labels, gz.finish().unwrap()).unwrap();

        let data = read_idx(&images, &labels).unwrap();
        assert_eq!((data.len(), data.dim, data.image), (3, 4, Some((2, 2))));
        assert_eq!(data.labels, [7, 0, 9]);
        assert_eq!(data.row(1)[0], 80.0 / 255.0);
    }

    #[test]
    fn errors_name_the_file_and_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let images = dir.path().join("images.idx");
        std::fs::write(&images, idx(&[2, 2, 2], &[0; 7])).unwrap();
        let labels = dir.path().join("labels.idx");
        std::fs::write(&labels, idx(&[2], &[1, 2])).unwrap();
        let e = read_idx(&images, &labels).unwrap_err();
        assert!(matches!(&e, DataError::Idx { path, .. } if *path == images));
        let e = e.to_string();
        assert!(
            e.contains("images.idx") && e.contains("need 8 bytes"),
            "{e}"
        );
        std::fs::write(&images, idx(&[3, 2, 2], &[0; 12])).unwrap();
        let e = read_idx(&images, &labels).unwrap_err().to_string();
        assert!(
            e.contains("labels.idx") && e.contains("for 3 images"),
            "{e}"
        );
        let e = read_idx(dir.path().join("missing"), &labels)
            .unwrap_err()
            .to_string();
        assert!(e.contains("missing"), "{e}");
    }
}
