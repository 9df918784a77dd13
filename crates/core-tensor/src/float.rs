//! The floating-point element trait every kernel is generic over.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

/// The storage type of a tensor, as written in `.safetensors` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DType {
    /// IEEE-754 binary32.
    F32,
    /// IEEE-754 binary64.
    F64,
    /// Signed 64-bit integers (max-pooling indices, batch counters).
    I64,
}

impl DType {
    /// Size of one element in bytes.
    pub fn size_of(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 | DType::I64 => 8,
        }
    }
}

impl Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::I64 => "i64",
        })
    }
}

/// Floating-point element: implemented for `f32` and `f64` only.
///
/// Besides `num_traits::Float` it offers lossless widening to `f64` and a
/// rounding conversion from `f64`, which kernels use to accumulate in a wider
/// type or to write literal constants generically.
pub trait Float:
    num_traits::Float
    + ndarray::LinalgScalar
    + ndarray::ScalarOperand
    + Sum
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + crate::simd::Element
{
    /// The dtype tag of this type.
    const DTYPE: DType;
    /// Machine epsilon (`f32::EPSILON` or `f64::EPSILON`), PyTorch's
    /// `torch.finfo(dtype).eps`.
    const MACHINE_EPSILON: Self;
    /// Converts from `f64`, rounding to nearest (exact for `f64`).
    fn cast(v: f64) -> Self;
    /// Converts to `f64` (exact for both types).
    fn widen(self) -> f64;
    /// Converts a count to this type (rounding for huge counts in `f32`).
    fn from_usize(n: usize) -> Self {
        Self::cast(n as f64)
    }
}

impl Float for f32 {
    const DTYPE: DType = DType::F32;
    const MACHINE_EPSILON: Self = f32::EPSILON;
    #[inline(always)]
    fn cast(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn widen(self) -> f64 {
        self as f64
    }
}

impl Float for f64 {
    const DTYPE: DType = DType::F64;
    const MACHINE_EPSILON: Self = f64::EPSILON;
    #[inline(always)]
    fn cast(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn widen(self) -> f64 {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cast_and_widen_round_trip() {
        assert_eq!(f32::cast(0.1).widen(), 0.1f32 as f64);
        assert_eq!(f64::cast(0.1).widen(), 0.1);
        assert_eq!(<f32 as Float>::from_usize(7), 7.0);
        assert_eq!(f32::DTYPE.size_of(), 4);
        assert_eq!(DType::I64.to_string(), "i64");
    }
}
