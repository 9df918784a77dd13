//! Float comparison helpers for tests: `allclose` with a report of the worst
//! element, usable from any crate's tests; and [`rounding_values`], inputs
//! on which a change of summation order or a signed zero shows in the bits.
//!
//! Two values `a` (actual) and `e` (expected) are close when
//! `|a - e| <= atol + rtol * |e|`, the rule of `torch.allclose` and
//! `numpy.allclose`. Unlike `torch.allclose`, a NaN matches a NaN (the
//! tests pin NaN propagation) and an infinity matches the same infinity.
//!
//! ```
//! use core_tensor::testing::{assert_close, max_violation};
//! let got = [1.0f32, 2.0, 3.0001];
//! let want = [1.0f64, 2.0, 3.0];
//! assert_close(&got, &want, 1e-4, 1e-6);
//! let v = max_violation(&got, &want, 0.0, 1e-6)?.expect("3.0001 is not within 1e-6 of 3");
//! assert_eq!(v.index, 2);
//! assert_eq!(v.count, 1);
//! # Ok::<(), core_tensor::TensorError>(())
//! ```

use std::fmt;

use crate::shape::unravel_index;
use crate::{Float, Rng, Tensor, TensorError};

/// The worst element outside the tolerance, as found by [`max_violation`].
#[derive(Clone, Debug, PartialEq)]
pub struct Violation {
    /// Flat (row-major) index of the worst element.
    pub index: usize,
    /// The actual value there, widened to `f64`.
    pub actual: f64,
    /// The expected value there.
    pub expected: f64,
    /// `|actual - expected|` (infinite when exactly one is NaN or the
    /// infinities differ).
    pub abs_err: f64,
    /// The allowed error there: `atol + rtol * |expected|`.
    pub allowed: f64,
    /// How many elements in total are outside the tolerance.
    pub count: usize,
    /// How many elements were compared.
    pub len: usize,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} elements outside |actual - expected| <= atol + rtol*|expected|; \
             worst at flat index {}: actual {:e}, expected {:e}, abs err {:.3e} > allowed {:.3e}",
            self.count,
            self.len,
            self.index,
            self.actual,
            self.expected,
            self.abs_err,
            self.allowed
        )
    }
}

/// The error of one pair under the closeness rule:
/// `(abs_err, allowed, close)`.
fn pair_error(a: f64, e: f64, rtol: f64, atol: f64) -> (f64, f64, bool) {
    if a.is_nan() || e.is_nan() || a.is_infinite() || e.is_infinite() {
        // Non-finite values must match exactly (NaN matches NaN).
        let same = (a.is_nan() && e.is_nan()) || a == e;
        return (if same { 0.0 } else { f64::INFINITY }, atol, same);
    }
    let allowed = atol + rtol * e.abs();
    let abs_err = (a - e).abs();
    (abs_err, allowed, abs_err <= allowed)
}

/// Compares `actual` with `expected` element by element and returns the
/// element furthest outside `|a - e| <= atol + rtol * |e|` (largest
/// `abs_err - allowed`), or `None` when every element is close.
///
/// # Errors
/// [`TensorError::LengthMismatch`] when the slices differ in length.
pub fn max_violation<A: Float, B: Float>(
    actual: &[A],
    expected: &[B],
    rtol: f64,
    atol: f64,
) -> Result<Option<Violation>, TensorError> {
    if actual.len() != expected.len() {
        return Err(TensorError::LengthMismatch {
            op: "max_violation",
            shape: vec![expected.len()],
            expected: expected.len(),
            got: actual.len(),
        });
    }
    let mut worst: Option<Violation> = None;
    let mut count = 0;
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let (a, e) = (a.widen(), e.widen());
        let (abs_err, allowed, close) = pair_error(a, e, rtol, atol);
        if close {
            continue;
        }
        count += 1;
        let excess = abs_err - allowed;
        if worst
            .as_ref()
            .is_none_or(|w| excess > w.abs_err - w.allowed)
        {
            worst = Some(Violation {
                index: i,
                actual: a,
                expected: e,
                abs_err,
                allowed,
                count: 0,
                len: actual.len(),
            });
        }
    }
    Ok(worst.map(|w| Violation { count, ..w }))
}

/// Panics with a report of the worst element unless every element of
/// `actual` is within `atol + rtol * |expected|` of `expected` (and the
/// lengths agree).
///
/// # Panics
/// When the slices are not close; that is the point of the helper.
#[track_caller]
pub fn assert_close<A: Float, B: Float>(actual: &[A], expected: &[B], rtol: f64, atol: f64) {
    match max_violation(actual, expected, rtol, atol) {
        Err(e) => panic!("assert_close: {e}"),
        Ok(Some(v)) => panic!("assert_close (rtol {rtol:e}, atol {atol:e}): {v}"),
        Ok(None) => {}
    }
}

/// [`assert_close`] for tensors: the shapes must be equal too, and the
/// report gives the worst element's multi-index.
///
/// # Panics
/// When the shapes differ or the values are not close.
#[track_caller]
pub fn assert_tensor_close<A: Float, B: Float>(
    actual: &Tensor<A>,
    expected: &Tensor<B>,
    rtol: f64,
    atol: f64,
) {
    assert!(
        actual.shape() == expected.shape(),
        "assert_tensor_close: actual shape {:?} differs from expected shape {:?}",
        actual.shape(),
        expected.shape()
    );
    if let Some(v) = max_violation(actual.as_slice(), expected.as_slice(), rtol, atol)
        .expect("same shape, same length")
    {
        panic!(
            "assert_tensor_close (rtol {rtol:e}, atol {atol:e}, shape {:?}): {v} (index {:?})",
            actual.shape(),
            unravel_index(v.index, actual.shape())
        );
    }
}

/// `n` values on which bitwise tests see a kernel's arithmetic order:
/// `-0.0` and `0.0` (ties, and sums that must stay `+0.0`), values near
/// `1e8` (ties, and sums that round) and standard normal values.
///
/// ```
/// let v = core_tensor::testing::rounding_values(&mut core_tensor::Rng::new(1), 100);
/// assert_eq!(v.len(), 100);
/// assert!(v.iter().any(|x| *x >= 1e8) && v.iter().any(|x| x.abs() < 10.0));
/// ```
pub fn rounding_values(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| match rng.below(6) {
            0 => -0.0,
            1 => 0.0,
            2 => 1e8 + rng.below(5) as f64,
            _ => rng.normal(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_worst_element() {
        let a = [1.0f64, 2.5, 3.0, 10.0];
        let e = [1.0f64, 2.0, 3.0, 9.0];
        let v = max_violation(&a, &e, 0.01, 0.0).unwrap().unwrap();
        // 2.5 vs 2.0 exceeds its allowance 0.02 by 0.48; 10 vs 9 by 0.91.
        assert_eq!(v.index, 3);
        assert_eq!(v.count, 2);
        assert_eq!(v.len, 4);
        assert_eq!((v.actual, v.expected, v.abs_err), (10.0, 9.0, 1.0));
        assert!((v.allowed - 0.09).abs() < 1e-15);
        assert!(v.to_string().contains("2 of 4 elements"), "{v}");
    }

    #[test]
    fn nan_and_infinity_rules() {
        let nan = f64::NAN;
        let inf = f64::INFINITY;
        assert_eq!(
            max_violation(&[nan, inf, -inf], &[nan, inf, -inf], 0.0, 0.0).unwrap(),
            None
        );
        let v = max_violation(&[nan], &[1.0f64], 1.0, 1.0).unwrap().unwrap();
        assert_eq!(v.abs_err, f64::INFINITY);
        assert!(max_violation(&[inf], &[-inf], 1.0, 1.0).unwrap().is_some());
        // A finite value never matches an infinity, whatever the rtol.
        assert!(
            max_violation(&[1.0f64], &[inf], 1.0, 1.0)
                .unwrap()
                .is_some()
        );
        assert!(
            max_violation(&[inf], &[1.0f64], 1.0, 1.0)
                .unwrap()
                .is_some()
        );
        assert!(max_violation(&[1.0f32], &[1.0f64, 2.0], 1.0, 1.0).is_err());
    }

    #[test]
    fn tolerances_are_inclusive_and_relative_to_expected() {
        assert_eq!(max_violation(&[1.5f64], &[1.0f64], 0.0, 0.5).unwrap(), None);
        assert_eq!(
            max_violation(&[110.0f64], &[100.0f64], 0.1, 0.0).unwrap(),
            None
        );
        // Relative to expected, not actual: |100 - 110| = 10 > 0.1 * 90 = 9.
        assert!(
            max_violation(&[100.0f64], &[90.0f64], 0.1, 0.0)
                .unwrap()
                .is_some()
        );
    }

    #[test]
    #[should_panic(expected = "worst at flat index 1")]
    fn assert_close_panics_with_the_index() {
        assert_close(&[0.0f32, 1.0], &[0.0f64, 2.0], 1e-3, 1e-3);
    }

    #[test]
    #[should_panic(expected = "(index [1, 0])")]
    fn assert_tensor_close_reports_the_multi_index() {
        let a = Tensor::from_vec(&[2, 2], vec![0.0f64, 0.0, 5.0, 0.0]).unwrap();
        let e = Tensor::<f64>::zeros(&[2, 2]);
        assert_tensor_close(&a, &e, 0.0, 1e-9);
    }

    #[test]
    #[should_panic(expected = "differs from expected shape")]
    fn assert_tensor_close_checks_shapes() {
        assert_tensor_close(
            &Tensor::<f64>::zeros(&[2, 2]),
            &Tensor::<f64>::zeros(&[4]),
            1.0,
            1.0,
        );
    }
}
