//! `Tensor<T>`: an immutable, cheaply cloned, always contiguous array.

use std::fmt;
use std::sync::Arc;

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, Dimension, IxDyn};

use crate::TensorError;
use crate::alloc::{CachedVec, vec_filled, vec_with_capacity};
use crate::float::Float;
use crate::shape::checked_numel;

/// An n-dimensional array with shared, immutable storage in row-major
/// (C) order.
///
/// Cloning is `O(1)` (an `Arc` bump), reshaping a tensor is zero-copy, and
/// the storage is always a contiguous row-major slice, so kernels can work
/// on [`Tensor::as_slice`] directly. Mutation goes through
/// [`Tensor::make_mut`] or [`Tensor::into_array`], which copy only when the
/// storage is shared. When the last tensor sharing a storage is dropped,
/// its buffer goes to the cache of [`crate::alloc`] for the next tensor of
/// that size.
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
pub struct Tensor<T> {
    storage: Arc<CachedVec<T>>,
    shape: IxDyn,
}

impl<T> Clone for Tensor<T> {
    fn clone(&self) -> Self {
        Self {
            storage: Arc::clone(&self.storage),
            shape: self.shape.clone(),
        }
    }
}

impl<T> Tensor<T> {
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        self.shape.slice()
    }

    /// The number of dimensions.
    pub fn ndim(&self) -> usize {
        self.shape.ndim()
    }

    /// The number of elements.
    pub fn len(&self) -> usize {
        self.storage.len()
    }

    /// Whether the tensor has no elements.
    pub fn is_empty(&self) -> bool {
        self.storage.is_empty()
    }

    /// The contiguous row-major storage.
    pub fn as_slice(&self) -> &[T] {
        &self.storage
    }

    /// A read-only ndarray view.
    pub fn view(&self) -> ArrayViewD<'_, T> {
        ArrayViewD::from_shape(self.shape.clone(), &self.storage)
            .expect("the storage holds the shape's element count")
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
        Ok(Self {
            storage: Arc::clone(&self.storage),
            shape: IxDyn(shape),
        })
    }

    /// Whether two tensors share the same storage.
    pub fn shares_storage_with(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.storage, &other.storage)
    }
}

impl<T: Clone> Tensor<T> {
    /// Builds a tensor from a row-major buffer and a shape (the buffer
    /// becomes the storage, without a copy).
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
        Ok(Self::from_parts(shape, data))
    }

    /// The storage `data` under `shape`; the caller checked that they agree.
    fn from_parts(shape: &[usize], data: Vec<T>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Self {
            storage: Arc::new(CachedVec::from(data)),
            shape: IxDyn(shape),
        }
    }

    /// Wraps an ndarray array, copying it into row-major order only if it
    /// is not already contiguous row-major.
    pub fn from_array(a: ArrayD<T>) -> Self {
        if a.is_standard_layout() {
            let shape = a.shape().to_vec();
            let n = a.len();
            let (data, offset) = a.into_raw_vec_and_offset();
            if offset.unwrap_or(0) == 0 && data.len() == n {
                return Self::from_parts(&shape, data);
            }
            let start = offset.unwrap_or(0);
            return Self::from_parts(&shape, copy_to_cached(&data[start..start + n]));
        }
        Self::from_view(a.view())
    }

    /// Copies a view (of any layout) into a new tensor.
    pub fn from_view(v: ArrayViewD<'_, T>) -> Self {
        if let Some(s) = v.as_slice() {
            return Self::from_parts(v.shape(), copy_to_cached(s));
        }
        let n = v.len();
        let mut data: Vec<T> = vec_with_capacity(n);
        let dst = ArrayViewMutD::from_shape(v.raw_dim(), &mut data.spare_capacity_mut()[..n])
            .expect("the buffer holds the view's element count");
        v.assign_to(dst);
        // SAFETY: `assign_to` wrote every one of the first `n` slots (the
        // destination view covers exactly them); had a `clone` panicked,
        // this line would not run and the length would stay 0.
        unsafe { data.set_len(n) };
        Self::from_parts(v.shape(), data)
    }

    /// A tensor of the given shape filled with `value`.
    ///
    /// # Panics
    /// If the element count of `shape` overflows `usize` (that allocation
    /// could not succeed anyway).
    pub fn full(shape: &[usize], value: T) -> Self {
        let n = checked_numel("Tensor::full", shape).expect("the element count overflows usize");
        Self::from_parts(shape, vec_filled(n, value))
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
        Ok(Self::from_array(arr))
    }

    /// A 0-dimensional tensor holding one value.
    pub fn scalar(value: T) -> Self {
        Self::full(&[], value)
    }

    /// Mutable access to the elements, copying them into a storage of this
    /// tensor's own first if another tensor shares the storage (copy on
    /// write, like `Arc::make_mut`).
    ///
    /// ```
    /// use core_tensor::Tensor;
    /// let a = Tensor::from_vec(&[2], vec![1.0f64, 2.0])?;
    /// let mut b = a.clone();
    /// b.make_mut()[0] = 5.0;
    /// assert_eq!(a.as_slice(), &[1.0, 2.0]);
    /// assert_eq!(b.as_slice(), &[5.0, 2.0]);
    /// # Ok::<(), core_tensor::TensorError>(())
    /// ```
    pub fn make_mut(&mut self) -> &mut [T] {
        if Arc::get_mut(&mut self.storage).is_none() {
            self.storage = Arc::new(CachedVec::from(copy_to_cached(&self.storage)));
        }
        Arc::get_mut(&mut self.storage).expect("the storage was just made unique")
    }

    /// Converts to an owned ndarray array, copying only if the storage is
    /// shared with another tensor.
    pub fn into_array(self) -> ArrayD<T> {
        let data = match Arc::try_unwrap(self.storage) {
            Ok(unique) => unique.into_vec(),
            Err(shared) => shared.to_vec(),
        };
        ArrayD::from_shape_vec(self.shape, data)
            .expect("the storage holds the shape's element count")
    }

    /// Copies the elements into a `Vec` in row-major order.
    pub fn to_vec(&self) -> Vec<T> {
        self.as_slice().to_vec()
    }

    /// Applies `f` to every element.
    pub fn map<U: Clone>(&self, f: impl FnMut(&T) -> U) -> Tensor<U> {
        let mut data = vec_with_capacity(self.len());
        data.extend(self.as_slice().iter().map(f));
        Tensor::from_parts(self.shape(), data)
    }
}

/// A copy of `s` in a buffer from the cache.
fn copy_to_cached<T: Clone>(s: &[T]) -> Vec<T> {
    let mut data = vec_with_capacity(s.len());
    data.extend_from_slice(s);
    data
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
        write!(f, "Tensor{:?} ", self.shape())?;
        fmt::Debug::fmt(&self.view(), f)
    }
}

impl<T: PartialEq> PartialEq for Tensor<T> {
    fn eq(&self, other: &Self) -> bool {
        self.shape == other.shape && self.storage[..] == other.storage[..]
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
