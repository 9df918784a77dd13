//! Elementwise comparison of computed tensors with expected ones, with the
//! rules of `conformance/FORMAT.md`: `|got - want| <= atol + rtol * |want|`,
//! NaN only where NaN is expected, infinities equal with the same sign,
//! indices exact, shapes equal.
//!
//! The float helper [`compare_floats`] is reusable outside the runner: it
//! reports how many elements are outside the tolerance and the worst one
//! (its multi-dimensional index, the computed and the expected value).

use std::fmt;

use super::case::CaseTensor;

/// An elementwise tolerance: an element passes when
/// `|got - want| <= atol + rtol * |want|` (`numpy.isclose` with the expected
/// value as reference).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Relative tolerance, scaled by `|want|`.
    pub rtol: f64,
    /// Absolute tolerance.
    pub atol: f64,
}

impl Tolerance {
    /// Exact equality (`rtol = atol = 0`).
    pub const EXACT: Tolerance = Tolerance {
        rtol: 0.0,
        atol: 0.0,
    };

    /// A tolerance from its two parts.
    pub fn new(rtol: f64, atol: f64) -> Self {
        Self { rtol, atol }
    }

    /// The largest allowed `|got - want|` for an expected value `want`.
    pub fn bound(&self, want: f64) -> f64 {
        self.atol + self.rtol * want.abs()
    }

    /// How far `got` is outside the tolerance around `want`: negative or zero
    /// when it passes, positive when it fails, `+inf` for a NaN or infinity
    /// that does not match.
    pub fn excess(&self, got: f64, want: f64) -> f64 {
        if want.is_nan() || got.is_nan() {
            return if want.is_nan() && got.is_nan() {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            };
        }
        if want.is_infinite() || got.is_infinite() {
            return if got == want {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            };
        }
        (got - want).abs() - self.bound(want)
    }
}

impl fmt::Display for Tolerance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "rtol {:e}, atol {:e}", self.rtol, self.atol)
    }
}

/// One element of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct Element {
    /// Row-major multi-dimensional index.
    pub index: Vec<usize>,
    /// Row-major flat index.
    pub flat: usize,
    /// The computed value.
    pub got: f64,
    /// The expected value.
    pub want: f64,
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "at {:?}: got {}, want {}",
            self.index, self.got, self.want
        )
    }
}

/// The result of comparing two tensors of equal shape element by element.
#[derive(Clone, Debug, PartialEq)]
pub struct Comparison {
    /// Number of elements compared.
    pub compared: usize,
    /// Number of elements outside the tolerance.
    pub mismatches: usize,
    /// Largest finite `|got - want|` over the elements where both are finite.
    pub max_abs_diff: f64,
    /// The element furthest outside the tolerance (the first one on ties);
    /// when everything passes, the one closest to its bound. `None` only for
    /// empty tensors.
    pub worst: Option<Element>,
}

impl Comparison {
    /// Whether every element is within tolerance.
    pub fn passed(&self) -> bool {
        self.mismatches == 0
    }
}

/// Why two tensors could not be compared element by element.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum CompareError {
    /// The shapes differ.
    #[error("shape mismatch: got {got:?}, want {want:?}")]
    Shape {
        /// Shape of the computed tensor.
        got: Vec<usize>,
        /// Shape of the expected tensor.
        want: Vec<usize>,
    },
    /// The dtypes differ (a case in `F32` must be computed in `f32`).
    #[error("dtype mismatch: got {got}, want {want}")]
    Dtype {
        /// Dtype of the computed tensor.
        got: &'static str,
        /// Dtype of the expected tensor.
        want: &'static str,
    },
    /// A data length does not match the product of its shape.
    #[error("{which} holds {len} elements but its shape {shape:?} needs {needed}")]
    Length {
        /// `"got"` or `"want"`.
        which: &'static str,
        /// Number of elements held.
        len: usize,
        /// The shape given.
        shape: Vec<usize>,
        /// The product of the shape.
        needed: usize,
    },
}

/// The row-major multi-dimensional index of flat position `flat` in `shape`.
pub fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (slot, &dim) in index.iter_mut().zip(shape).rev() {
        if dim > 0 {
            *slot = flat % dim;
            flat /= dim;
        }
    }
    index
}

fn check_len(which: &'static str, len: usize, shape: &[usize]) -> Result<(), CompareError> {
    let needed: usize = shape.iter().product();
    if len == needed {
        Ok(())
    } else {
        Err(CompareError::Length {
            which,
            len,
            shape: shape.to_vec(),
            needed,
        })
    }
}

/// Compares `got` with `want` (both row-major with the given shapes) under
/// `tol`, with FORMAT.md's rules: an expected NaN needs a NaN, an unexpected
/// NaN fails, infinities must be equal (same sign), everything else passes
/// when `|got - want| <= atol + rtol * |want|`.
///
/// ```
/// use xtask::conformance::compare::{compare_floats, Tolerance};
/// let cmp = compare_floats(&[1.0, 2.5, f64::NAN], &[3], &[1.0, 2.0, f64::NAN], &[3], Tolerance::new(0.0, 0.1))?;
/// assert_eq!(cmp.mismatches, 1);
/// let worst = cmp.worst.unwrap();
/// assert_eq!((worst.index, worst.got, worst.want), (vec![1], 2.5, 2.0));
/// # Ok::<(), xtask::conformance::compare::CompareError>(())
/// ```
///
/// # Errors
/// [`CompareError::Shape`] when the shapes differ, [`CompareError::Length`]
/// when a slice does not hold its shape's number of elements.
pub fn compare_floats(
    got: &[f64],
    got_shape: &[usize],
    want: &[f64],
    want_shape: &[usize],
    tol: Tolerance,
) -> Result<Comparison, CompareError> {
    compare_by(got, got_shape, want, want_shape, |g, w| {
        (tol.excess(g, w), g, w)
    })
}

/// Compares index tensors exactly.
///
/// # Errors
/// As [`compare_floats`].
pub fn compare_indices(
    got: &[i64],
    got_shape: &[usize],
    want: &[i64],
    want_shape: &[usize],
) -> Result<Comparison, CompareError> {
    // Excess 1 for a mismatch; values are reported as f64, exact up to 2^53.
    compare_by(got, got_shape, want, want_shape, |g, w| {
        (if g == w { 0.0 } else { 1.0 }, g as f64, w as f64)
    })
}

fn compare_by<T: Copy>(
    got: &[T],
    got_shape: &[usize],
    want: &[T],
    want_shape: &[usize],
    element: impl Fn(T, T) -> (f64, f64, f64),
) -> Result<Comparison, CompareError> {
    if got_shape != want_shape {
        return Err(CompareError::Shape {
            got: got_shape.to_vec(),
            want: want_shape.to_vec(),
        });
    }
    check_len("got", got.len(), got_shape)?;
    check_len("want", want.len(), want_shape)?;
    let mut mismatches = 0;
    let mut max_abs_diff = 0.0f64;
    let mut worst: Option<(f64, usize, f64, f64)> = None;
    for (flat, (&g, &w)) in got.iter().zip(want).enumerate() {
        let (excess, g, w) = element(g, w);
        if excess > 0.0 {
            mismatches += 1;
        }
        if g.is_finite() && w.is_finite() {
            max_abs_diff = max_abs_diff.max((g - w).abs());
        }
        if worst.is_none_or(|(e, ..)| excess > e) {
            worst = Some((excess, flat, g, w));
        }
    }
    Ok(Comparison {
        compared: got.len(),
        mismatches,
        max_abs_diff,
        worst: worst.map(|(_, flat, got, want)| Element {
            index: unravel(flat, want_shape),
            flat,
            got,
            want,
        }),
    })
}

/// Compares two case tensors: floats under `tol`, indices exactly (`tol`
/// does not apply to them).
///
/// # Errors
/// [`CompareError::Dtype`] when the dtypes differ, and the errors of
/// [`compare_floats`].
pub fn compare_tensors(
    got: &CaseTensor,
    want: &CaseTensor,
    tol: Tolerance,
) -> Result<Comparison, CompareError> {
    match (got, want) {
        (CaseTensor::F32(g), CaseTensor::F32(w)) => {
            let widen = |s: &[f32]| s.iter().map(|&v| f64::from(v)).collect::<Vec<_>>();
            compare_floats(
                &widen(g.as_slice()),
                g.shape(),
                &widen(w.as_slice()),
                w.shape(),
                tol,
            )
        }
        (CaseTensor::F64(g), CaseTensor::F64(w)) => {
            compare_floats(g.as_slice(), g.shape(), w.as_slice(), w.shape(), tol)
        }
        (CaseTensor::I64(g), CaseTensor::I64(w)) => {
            compare_indices(g.as_slice(), g.shape(), w.as_slice(), w.shape())
        }
        _ => Err(CompareError::Dtype {
            got: got.dtype_name(),
            want: want.dtype_name(),
        }),
    }
}
