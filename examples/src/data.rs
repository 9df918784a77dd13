//! In-memory image classification data: the UCI digits loader, a seeded
//! split and batching.

use std::io::Read;
use std::path::Path;

use core_tensor::{Float, Rng, Tensor};

use crate::ExampleError;

/// Single-channel images with class labels, pixels scaled to `[0, 1]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// `len · height · width` pixels, image after image, row-major.
    pub images: Vec<f32>,
    /// One class index per image.
    pub labels: Vec<usize>,
    /// Image height.
    pub height: usize,
    /// Image width.
    pub width: usize,
    /// Number of classes (labels are `0..classes`).
    pub classes: usize,
}

impl Dataset {
    /// Checks the sizes and builds a data set.
    ///
    /// # Errors
    /// [`ExampleError::Data`] when the pixel count is not `labels.len() ·
    /// height · width` or a label is not below `classes`.
    pub fn new(
        images: Vec<f32>,
        labels: Vec<usize>,
        height: usize,
        width: usize,
        classes: usize,
    ) -> Result<Self, ExampleError> {
        let expect = labels
            .len()
            .checked_mul(height)
            .and_then(|v| v.checked_mul(width))
            .ok_or_else(|| ExampleError::Data("image size overflows".into()))?;
        if images.len() != expect {
            return Err(ExampleError::Data(format!(
                "{} labels of {height}x{width} images need {expect} pixels, got {}",
                labels.len(),
                images.len()
            )));
        }
        if let Some(&l) = labels.iter().find(|&&l| l >= classes) {
            return Err(ExampleError::Data(format!(
                "label {l} is not below the {classes} classes"
            )));
        }
        Ok(Self {
            images,
            labels,
            height,
            width,
            classes,
        })
    }

    /// The number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no images.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixel `p` (row-major) of image `i`.
    pub fn pixel(&self, i: usize, p: usize) -> f32 {
        self.images[i * self.height * self.width + p]
    }

    /// The images at `indices` in a new data set.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let px = self.height * self.width;
        let mut images = Vec::with_capacity(indices.len() * px);
        for &i in indices {
            images.extend_from_slice(&self.images[i * px..(i + 1) * px]);
        }
        Dataset {
            images,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            height: self.height,
            width: self.width,
            classes: self.classes,
        }
    }

    /// A seeded random split: `(train, test)` with `round(len · test_fraction)`
    /// test images.
    pub fn split(&self, seed: u64, test_fraction: f64) -> (Dataset, Dataset) {
        let mut order: Vec<usize> = (0..self.len()).collect();
        Rng::new(seed).shuffle(&mut order);
        let n_test = ((self.len() as f64) * test_fraction.clamp(0.0, 1.0)).round() as usize;
        let (test, train) = order.split_at(n_test);
        (self.subset(train), self.subset(test))
    }

    /// The images at `indices` as an `(B, 1, height, width)` tensor and
    /// their labels.
    pub fn batch<F: Float>(
        &self,
        indices: &[usize],
    ) -> Result<(Tensor<F>, Vec<usize>), ExampleError> {
        let px = self.height * self.width;
        let mut v = Vec::with_capacity(indices.len() * px);
        for &i in indices {
            v.extend(
                self.images[i * px..(i + 1) * px]
                    .iter()
                    .map(|&p| F::cast(p as f64)),
            );
        }
        let t = Tensor::from_vec(&[indices.len(), 1, self.height, self.width], v)?;
        Ok((t, indices.iter().map(|&i| self.labels[i]).collect()))
    }
}

/// Reads a file, un-gzipping it when it starts with the gzip magic bytes.
///
/// # Errors
/// [`ExampleError::Io`] when the file cannot be read or decompressed.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, ExampleError> {
    let io = |source| ExampleError::Io {
        path: path.to_path_buf(),
        source,
    };
    let raw = std::fs::read(path).map_err(io)?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(io)?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Loads the UCI optical digits CSV (`digits.csv.gz`, gzip or plain): one
/// image per line, 64 pixel values `0..=16` of an 8x8 image then the label
/// `0..=9`; pixels are scaled to `[0, 1]`.
///
/// # Errors
/// [`ExampleError::Io`] for an unreadable file, [`ExampleError::Csv`] for a
/// malformed line, [`ExampleError::Data`] for an empty file.
pub fn load_digits(path: impl AsRef<Path>) -> Result<Dataset, ExampleError> {
    let path = path.as_ref();
    let bytes = read_maybe_gz(path)?;
    let text = String::from_utf8(bytes).map_err(|e| ExampleError::Csv {
        path: path.display().to_string(),
        line: 0,
        reason: format!("not UTF-8 text: {e}"),
    })?;
    parse_digits_csv(&text, &path.display().to_string())
}

/// Parses the digits CSV text (see [`load_digits`]); `origin` names the
/// source in error messages.
///
/// # Errors
/// As [`load_digits`].
pub fn parse_digits_csv(text: &str, origin: &str) -> Result<Dataset, ExampleError> {
    const PIXELS: usize = 64;
    let mut images = Vec::new();
    let mut labels = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let err = |reason: String| ExampleError::Csv {
            path: origin.to_string(),
            line: n + 1,
            reason,
        };
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() != PIXELS + 1 {
            return Err(err(format!(
                "expected {} comma-separated values (64 pixels and a label), got {}",
                PIXELS + 1,
                fields.len()
            )));
        }
        for (j, f) in fields.iter().enumerate() {
            let v: u32 = f.trim().parse().map_err(|_| {
                err(format!(
                    "value {} ({f:?}) is not a non-negative integer",
                    j + 1
                ))
            })?;
            if j < PIXELS {
                if v > 16 {
                    return Err(err(format!("pixel {} is {v}, allowed 0..=16", j + 1)));
                }
                images.push(v as f32 / 16.0);
            } else {
                if v > 9 {
                    return Err(err(format!("label {v} is not a digit 0..=9")));
                }
                labels.push(v as usize);
            }
        }
    }
    if labels.is_empty() {
        return Err(ExampleError::Data(format!("{origin} holds no images")));
    }
    Dataset::new(images, labels, 8, 8, 10)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_digits_load_and_split() {
        let d = load_digits(concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz")).unwrap();
        assert_eq!(d.len(), 1797);
        assert_eq!((d.height, d.width, d.classes), (8, 8, 10));
        assert!(d.images.iter().all(|&p| (0.0..=1.0).contains(&p)));
        for c in 0..10 {
            let n = d.labels.iter().filter(|&&l| l == c).count();
            assert!((170..=190).contains(&n), "class {c}: {n}");
        }
        let (tr, te) = d.split(1, 0.2);
        assert_eq!((tr.len(), te.len()), (1438, 359));
        let (tr2, _) = d.split(1, 0.2);
        assert_eq!(tr, tr2);
        let (x, y) = tr.batch::<f32>(&[0, 1, 2]).unwrap();
        assert_eq!(x.shape(), &[3, 1, 8, 8]);
        assert_eq!(y, tr.labels[..3]);
    }

    #[test]
    fn unreadable_and_malformed_files_are_typed_errors() {
        let err = load_digits("/nonexistent/digits.csv.gz").unwrap_err();
        assert!(matches!(err, ExampleError::Io { .. }));
        assert!(
            err.to_string()
                .contains("cannot read /nonexistent/digits.csv.gz"),
            "{err}"
        );
        let err = parse_digits_csv("1,2,3\n", "t.csv").unwrap_err();
        assert!(
            err.to_string().contains("t.csv, line 1: expected 65"),
            "{err}"
        );
        let mut row: Vec<String> = (0..64).map(|_| "17".to_string()).collect();
        row.push("1".into());
        let err = parse_digits_csv(&row.join(","), "t.csv").unwrap_err();
        assert!(err.to_string().contains("pixel 1 is 17"), "{err}");
        assert!(matches!(
            parse_digits_csv("\n\n", "e").unwrap_err(),
            ExampleError::Data(_)
        ));
    }
}
