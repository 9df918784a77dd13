//! Lanes in AVX2 registers: `f32x8` (`__m256`) and `f64x4` (`__m256d`).
//!
//! These types are not nameable outside this module: [`super::dispatch`]
//! hands them to a kernel as its lane type only after [`super::level`]
//! found AVX2, and that is the safety argument of every `unsafe` block
//! here (an AVX2 instruction needs nothing but a CPU that has it; loads
//! and stores check their bounds first).

use std::arch::x86_64::*;

use super::lane::Lane;

macro_rules! avx2_lane {
    (
        $(#[$doc:meta])* $name:ident, $mask:ident, $t:ty, $v:ty, $n:literal,
        set1: $set1:ident, zero: $zero:ident, load: $load:ident, store: $store:ident,
        add: $add:ident, sub: $sub:ident, mul: $mul:ident, div: $div:ident,
        max: $max:ident, min: $min:ident, cmp: $cmp:ident, blend: $blend:ident,
        or: $or:ident, and: $and:ident, movemask: $movemask:ident, fold: $fold:ident
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy)]
        pub(crate) struct $name($v);

        /// A lane mask of the same width: all ones (true) or all zeros.
        #[derive(Clone, Copy)]
        pub(crate) struct $mask($v);

        impl Lane for $name {
            type Elem = $t;
            type Mask = $mask;
            const N: usize = $n;

            #[inline(always)]
            fn splat(v: $t) -> Self {
                // SAFETY: see the module docs.
                Self(unsafe { $set1(v) })
            }
            #[inline(always)]
            fn zero() -> Self {
                // SAFETY: see the module docs.
                Self(unsafe { $zero() })
            }
            #[inline(always)]
            fn load(s: &[$t]) -> Self {
                assert!(s.len() >= $n, "load of {} lanes from {} elements", $n, s.len());
                // SAFETY: `s` holds at least `N` elements; see the module docs.
                Self(unsafe { $load(s.as_ptr()) })
            }
            #[inline(always)]
            fn store(self, s: &mut [$t]) {
                assert!(s.len() >= $n, "store of {} lanes to {} elements", $n, s.len());
                // SAFETY: `s` holds at least `N` elements; see the module docs.
                unsafe { $store(s.as_mut_ptr(), self.0) }
            }
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                // SAFETY: see the module docs.
                Self(unsafe { $add(self.0, o.0) })
            }
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                // SAFETY: see the module docs.
                Self(unsafe { $sub(self.0, o.0) })
            }
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                // SAFETY: see the module docs.
                Self(unsafe { $mul(self.0, o.0) })
            }
            #[inline(always)]
            fn div(self, o: Self) -> Self {
                // SAFETY: see the module docs.
                Self(unsafe { $div(self.0, o.0) })
            }
            #[inline(always)]
            fn max(self, o: Self) -> Self {
                // SAFETY: see the module docs.
                Self(unsafe { $max(self.0, o.0) })
            }
            #[inline(always)]
            fn min(self, o: Self) -> Self {
                // SAFETY: see the module docs.
                Self(unsafe { $min(self.0, o.0) })
            }
            #[inline(always)]
            fn gt(self, o: Self) -> $mask {
                // SAFETY: see the module docs.
                $mask(unsafe { $cmp::<_CMP_GT_OQ>(self.0, o.0) })
            }
            #[inline(always)]
            fn eq(self, o: Self) -> $mask {
                // SAFETY: see the module docs.
                $mask(unsafe { $cmp::<_CMP_EQ_OQ>(self.0, o.0) })
            }
            #[inline(always)]
            fn is_nan(self) -> $mask {
                // SAFETY: see the module docs.
                $mask(unsafe { $cmp::<_CMP_UNORD_Q>(self.0, self.0) })
            }
            #[inline(always)]
            fn select(m: $mask, a: Self, b: Self) -> Self {
                // `blendv` takes the second operand where the mask is set.
                // SAFETY: see the module docs.
                Self(unsafe { $blend(b.0, a.0, m.0) })
            }
            #[inline(always)]
            fn mask_or(a: $mask, b: $mask) -> $mask {
                // SAFETY: see the module docs.
                $mask(unsafe { $or(a.0, b.0) })
            }
            #[inline(always)]
            fn mask_and(a: $mask, b: $mask) -> $mask {
                // SAFETY: see the module docs.
                $mask(unsafe { $and(a.0, b.0) })
            }
            #[inline(always)]
            fn mask_bits(m: $mask) -> u32 {
                // SAFETY: see the module docs.
                (unsafe { $movemask(m.0) }) as u32
            }
            #[inline(always)]
            fn sum_halves(self) -> $t {
                // SAFETY: see the module docs.
                unsafe { $fold(self.0) }
            }
        }
    };
}

/// Lane `k` plus lane `k + 4`, then `k + 2`, then `k + 1`.
#[inline]
#[target_feature(enable = "avx2")]
fn fold_f32(v: __m256) -> f32 {
    let h4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
    _mm_cvtss_f32(_mm_add_ss(h2, _mm_movehdup_ps(h2)))
}

/// Lane `k` plus lane `k + 2`, then `k + 1`.
#[inline]
#[target_feature(enable = "avx2")]
fn fold_f64(v: __m256d) -> f64 {
    let h2 = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd::<1>(v));
    _mm_cvtsd_f64(_mm_add_sd(h2, _mm_unpackhi_pd(h2, h2)))
}

avx2_lane!(
    /// Eight `f32` lanes in a `__m256`.
    F32x8, M32x8, f32, __m256, 8,
    set1: _mm256_set1_ps, zero: _mm256_setzero_ps, load: _mm256_loadu_ps,
    store: _mm256_storeu_ps, add: _mm256_add_ps, sub: _mm256_sub_ps, mul: _mm256_mul_ps,
    div: _mm256_div_ps, max: _mm256_max_ps, min: _mm256_min_ps, cmp: _mm256_cmp_ps,
    blend: _mm256_blendv_ps, or: _mm256_or_ps, and: _mm256_and_ps,
    movemask: _mm256_movemask_ps, fold: fold_f32
);
avx2_lane!(
    /// Four `f64` lanes in a `__m256d`.
    F64x4, M64x4, f64, __m256d, 4,
    set1: _mm256_set1_pd, zero: _mm256_setzero_pd, load: _mm256_loadu_pd,
    store: _mm256_storeu_pd, add: _mm256_add_pd, sub: _mm256_sub_pd, mul: _mm256_mul_pd,
    div: _mm256_div_pd, max: _mm256_max_pd, min: _mm256_min_pd, cmp: _mm256_cmp_pd,
    blend: _mm256_blendv_pd, or: _mm256_or_pd, and: _mm256_and_pd,
    movemask: _mm256_movemask_pd, fold: fold_f64
);
