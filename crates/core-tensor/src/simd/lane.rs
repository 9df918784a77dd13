//! The lane abstraction: a kernel body written once over a vector type
//! [`Lane`], run on AVX2 registers or on plain arrays by [`dispatch`].

#[cfg(target_arch = "x86_64")]
use super::detect::has_avx2;
use super::portable::Portable;

/// A short vector of [`Lane::N`] elements with element-wise arithmetic,
/// the unit a SIMD kernel body is written over. Two families implement it
/// for `f32` (8 lanes) and `f64` (4 lanes): 256-bit AVX2 registers, handed
/// to a [`Kernel`] only by [`dispatch`] when the CPU has AVX2, and
/// [`Portable`] arrays everywhere else. Every operation gives bitwise the
/// same lanes in both families (IEEE-754 add, sub, mul and div, and the
/// x86 `max`/`min` rule below, spelled out in the portable code), so a
/// kernel gives the same bits on either path.
pub trait Lane: Copy + Send + Sync + 'static {
    /// The element type (`f32` or `f64`).
    type Elem: Copy;
    /// One truth value per lane, from the comparisons.
    type Mask: Copy;
    /// Number of lanes.
    const N: usize;

    /// Every lane set to `v`.
    fn splat(v: Self::Elem) -> Self;
    /// Every lane `+0.0`.
    fn zero() -> Self;
    /// The first [`Lane::N`] elements of `s`, lane `k` from `s[k]`.
    ///
    /// # Panics
    /// If `s` is shorter than [`Lane::N`].
    fn load(s: &[Self::Elem]) -> Self;
    /// Writes lane `k` to `s[k]` for the first [`Lane::N`] elements.
    ///
    /// # Panics
    /// If `s` is shorter than [`Lane::N`].
    fn store(self, s: &mut [Self::Elem]);
    /// Lane-wise `self + o`.
    fn add(self, o: Self) -> Self;
    /// Lane-wise `self − o`.
    fn sub(self, o: Self) -> Self;
    /// Lane-wise `self · o` (never fused with a following add).
    fn mul(self, o: Self) -> Self;
    /// Lane-wise `self / o`.
    fn div(self, o: Self) -> Self;
    /// Lane-wise `if self > o { self } else { o }` (x86 `maxps`: `o` when
    /// either is NaN or both are equal, so NaN in `o` propagates).
    fn max(self, o: Self) -> Self;
    /// Lane-wise `if self < o { self } else { o }` (x86 `minps`).
    fn min(self, o: Self) -> Self;
    /// Lane-wise `self > o` (false when either is NaN).
    fn gt(self, o: Self) -> Self::Mask;
    /// Lane-wise `self == o` (false when either is NaN).
    fn eq(self, o: Self) -> Self::Mask;
    /// Lane-wise `self` is NaN.
    fn is_nan(self) -> Self::Mask;
    /// Lane-wise `if m { a } else { b }`.
    fn select(m: Self::Mask, a: Self, b: Self) -> Self;
    /// Lane-wise `a || b`.
    fn mask_or(a: Self::Mask, b: Self::Mask) -> Self::Mask;
    /// Lane-wise `a && b`.
    fn mask_and(a: Self::Mask, b: Self::Mask) -> Self::Mask;
    /// The mask as bits: bit `k` set when lane `k` is true.
    fn mask_bits(m: Self::Mask) -> u32;
    /// The sum of the lanes folded by halves: lane `k` plus lane
    /// `k + N/2`, then `k + N/4`, down to one lane.
    fn sum_halves(self) -> Self::Elem;
}

/// A kernel body written once over a [`Lane`] type of element `F`, for
/// [`dispatch`] to run on the lane type the CPU supports.
///
/// Mark `run` (and every function it calls in its loops) `#[inline(always)]`:
/// on the AVX2 path it is called from a function compiled for AVX2, and only
/// what is inlined into that function gets 256-bit instructions.
///
/// ```
/// use core_tensor::simd::{dispatch, Kernel, Lane};
///
/// /// `y[i] = a·x[i] + y[i]` over whole vectors, then the tail one by one.
/// struct Axpy<'a> { a: f32, x: &'a [f32], y: &'a mut [f32] }
///
/// impl Kernel<f32> for Axpy<'_> {
///     type Output = ();
///     #[inline(always)]
///     fn run<V: Lane<Elem = f32>>(self) {
///         let av = V::splat(self.a);
///         let n = self.x.len().min(self.y.len());
///         let body = n - n % V::N;
///         for i in (0..body).step_by(V::N) {
///             let r = av.mul(V::load(&self.x[i..])).add(V::load(&self.y[i..]));
///             r.store(&mut self.y[i..]);
///         }
///         for i in body..n {
///             self.y[i] += self.a * self.x[i];
///         }
///     }
/// }
///
/// let x: Vec<f32> = (0..11).map(|i| i as f32).collect();
/// let mut y = vec![1.0f32; 11];
/// dispatch(Axpy { a: 2.0, x: &x, y: &mut y });
/// assert_eq!(y[10], 21.0);
/// ```
pub trait Kernel<F> {
    /// What the kernel returns.
    type Output;
    /// The body, over lanes `V`.
    fn run<V: Lane<Elem = F>>(self) -> Self::Output;
}

/// An element type with lane types: `f32` and `f64` (sealed).
pub trait Element: sealed::Sealed + Copy + 'static {
    /// The portable lane type of this element: as wide as its AVX2 one
    /// (8 `f32`, 4 `f64`), so a kernel gives the same bits on both.
    type Portable: Lane<Elem = Self>;

    /// Runs `k` on AVX2 lanes when [`super::level`] allows it, else on
    /// [`Element::Portable`] lanes. Called through [`dispatch`].
    #[doc(hidden)]
    fn dispatch<K: Kernel<Self>>(k: K) -> K::Output;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// Runs the kernel `k` on the widest lanes the process may use: AVX2
/// registers in a function compiled for AVX2 when [`super::level`] is
/// [`super::Level::Avx2`], else the portable lanes of `F`. The one SIMD
/// dispatch point of the workspace. See [`Kernel`] for an example.
#[inline(always)]
pub fn dispatch<F: Element, K: Kernel<F>>(k: K) -> K::Output {
    F::dispatch(k)
}

/// Runs `k` on the portable lanes of `F`, whatever the CPU (for
/// differential tests of a kernel against its dispatched run).
#[inline(always)]
pub fn run_portable<F: Element, K: Kernel<F>>(k: K) -> K::Output {
    k.run::<F::Portable>()
}

macro_rules! element {
    ($t:ty, $n:literal, $avx2:ident, $run_avx2:ident) => {
        impl Element for $t {
            type Portable = Portable<$t, $n>;

            #[inline(always)]
            fn dispatch<K: Kernel<Self>>(k: K) -> K::Output {
                #[cfg(target_arch = "x86_64")]
                if has_avx2() {
                    // SAFETY: `has_avx2` says the CPU supports AVX2.
                    return unsafe { $run_avx2(k) };
                }
                k.run::<Portable<$t, $n>>()
            }
        }

        /// Runs `k` on AVX2 lanes, compiled for AVX2.
        ///
        /// # Safety
        /// The CPU must support AVX2.
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = "avx2")]
        unsafe fn $run_avx2<K: Kernel<$t>>(k: K) -> K::Output {
            k.run::<super::avx2::$avx2>()
        }
    };
}

element!(f32, 8, F32x8, run_avx2_f32);
element!(f64, 4, F64x4, run_avx2_f64);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every lane operation on the first `N` elements of `a` and `b`,
    /// stored side by side (masks as 0/1), plus the masks' bits and the
    /// folded sum.
    struct AllOps<'a, F> {
        a: &'a [F],
        b: &'a [F],
    }

    impl<F: crate::Float> Kernel<F> for AllOps<'_, F> {
        type Output = (Vec<F>, Vec<u32>, F);

        #[inline(always)]
        fn run<V: Lane<Elem = F>>(self) -> Self::Output {
            let (a, b) = (V::load(self.a), V::load(self.b));
            let lanes = [
                a.add(b),
                a.sub(b),
                a.mul(b),
                a.div(b),
                a.max(b),
                a.min(b),
                V::select(a.gt(b), a, b),
                V::select(a.is_nan(), V::splat(F::one()), V::zero()),
                V::select(V::mask_or(a.eq(b), b.is_nan()), a, V::splat(F::cast(-2.0))),
            ];
            let mut out = vec![F::zero(); lanes.len() * V::N];
            for (l, o) in lanes.iter().zip(out.chunks_exact_mut(V::N)) {
                l.store(o);
            }
            let bits = vec![
                V::mask_bits(a.gt(b)),
                V::mask_bits(a.eq(b)),
                V::mask_bits(a.is_nan()),
                V::mask_bits(V::mask_and(a.gt(b), b.gt(V::zero()))),
            ];
            (out, bits, a.sum_halves())
        }
    }

    /// The bits of the outputs, every NaN as one value (Rust leaves the
    /// payload of a NaN result unspecified, and the compiler may swap the
    /// operands of an add).
    fn bits<F: crate::Float>(o: (Vec<F>, Vec<u32>, F)) -> (Vec<u64>, Vec<u32>, u64) {
        let b = |v: F| {
            if v.is_nan() {
                u64::MAX
            } else {
                v.widen().to_bits()
            }
        };
        (o.0.into_iter().map(b).collect(), o.1, b(o.2))
    }

    /// The lane operations against scalar arithmetic, on values with a
    /// NaN, equal lanes, signed zeros and infinities.
    #[test]
    fn lane_operations_match_scalar_rules() {
        let nan = f32::NAN;
        let a = [1.0f32, nan, 3.0, -0.0, f32::INFINITY, 2.0, 5.0, 1e-3];
        let b = [2.0f32, 1.0, nan, 0.0, 1.0, 2.0, -5.0, 4.0];
        for out in [
            dispatch(AllOps { a: &a, b: &b }),
            run_portable(AllOps { a: &a, b: &b }),
        ] {
            let (v, m, s) = out;
            let want_max: Vec<f32> = a
                .iter()
                .zip(&b)
                .map(|(&x, &y)| if x > y { x } else { y })
                .collect();
            let want_add: Vec<f32> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
            assert_eq!(format!("{:?}", &v[..8]), format!("{want_add:?}"), "add");
            assert_eq!(format!("{:?}", &v[32..40]), format!("{want_max:?}"), "max");
            // max: NaN in the second operand wins, NaN in the first loses.
            assert!(v[34].is_nan() && v[33] == 1.0);
            // min of -0.0 and 0.0 is the second operand.
            assert_eq!(v[43].to_bits(), 0.0f32.to_bits());
            assert_eq!(m[0], 0b0101_0000);
            assert_eq!(m[1], 0b0010_1000);
            assert_eq!(m[2], 0b0000_0010);
            assert_eq!(m[3], 0b0001_0000);
            assert_eq!(&v[56..64], &[0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
            assert!(s.is_nan());
        }
        let x = [1.0f64, 2.0, 4.0, 8.0];
        let (v, m, s) = dispatch(AllOps {
            a: &x,
            b: &[1.0; 4],
        });
        assert_eq!(s, 15.0);
        assert_eq!(&v[..4], &[2.0, 3.0, 5.0, 9.0]);
        assert_eq!(m[0], 0b1110);
    }

    proptest! {
        /// The dispatched lanes (AVX2 where allowed) and the portable ones
        /// agree bitwise on any values, NaNs and infinities included.
        #[test]
        fn dispatched_and_portable_lanes_agree(
            a in proptest::collection::vec(proptest::num::f32::ANY, 8),
            b in proptest::collection::vec(proptest::num::f32::ANY, 8),
        ) {
            prop_assert_eq!(
                bits(dispatch(AllOps { a: &a, b: &b })),
                bits(run_portable(AllOps { a: &a, b: &b }))
            );
            let (a, b): (Vec<f64>, Vec<f64>) = (a.iter().map(|&v| v.into()).collect(), b.iter().map(|&v| v.into()).collect());
            prop_assert_eq!(
                bits(dispatch(AllOps { a: &a[..4], b: &b[4..] })),
                bits(run_portable(AllOps { a: &a[..4], b: &b[4..] }))
            );
        }
    }
}
