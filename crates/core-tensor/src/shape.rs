//! Shape and stride arithmetic, all overflow-checked.

use crate::TensorError;

/// The product of `shape`, or [`TensorError::SizeOverflow`].
///
/// Like ndarray, the product of the non-zero axes must also fit in
/// `isize` (strides of an empty array are still computed from them), so a
/// shape such as `[0, usize::MAX, 2]` is rejected even though it holds no
/// element.
pub fn checked_numel(op: &'static str, shape: &[usize]) -> Result<usize, TensorError> {
    let overflow = || TensorError::SizeOverflow {
        op,
        shape: shape.to_vec(),
    };
    let nonzero = shape
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(overflow)?;
    if nonzero > isize::MAX as usize {
        return Err(overflow());
    }
    Ok(if shape.contains(&0) { 0 } else { nonzero })
}

/// Row-major (C-order) strides, in elements, of a contiguous array of
/// `shape`. The caller guarantees the shape's element count fits `usize`
/// (true for any shape of an existing array).
pub fn contiguous_strides(shape: &[usize]) -> Vec<usize> {
    let mut strides = vec![1usize; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        strides[i] = strides[i + 1] * shape[i + 1].max(1);
    }
    strides
}

/// NumPy broadcasting of two shapes: align on the right, each pair of
/// sizes must be equal or one of them 1.
///
/// # Errors
/// [`TensorError::ShapeMismatch`] (with `op`) when the shapes do not broadcast.
pub fn broadcast_shapes(
    op: &'static str,
    a: &[usize],
    b: &[usize],
) -> Result<Vec<usize>, TensorError> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i < n - a.len() {
            1
        } else {
            a[i - (n - a.len())]
        };
        let db = if i < n - b.len() {
            1
        } else {
            b[i - (n - b.len())]
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => {
                return Err(TensorError::ShapeMismatch {
                    op,
                    expected: a.to_vec(),
                    got: b.to_vec(),
                });
            }
        };
    }
    Ok(out)
}

/// The row-major multi-index of flat element `flat` of an array of `shape`
/// (`numpy.unravel_index`). For `flat >= product(shape)` the first index
/// runs past its axis; callers pass in-range indices.
pub fn unravel_index(flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    let mut rest = flat;
    for (i, &d) in shape.iter().enumerate().rev() {
        if i == 0 {
            idx[0] = rest;
        } else if d > 0 {
            idx[i] = rest % d;
            rest /= d;
        }
    }
    idx
}

/// The flat row-major offset of `index` in an array of `shape`, or `None`
/// when the ranks differ or an index is outside its axis.
pub fn ravel_index(index: &[usize], shape: &[usize]) -> Option<usize> {
    if index.len() != shape.len() {
        return None;
    }
    index.iter().zip(shape).try_fold(0usize, |acc, (&i, &d)| {
        if i < d {
            acc.checked_mul(d)?.checked_add(i)
        } else {
            None
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ravel_and_unravel_are_inverse() {
        let shape = [2, 3, 4];
        for flat in 0..24 {
            let idx = unravel_index(flat, &shape);
            assert!(idx.iter().zip(&shape).all(|(i, d)| i < d));
            assert_eq!(ravel_index(&idx, &shape), Some(flat));
        }
        assert_eq!(unravel_index(7, &[2, 4]), vec![1, 3]);
        assert_eq!(unravel_index(0, &[]), Vec::<usize>::new());
        assert_eq!(ravel_index(&[2, 0], &[2, 4]), None);
        assert_eq!(ravel_index(&[0], &[2, 4]), None);
    }

    #[test]
    fn strides_are_row_major() {
        assert_eq!(contiguous_strides(&[2, 3, 4]), vec![12, 4, 1]);
        assert_eq!(contiguous_strides(&[]), Vec::<usize>::new());
    }

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(
            broadcast_shapes("t", &[3, 1, 5], &[4, 1]).unwrap(),
            vec![3, 4, 5]
        );
        assert_eq!(broadcast_shapes("t", &[], &[2]).unwrap(), vec![2]);
        assert!(broadcast_shapes("t", &[3], &[4]).is_err());
    }

    #[test]
    fn numel_overflow_is_detected() {
        assert_eq!(checked_numel("t", &[2, 3]).unwrap(), 6);
        assert_eq!(checked_numel("t", &[]).unwrap(), 1);
        assert!(checked_numel("t", &[usize::MAX, 3]).is_err());
        // An empty shape whose other axes overflow isize is still rejected,
        // as ndarray would refuse to build it.
        assert_eq!(checked_numel("t", &[0, 3]).unwrap(), 0);
        assert!(checked_numel("t", &[0, usize::MAX / 2, 4]).is_err());
        assert!(checked_numel("t", &[isize::MAX as usize + 1]).is_err());
    }
}
