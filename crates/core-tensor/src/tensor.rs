//! `Tensor<T>`: an immutable, cheaply cloned, always contiguous array.

use std::fmt;

use ndarray::{ArcArray, ArrayD, ArrayViewD, Dimension, IxDyn};

use crate::TensorError;
use crate::float::Float;
use crate::shape::checked_numel;

/// An n-dimensional array with shared, immutable storage in row-major
/// (C) order.
///
/// Cloning is `O(1)` (an `Arc` bump), reshaping a tensor is zero-copy, and
/// the storage is always a contiguous row-major slice, so kernels can work
/// on [`Tensor::as_slice`] directly. Mutation goes through
/// [`Tensor::into_array`], which copies only when the storage is shared.
///
/// ```
/// use core_tensor::Tensor;
/// let t = Tensor::from_vec(&[2, 3], vec![1.0f32, 2., 3., 4., 5., 6.])?;
/// assert_eq!(t.shape(), &[2, 3]);
/// assert_eq!(t.as_slice()[4], 5.0);
/// let r = t.reshape(&[3, 2])?;
/// assert_eq!(r.as_slice(), t.as_slice());
/// # Ok::<(), core_tensor::TensorError>(())
/// ```
#[derive(Clone)]
pub struct Tensor<T> {
    data: ArcArray<T, IxDyn>,
}

impl<T: Clone> Tensor<T> {
    /// Builds a tensor from a row-major buffer and a shape.
    ///
    /// # Errors
    /// [`TensorError::LengthMismatch`] when `data.len()` is not the product
    /// of `shape`, [`TensorError::SizeOverflow`] when that product overflows.
    pub fn from_vec(shape: &[usize], data: Vec<T>) -> Result<Self, TensorError> {
        let expected = checked_numel("Tensor::from_vec", shape)?;
        if expected != data.len() {
            return Err(TensorError::LengthMismatch {
                op: "Tensor::from_vec",
                shape: shape.to_vec(),
                expected,
                got: data.len(),
            });
        }
        let arr = ArrayD::from_shape_vec(IxDyn(shape), data)
            .expect("length was checked against the shape");
        Ok(Self {
            data: arr.into_shared(),
        })
    }

    /// Wraps an ndarray array, copying it into row-major order only if it
    /// is not already contiguous row-major.
    pub fn from_array(a: ArrayD<T>) -> Self {
        let a = if a.is_standard_layout() {
            a
        } else {
            a.as_standard_layout().into_owned()
        };
        Self {
            data: a.into_shared(),
        }
    }

    /// Copies a view (of any layout) into a new tensor.
    pub fn from_view(v: ArrayViewD<'_, T>) -> Self {
        Self {
            data: v.as_standard_layout().into_owned().into_shared(),
        }
    }

    /// A tensor of the given shape filled with `value`.
    ///
    /// # Panics
    /// If the element count of `shape` overflows `usize` (that allocation
    /// could not succeed anyway).
    pub fn full(shape: &[usize], value: T) -> Self {
        Self {
            data: ArrayD::from_elem(IxDyn(shape), value).into_shared(),
        }
    }

    /// A tensor whose element at multi-index `idx` is `f(idx)`, filled in
    /// row-major order (`ndarray::Array::from_shape_fn`).
    ///
    /// ```
    /// use core_tensor::{Tensor, testing::assert_close};
    /// let t = Tensor::from_fn(&[2, 3], |i| (10 * i[0] + i[1]) as f64)?;
    /// assert_close(t.as_slice(), &[0., 1., 2., 10., 11., 12.], 1e-15, 0.0);
    /// # Ok::<(), core_tensor::TensorError>(())
    /// ```
    ///
    /// # Errors
    /// [`TensorError::SizeOverflow`] when the element count overflows.
    pub fn from_fn(shape: &[usize], mut f: impl FnMut(&[usize]) -> T) -> Result<Self, TensorError> {
        checked_numel("Tensor::from_fn", shape)?;
        let arr = ArrayD::from_shape_fn(IxDyn(shape), |ix| f(ix.slice()));
        Ok(Self {
            data: arr.into_shared(),
        })
    }

    /// A 0-dimensional tensor holding one value.
    pub fn scalar(value: T) -> Self {
        Self::full(&[], value)
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        self.data.shape()
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        self.data.ndim()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.data.len()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The contiguous row-major storage.
    pub fn as_slice(&self) -> &[T] {
        self.data
            .as_slice()
            .expect("Tensor storage is always standard layout")
    }

    /// A read-only ndarray view.
    pub fn view(&self) -> ArrayViewD<'_, T> {
        self.data.view()
    }

    /// Converts to an owned ndarray array, copying only if the storage is
    /// shared with another tensor.
    pub fn into_array(self) -> ArrayD<T> {
        self.data.into_owned()
    }

    /// Copies the elements into a `Vec` in row-major order.
    pub fn to_vec(&self) -> Vec<T> {
        self.as_slice().to_vec()
    }

    /// The same elements under another shape with the same element count
    /// (zero-copy).
    ///
    /// # Errors
    /// [`TensorError::ShapeMismatch`] when the element counts differ.
    pub fn reshape(&self, shape: &[usize]) -> Result<Self, TensorError> {
        let n = checked_numel("Tensor::reshape", shape)?;
        if n != self.len() {
            return Err(TensorError::ShapeMismatch {
                op: "Tensor::reshape",
                expected: self.shape().to_vec(),
                got: shape.to_vec(),
            });
        }
        let data = self
            .data
            .clone()
            .into_shape_with_order(IxDyn(shape))
            .expect("standard layout reshapes without copying");
        Ok(Self { data })
    }

    /// Applies `f` to every element.
    pub fn map<U: Clone>(&self, f: impl FnMut(&T) -> U) -> Tensor<U> {
        Tensor {
            data: self.data.map(f).into_shared(),
        }
    }

    /// Whether two tensors share the same storage.
    pub fn shares_storage_with(&self, other: &Self) -> bool {
        std::ptr::eq(self.data.as_ptr(), other.data.as_ptr())
    }
}

impl<F: Float> Tensor<F> {
    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Self::full(shape, F::zero())
    }

    /// A tensor of ones.
    pub fn ones(shape: &[usize]) -> Self {
        Self::full(shape, F::one())
    }

    /// Converts every element to another float type (rounding to nearest).
    pub fn cast<G: Float>(&self) -> Tensor<G> {
        self.map(|&v| G::cast(v.widen()))
    }

    /// Builds a tensor from `f64` values, rounding into `F`.
    ///
    /// # Errors
    /// As [`Tensor::from_vec`].
    pub fn from_f64s(shape: &[usize], data: &[f64]) -> Result<Self, TensorError> {
        Self::from_vec(shape, data.iter().map(|&v| F::cast(v)).collect())
    }

    /// The elements widened to `f64`.
    pub fn to_f64_vec(&self) -> Vec<f64> {
        self.as_slice().iter().map(|v| v.widen()).collect()
    }

    /// The single value of a one-element tensor, or `None`.
    pub fn item(&self) -> Option<F> {
        (self.len() == 1).then(|| self.as_slice()[0])
    }
}

impl<T: Clone> From<ArrayD<T>> for Tensor<T> {
    fn from(a: ArrayD<T>) -> Self {
        Self::from_array(a)
    }
}

impl<T: fmt::Debug> fmt::Debug for Tensor<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Tensor{:?} ", self.data.shape())?;
        fmt::Debug::fmt(&self.data, f)
    }
}

impl<T: PartialEq> PartialEq for Tensor<T> {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::assert_close;

    #[test]
    fn from_vec_checks_length() {
        let err = Tensor::from_vec(&[2, 2], vec![1.0f64; 3]).unwrap_err();
        assert!(matches!(
            err,
            TensorError::LengthMismatch {
                expected: 4,
                got: 3,
                ..
            }
        ));
        assert!(err.to_string().contains("holds 4 elements but 3"));
    }

    #[test]
    fn overflowing_shape_is_an_error() {
        let err = Tensor::<f32>::from_vec(&[usize::MAX, 2], vec![]).unwrap_err();
        assert!(matches!(err, TensorError::SizeOverflow { .. }));
    }

    #[test]
    fn from_array_makes_row_major() {
        let a = ndarray::Array2::from_shape_vec((2, 3), vec![1., 2., 3., 4., 5., 6.])
            .unwrap()
            .reversed_axes()
            .into_dyn();
        let t = Tensor::<f64>::from_array(a);
        assert_eq!(t.shape(), &[3, 2]);
        assert_close(t.as_slice(), &[1., 4., 2., 5., 3., 6.], 1e-15, 0.0);
    }

    #[test]
    fn reshape_is_zero_copy_and_checked() {
        let t = Tensor::from_vec(&[6], (0..6).map(f64::from).collect()).unwrap();
        let r = t.reshape(&[2, 3]).unwrap();
        assert!(r.shares_storage_with(&t));
        assert_eq!(r.view()[[1, 0]], 3.0);
        assert!(t.reshape(&[4]).is_err());
    }

    #[test]
    fn into_array_copies_only_when_shared() {
        let t = Tensor::from_vec(&[2], vec![1.0f32, 2.0]).unwrap();
        let u = t.clone();
        let mut a = u.into_array();
        a[[0]] = 9.0;
        assert_close(t.as_slice(), &[1.0, 2.0], 1e-15, 0.0);
        assert_eq!(a.as_slice().unwrap(), &[9.0, 2.0]);
    }

    #[test]
    fn cast_rounds() {
        let t = Tensor::<f64>::from_vec(&[1], vec![0.1]).unwrap();
        assert_close(t.cast::<f32>().as_slice(), &[0.1f32], 1e-15, 0.0);
        assert_eq!(t.item(), Some(0.1));
    }
}
