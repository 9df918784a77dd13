//! The IDX format of the MNIST files (`train-images-idx3-ubyte` and
//! friends, plain or gzipped) and an MNIST loader.
//!
//! An IDX file is a big-endian header — two zero bytes, a type code
//! (`0x08` = unsigned byte, the only one MNIST uses and the only one read
//! here), the number of dimensions — then one `u32` size per dimension and
//! the data in row-major order.

use std::path::{Path, PathBuf};

use crate::ExampleError;
use crate::data::{Dataset, read_maybe_gz};

/// Where Debian's `dataset-fashion-mnist` package installs Fashion-MNIST.
pub const FASHION_MNIST_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// The stems of the four MNIST-format files: train images and labels, test
/// images and labels.
pub const MNIST_STEMS: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// The paths of the four MNIST-format files ([`MNIST_STEMS`], each plain or
/// with `.gz`) in `dir`, or in [`FASHION_MNIST_DIR`] when `dir` is `None`.
///
/// # Errors
/// [`ExampleError::MissingDataset`], naming the install command, when the
/// folder or any file is missing.
pub fn locate_mnist(dir: Option<&Path>) -> Result<[PathBuf; 4], ExampleError> {
    let dir = dir.map_or_else(|| PathBuf::from(FASHION_MNIST_DIR), Path::to_path_buf);
    let missing = |reason: String| ExampleError::MissingDataset {
        reason,
        default: PathBuf::from(FASHION_MNIST_DIR),
    };
    if !dir.is_dir() {
        return Err(missing(format!("no folder {}", dir.display())));
    }
    let found = MNIST_STEMS.map(|stem| {
        [stem.to_string(), format!("{stem}.gz")]
            .into_iter()
            .map(|name| dir.join(name))
            .find(|p| p.is_file())
    });
    let absent: Vec<&str> = MNIST_STEMS
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(s, _)| *s)
        .collect();
    if !absent.is_empty() {
        return Err(missing(format!(
            "{} lacks {} (plain or .gz)",
            dir.display(),
            absent.join(", ")
        )));
    }
    Ok(found.map(|f| f.unwrap_or_default()))
}

/// An IDX array of unsigned bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The sizes of the dimensions.
    pub dims: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<u8>,
}

/// Parses IDX bytes; `origin` names the source in error messages.
///
/// # Errors
/// [`ExampleError::Idx`] for a short header, non-zero magic bytes, a type
/// other than unsigned byte, zero dimensions, or a data length that
/// differs from the product of the sizes.
pub fn parse_idx(bytes: &[u8], origin: &str) -> Result<IdxArray, ExampleError> {
    let err = |reason: String| ExampleError::Idx {
        path: origin.to_string(),
        reason,
    };
    if bytes.len() < 4 {
        return Err(err(format!(
            "{} bytes is too short for the 4-byte magic number",
            bytes.len()
        )));
    }
    if bytes[0] != 0 || bytes[1] != 0 {
        return Err(err(format!(
            "the magic number must start with two zero bytes, got {:#04x} {:#04x}",
            bytes[0], bytes[1]
        )));
    }
    if bytes[2] != 0x08 {
        return Err(err(format!(
            "element type {:#04x} is not supported; only unsigned bytes (0x08) are",
            bytes[2]
        )));
    }
    let nd = bytes[3] as usize;
    if nd == 0 {
        return Err(err("the file declares 0 dimensions".into()));
    }
    let header = 4 + 4 * nd;
    if bytes.len() < header {
        return Err(err(format!(
            "the header of {nd} dimensions needs {header} bytes, the file has {}",
            bytes.len()
        )));
    }
    let dims: Vec<usize> = (0..nd)
        .map(|i| {
            let b = &bytes[4 + 4 * i..8 + 4 * i];
            u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize
        })
        .collect();
    let count = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| err(format!("the sizes {dims:?} overflow")))?;
    let data = &bytes[header..];
    if data.len() != count {
        return Err(err(format!(
            "sizes {dims:?} need {count} data bytes, the file has {}",
            data.len()
        )));
    }
    Ok(IdxArray {
        dims,
        data: data.to_vec(),
    })
}

/// Reads and parses an IDX file (gzipped or not).
///
/// # Errors
/// [`ExampleError::Io`] for an unreadable file, otherwise as [`parse_idx`].
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray, ExampleError> {
    let path = path.as_ref();
    parse_idx(&read_maybe_gz(path)?, &path.display().to_string())
}

/// Encodes unsigned bytes as IDX (the inverse of [`parse_idx`]).
///
/// # Errors
/// [`ExampleError::Idx`] when a size exceeds `u32`, there are more than 255
/// dimensions, or `data` does not hold the product of `dims` values.
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Result<Vec<u8>, ExampleError> {
    let err = |reason: String| ExampleError::Idx {
        path: "<encode>".into(),
        reason,
    };
    let nd = u8::try_from(dims.len())
        .map_err(|_| err(format!("{} dimensions, at most 255", dims.len())))?;
    if dims.iter().product::<usize>() != data.len() {
        return Err(err(format!(
            "sizes {dims:?} do not match {} values",
            data.len()
        )));
    }
    let mut out = vec![0, 0, 0x08, nd];
    for &d in dims {
        let d = u32::try_from(d).map_err(|_| err(format!("size {d} exceeds u32")))?;
        out.extend_from_slice(&d.to_be_bytes());
    }
    out.extend_from_slice(data);
    Ok(out)
}

/// Loads an MNIST-format pair: images `(n, rows, cols)` and labels `(n)`,
/// pixels scaled from `0..=255` to `[0, 1]`, 10 classes.
///
/// # Errors
/// As [`read_idx`], plus [`ExampleError::Idx`] for arrays of the wrong rank
/// and [`ExampleError::Data`] when the counts differ or a label is above 9.
pub fn load_mnist(
    images: impl AsRef<Path>,
    labels: impl AsRef<Path>,
) -> Result<Dataset, ExampleError> {
    let (ip, lp) = (images.as_ref(), labels.as_ref());
    let im = read_idx(ip)?;
    let lb = read_idx(lp)?;
    if im.dims.len() != 3 {
        return Err(ExampleError::Idx {
            path: ip.display().to_string(),
            reason: format!(
                "images must have 3 dimensions (n, rows, cols), got {:?}",
                im.dims
            ),
        });
    }
    if lb.dims.len() != 1 {
        return Err(ExampleError::Idx {
            path: lp.display().to_string(),
            reason: format!("labels must have 1 dimension, got {:?}", lb.dims),
        });
    }
    if im.dims[0] != lb.dims[0] {
        return Err(ExampleError::Data(format!(
            "{} images but {} labels",
            im.dims[0], lb.dims[0]
        )));
    }
    let pixels = im.data.iter().map(|&p| p as f32 / 255.0).collect();
    let labels = lb.data.iter().map(|&l| l as usize).collect();
    Dataset::new(pixels, labels, im.dims[1], im.dims[2], 10)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_missing_folder_or_file_names_the_package() {
        let nowhere = std::env::temp_dir().join("handgrad-no-such-mnist-folder");
        let e = locate_mnist(Some(&nowhere)).unwrap_err();
        assert!(matches!(e, ExampleError::MissingDataset { .. }));
        let msg = e.to_string();
        assert!(
            msg.contains("apt-get install dataset-fashion-mnist"),
            "{msg}"
        );
        assert!(msg.contains("no folder"), "{msg}");

        let dir = std::env::temp_dir().join(format!("handgrad-mnist-part-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("train-images-idx3-ubyte.gz"), b"x").unwrap();
        std::fs::write(dir.join("train-labels-idx1-ubyte"), b"x").unwrap();
        let msg = locate_mnist(Some(&dir)).unwrap_err().to_string();
        assert!(
            msg.contains("lacks t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"),
            "{msg}"
        );
        std::fs::write(dir.join("t10k-images-idx3-ubyte"), b"x").unwrap();
        std::fs::write(dir.join("t10k-labels-idx1-ubyte.gz"), b"x").unwrap();
        let found = locate_mnist(Some(&dir)).unwrap();
        assert_eq!(found[0], dir.join("train-images-idx3-ubyte.gz"));
        assert_eq!(found[3], dir.join("t10k-labels-idx1-ubyte.gz"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tmp(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("examples-idx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn mnist_pair_round_trips_plain_and_gzipped() {
        let images: Vec<u8> = (0..3 * 4 * 5).map(|v| (v * 4) as u8).collect();
        let labels = [7u8, 0, 9];
        let ip = tmp("imgs-idx3-ubyte");
        std::fs::write(&ip, encode_idx(&[3, 4, 5], &images).unwrap()).unwrap();
        let lp = tmp("labels-idx1-ubyte.gz");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&encode_idx(&[3], &labels).unwrap()).unwrap();
        std::fs::write(&lp, gz.finish().unwrap()).unwrap();
        let d = load_mnist(&ip, &lp).unwrap();
        assert_eq!((d.len(), d.height, d.width), (3, 4, 5));
        assert_eq!(d.labels, vec![7, 0, 9]);
        assert_eq!(d.pixel(1, 0), 80.0 / 255.0);
        // Mismatched counts.
        std::fs::write(&lp, encode_idx(&[2], &labels[..2]).unwrap()).unwrap();
        let e = load_mnist(&ip, &lp).unwrap_err();
        assert!(e.to_string().contains("3 images but 2 labels"), "{e}");
        // Labels passed as images.
        let e = load_mnist(&lp, &lp).unwrap_err();
        assert!(
            e.to_string().contains("images must have 3 dimensions"),
            "{e}"
        );
    }

    #[test]
    fn malformed_idx_is_rejected_with_reasons() {
        let cases: [(&[u8], &str); 5] = [
            (&[0, 0], "too short"),
            (&[1, 0, 8, 1, 0, 0, 0, 1, 5], "two zero bytes"),
            (&[0, 0, 0x0d, 1, 0, 0, 0, 1, 5], "element type 0x0d"),
            (&[0, 0, 8, 2, 0, 0, 0, 1], "needs 12 bytes"),
            (
                &[0, 0, 8, 1, 0, 0, 0, 3, 5],
                "need 3 data bytes, the file has 1",
            ),
        ];
        for (bytes, want) in cases {
            let e = parse_idx(bytes, "f").unwrap_err();
            assert!(e.to_string().contains(want), "{e} should mention {want}");
        }
        assert!(matches!(
            read_idx("/nonexistent/x-idx3-ubyte").unwrap_err(),
            ExampleError::Io { .. }
        ));
    }
}
