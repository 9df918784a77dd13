//! Elementwise comparison of computed tensors with expected ones, with the
//! rules of `conformance/FORMAT.md`: `|got - want| <= atol + rtol * |want|`,
//! NaN only where NaN is expected, infinities equal with the same sign,
//! indices exact, shapes equal.
//!
//! The float helper [`compare_floats`] is reusable outside the runner: it
//! reports how many elements are outside the tolerance and the worst one
//! (its multi-dimensional index, the computed and the expected value).

use std::fmt;

use core_tensor::Float;
use core_tensor::shape::unravel_index;
use core_tensor::testing::max_violation;

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
    /// The element furthest outside the tolerance (largest
    /// `|got - want| - bound`, the first one on ties); `None` when every
    /// element passes.
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

/// Checks equal shapes and that each slice holds its shape's element count.
fn check_shapes(
    got_len: usize,
    got_shape: &[usize],
    want_len: usize,
    want_shape: &[usize],
) -> Result<(), CompareError> {
    if got_shape != want_shape {
        return Err(CompareError::Shape {
            got: got_shape.to_vec(),
            want: want_shape.to_vec(),
        });
    }
    let needed: usize = want_shape.iter().product();
    for (which, len) in [("got", got_len), ("want", want_len)] {
        if len != needed {
            return Err(CompareError::Length {
                which,
                len,
                shape: want_shape.to_vec(),
                needed,
            });
        }
    }
    Ok(())
}

/// Compares `got` with `want` (both row-major with the given shapes) under
/// `tol`, with FORMAT.md's rules: an expected NaN needs a NaN, an unexpected
/// NaN fails, infinities must be equal (same sign), everything else passes
/// when `|got - want| <= atol + rtol * |want|`. The element rule is
/// [`core_tensor::testing::max_violation`]'s; this adds shapes and the
/// multi-dimensional index of the worst element.
///
/// ```
/// use xtask::conformance::compare::{compare_floats, Tolerance};
/// let cmp = compare_floats(&[1.0f32, 2.5, f32::NAN], &[3], &[1.0f32, 2.0, f32::NAN], &[3], Tolerance::new(0.0, 0.1))?;
/// assert_eq!(cmp.mismatches, 1);
/// let worst = cmp.worst.unwrap();
/// assert_eq!((worst.index, worst.got, worst.want), (vec![1], 2.5, 2.0));
/// # Ok::<(), xtask::conformance::compare::CompareError>(())
/// ```
///
/// # Errors
/// [`CompareError::Shape`] when the shapes differ, [`CompareError::Length`]
/// when a slice does not hold its shape's number of elements.
pub fn compare_floats<A: Float, B: Float>(
    got: &[A],
    got_shape: &[usize],
    want: &[B],
    want_shape: &[usize],
    tol: Tolerance,
) -> Result<Comparison, CompareError> {
    check_shapes(got.len(), got_shape, want.len(), want_shape)?;
    let violation = max_violation(got, want, tol.rtol, tol.atol).expect("lengths checked above");
    Ok(Comparison {
        compared: got.len(),
        mismatches: violation.as_ref().map_or(0, |v| v.count),
        worst: violation.map(|v| Element {
            index: unravel_index(v.index, want_shape),
            flat: v.index,
            got: v.actual,
            want: v.expected,
        }),
    })
}

/// Compares index tensors exactly; the worst element is the first that
/// differs.
///
/// # Errors
/// As [`compare_floats`].
pub fn compare_indices(
    got: &[i64],
    got_shape: &[usize],
    want: &[i64],
    want_shape: &[usize],
) -> Result<Comparison, CompareError> {
    check_shapes(got.len(), got_shape, want.len(), want_shape)?;
    let mut differing = got
        .iter()
        .zip(want)
        .enumerate()
        .filter(|(_, (g, w))| g != w);
    // Indices are reported as f64, exact below 2^53.
    let worst = differing.next().map(|(flat, (&g, &w))| Element {
        index: unravel_index(flat, want_shape),
        flat,
        got: g as f64,
        want: w as f64,
    });
    let mismatches = usize::from(worst.is_some()) + differing.count();
    Ok(Comparison {
        compared: got.len(),
        mismatches,
        worst,
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
