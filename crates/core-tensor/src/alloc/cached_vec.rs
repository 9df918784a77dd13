//! `CachedVec<T>`: a `Vec` whose buffer goes back to the cache when dropped.

use std::ops::{Deref, DerefMut};

use super::cache::{recycle, vec_filled, vec_with_capacity};

/// A `Vec<T>` that hands its buffer to the cache ([`recycle`]) when it is
/// dropped instead of freeing it: the storage of every [`Tensor`], and the
/// scratch buffers of kernels that run every step.
///
/// [`Tensor`]: crate::Tensor
///
/// ```
/// use core_tensor::alloc::CachedVec;
///
/// let mut scratch = CachedVec::<f64>::with_capacity(10_000);
/// scratch.extend((0..10_000).map(f64::from));
/// assert_eq!(scratch[9_999], 9_999.0);
/// // Dropped here: the buffer waits in the cache for the next request.
/// ```
#[derive(Debug, Default)]
pub struct CachedVec<T> {
    vec: Vec<T>,
}

impl<T> CachedVec<T> {
    /// An empty vector with room for `n` elements ([`vec_with_capacity`]).
    pub fn with_capacity(n: usize) -> Self {
        Self {
            vec: vec_with_capacity(n),
        }
    }

    /// `n` copies of `value` ([`vec_filled`]).
    pub fn filled(n: usize, value: T) -> Self
    where
        T: Clone,
    {
        Self {
            vec: vec_filled(n, value),
        }
    }

    /// Makes room for at least `additional` more elements. When the buffer
    /// must grow, the new one comes from the cache (and the old one goes
    /// back to it), not from `Vec`'s own growth, which would bypass the
    /// cache. Shadows [`Vec::reserve`].
    pub fn reserve(&mut self, additional: usize) {
        let need = self
            .vec
            .len()
            .checked_add(additional)
            .expect("capacity overflow");
        if need > self.vec.capacity() {
            let mut grown = vec_with_capacity(need);
            grown.append(&mut self.vec);
            recycle(std::mem::replace(&mut self.vec, grown));
        }
    }

    /// Resizes to `n` elements, filling new ones with `value`; growth goes
    /// through the cache as in [`CachedVec::reserve`]. Shadows
    /// [`Vec::resize`].
    pub fn resize(&mut self, n: usize, value: T)
    where
        T: Clone,
    {
        if n > self.vec.len() {
            self.reserve(n - self.vec.len());
        }
        self.vec.resize(n, value);
    }

    /// Takes the vector out; its buffer then leaves the cache's care.
    pub fn into_vec(mut self) -> Vec<T> {
        std::mem::take(&mut self.vec)
    }
}

impl<T> From<Vec<T>> for CachedVec<T> {
    fn from(vec: Vec<T>) -> Self {
        Self { vec }
    }
}

impl<T> Deref for CachedVec<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.vec
    }
}

impl<T> DerefMut for CachedVec<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.vec
    }
}

impl<T> Drop for CachedVec<T> {
    fn drop(&mut self) {
        recycle(std::mem::take(&mut self.vec));
    }
}
