//! The two [`Lanes`] types of the AVX2 steps of this folder: [`F32x8`]
//! over `__m256` and [`F64x4`] over `__m256d`. With the steps' entry
//! points, the only `std::arch` and `unsafe` code of the crate.
//!
//! Every `unsafe` block here calls AVX2 intrinsics (and loads or stores
//! through pointers into slices whose length was checked first). A value of
//! these types is made only inside the steps, functions compiled with
//! `#[target_feature(enable = "avx2")]` that their callers reach only after
//! `core_tensor::simd::has_avx2()`, and the methods are `#[inline(always)]`,
//! so the intrinsics run on a CPU with AVX2 and are compiled inside those
//! functions.

use std::arch::x86_64::*;
use std::mem::MaybeUninit;

use super::lane::Lanes;

/// Eight `f32` lanes.
#[derive(Clone, Copy)]
pub(super) struct F32x8(__m256);

/// Four `f64` lanes.
#[derive(Clone, Copy)]
pub(super) struct F64x4(__m256d);

impl Lanes for F32x8 {
    type Elem = f32;
    type Codes = __m256i;
    const N: usize = 8;

    #[inline(always)]
    fn zero() -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_setzero_ps() })
    }
    #[inline(always)]
    fn splat(v: f32) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_set1_ps(v) })
    }
    #[inline(always)]
    fn load(s: &[f32]) -> Self {
        let s = &s[..8];
        // SAFETY: `s` holds eight values; see the module docs.
        Self(unsafe { _mm256_loadu_ps(s.as_ptr()) })
    }
    #[inline(always)]
    fn store(self, s: &mut [f32]) {
        let s = &mut s[..8];
        // SAFETY: `s` holds eight values; see the module docs.
        unsafe { _mm256_storeu_ps(s.as_mut_ptr(), self.0) }
    }
    #[inline(always)]
    fn store_uninit(self, s: &mut [MaybeUninit<f32>]) {
        let s = &mut s[..8];
        // SAFETY: `s` holds eight values; see the module docs.
        unsafe { _mm256_storeu_ps(s.as_mut_ptr().cast(), self.0) }
    }

    #[inline(always)]
    fn add(self, o: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_add_ps(self.0, o.0) })
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_sub_ps(self.0, o.0) })
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_mul_ps(self.0, o.0) })
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_div_ps(self.0, o.0) })
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_max_ps(self.0, o.0) })
    }
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_and_ps(self.0, o.0) })
    }
    #[inline(always)]
    fn or(self, o: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_or_ps(self.0, o.0) })
    }
    #[inline(always)]
    fn unordered(a: Self, b: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_cmp_ps::<_CMP_UNORD_Q>(a.0, b.0) })
    }
    #[inline(always)]
    fn any_lane(self) -> bool {
        // SAFETY: see the module docs.
        unsafe { _mm256_movemask_ps(self.0) != 0 }
    }
    #[inline(always)]
    fn all_ordered(self) -> bool {
        // SAFETY: see the module docs.
        unsafe { _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_ORD_Q>(self.0, self.0)) == 0xFF }
    }

    #[inline(always)]
    fn even_odd(v0: Self, v1: Self) -> (Self, Self) {
        // SAFETY: see the module docs.
        unsafe {
            (
                Self(_mm256_shuffle_ps::<0x88>(v0.0, v1.0)),
                Self(_mm256_shuffle_ps::<0xDD>(v0.0, v1.0)),
            )
        }
    }
    #[inline(always)]
    fn window_order(self) -> Self {
        // The 64-bit pairs 0, 2, 1, 3 back to 0..4.
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(_mm256_castps_pd(self.0))) })
    }
    #[inline(always)]
    fn interleave(a: Self, b: Self) -> (Self, Self) {
        // SAFETY: see the module docs.
        unsafe {
            let (lo, hi) = (_mm256_unpacklo_ps(a.0, b.0), _mm256_unpackhi_ps(a.0, b.0));
            (
                Self(_mm256_permute2f128_ps::<0x20>(lo, hi)),
                Self(_mm256_permute2f128_ps::<0x31>(lo, hi)),
            )
        }
    }
    #[inline(always)]
    fn taps3(w: &[f32]) -> ([Self; 3], Self) {
        let w = &w[..17];
        // SAFETY: `w` holds 17 values: the loads at 0, 8, 2 and 9 read
        // eight each, within it; see the module docs.
        unsafe {
            let (v0, v1) = (
                _mm256_loadu_ps(w.as_ptr()),
                _mm256_loadu_ps(w.as_ptr().add(8)),
            );
            let (u0, u1) = (
                _mm256_loadu_ps(w.as_ptr().add(2)),
                _mm256_loadu_ps(w.as_ptr().add(9)),
            );
            let taps = [
                Self(_mm256_shuffle_ps::<0x88>(v0, v1)),
                Self(_mm256_shuffle_ps::<0xDD>(v0, v1)),
                // `w[2i + 2]`: windows 0 to 3 from `u0` (at `w[2]`), 4 to
                // 7 from `u1` (at `w[9]`), in the same lane order.
                Self(_mm256_shuffle_ps::<0xD8>(u0, u1)),
            ];
            (taps, Self(_mm256_add_ps(v0, v1)))
        }
    }

    #[inline(always)]
    fn code(k: u8) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_castsi256_ps(_mm256_set1_epi32(i32::from(k))) })
    }
    #[inline(always)]
    fn take(m: &mut Self, c: &mut Self, v: Self, code: Self) {
        // SAFETY: see the module docs.
        unsafe {
            let larger = _mm256_cmp_ps::<_CMP_GT_OQ>(v.0, m.0);
            m.0 = _mm256_max_ps(v.0, m.0);
            c.0 = _mm256_blendv_ps(c.0, code.0, larger);
        }
    }
    #[inline(always)]
    fn store_codes(self, out: &mut [u8]) {
        let out = &mut out[..8];
        // Byte 0 of each code, lanes 0, 1, 4, 5 | 2, 3, 6, 7, to bytes 0, 1,
        // 4, 5 of the low half and 2, 3, 6, 7 of the high half; or-ing the
        // halves gives the eight codes in order.
        let z = -128i8;
        // SAFETY: `out` holds eight bytes; the store writes the low eight
        // of `bytes`; see the module docs.
        unsafe {
            #[rustfmt::skip]
            let gather = _mm256_setr_epi8(
                0, 4, z, z, 8, 12, z, z, z, z, z, z, z, z, z, z,
                z, z, 0, 4, z, z, 8, 12, z, z, z, z, z, z, z, z,
            );
            let bytes = _mm256_shuffle_epi8(_mm256_castps_si256(self.0), gather);
            let bytes = _mm_or_si128(
                _mm256_castsi256_si128(bytes),
                _mm256_extracti128_si256::<1>(bytes),
            );
            _mm_storel_epi64(out.as_mut_ptr().cast(), bytes);
        }
    }
    #[inline(always)]
    fn load_codes(c: &[u8]) -> __m256i {
        let c = &c[..8];
        // SAFETY: `c` holds eight bytes, which the load reads; see the
        // module docs.
        unsafe { _mm256_cvtepu8_epi32(_mm_loadl_epi64(c.as_ptr().cast())) }
    }
    #[inline(always)]
    fn code_mask(c: __m256i, k: u8) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_castsi256_ps(_mm256_cmpeq_epi32(c, _mm256_set1_epi32(i32::from(k)))) })
    }
}

impl Lanes for F64x4 {
    type Elem = f64;
    type Codes = __m256i;
    const N: usize = 4;

    #[inline(always)]
    fn zero() -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_setzero_pd() })
    }
    #[inline(always)]
    fn splat(v: f64) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_set1_pd(v) })
    }
    #[inline(always)]
    fn load(s: &[f64]) -> Self {
        let s = &s[..4];
        // SAFETY: `s` holds four values; see the module docs.
        Self(unsafe { _mm256_loadu_pd(s.as_ptr()) })
    }
    #[inline(always)]
    fn store(self, s: &mut [f64]) {
        let s = &mut s[..4];
        // SAFETY: `s` holds four values; see the module docs.
        unsafe { _mm256_storeu_pd(s.as_mut_ptr(), self.0) }
    }
    #[inline(always)]
    fn store_uninit(self, s: &mut [MaybeUninit<f64>]) {
        let s = &mut s[..4];
        // SAFETY: `s` holds four values; see the module docs.
        unsafe { _mm256_storeu_pd(s.as_mut_ptr().cast(), self.0) }
    }

    #[inline(always)]
    fn add(self, o: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_add_pd(self.0, o.0) })
    }
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_sub_pd(self.0, o.0) })
    }
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_mul_pd(self.0, o.0) })
    }
    #[inline(always)]
    fn div(self, o: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_div_pd(self.0, o.0) })
    }
    #[inline(always)]
    fn max(self, o: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_max_pd(self.0, o.0) })
    }
    #[inline(always)]
    fn and(self, o: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_and_pd(self.0, o.0) })
    }
    #[inline(always)]
    fn or(self, o: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_or_pd(self.0, o.0) })
    }
    #[inline(always)]
    fn unordered(a: Self, b: Self) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_cmp_pd::<_CMP_UNORD_Q>(a.0, b.0) })
    }
    #[inline(always)]
    fn any_lane(self) -> bool {
        // SAFETY: see the module docs.
        unsafe { _mm256_movemask_pd(self.0) != 0 }
    }
    #[inline(always)]
    fn all_ordered(self) -> bool {
        // SAFETY: see the module docs.
        unsafe { _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_ORD_Q>(self.0, self.0)) == 0xF }
    }

    #[inline(always)]
    fn even_odd(v0: Self, v1: Self) -> (Self, Self) {
        // SAFETY: see the module docs.
        unsafe {
            (
                Self(_mm256_unpacklo_pd(v0.0, v1.0)),
                Self(_mm256_unpackhi_pd(v0.0, v1.0)),
            )
        }
    }
    #[inline(always)]
    fn window_order(self) -> Self {
        // Lanes 0, 2, 1, 3 back to 0..4.
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_permute4x64_pd::<0xD8>(self.0) })
    }
    #[inline(always)]
    fn interleave(a: Self, b: Self) -> (Self, Self) {
        // SAFETY: see the module docs.
        unsafe {
            let (lo, hi) = (_mm256_unpacklo_pd(a.0, b.0), _mm256_unpackhi_pd(a.0, b.0));
            (
                Self(_mm256_permute2f128_pd::<0x20>(lo, hi)),
                Self(_mm256_permute2f128_pd::<0x31>(lo, hi)),
            )
        }
    }
    #[inline(always)]
    fn taps3(w: &[f64]) -> ([Self; 3], Self) {
        let w = &w[..9];
        // SAFETY: `w` holds nine values: the loads at 0, 4, 2 and 5 read
        // four each, within it; see the module docs.
        unsafe {
            let (v0, v1) = (
                _mm256_loadu_pd(w.as_ptr()),
                _mm256_loadu_pd(w.as_ptr().add(4)),
            );
            let (u0, u1) = (
                _mm256_loadu_pd(w.as_ptr().add(2)),
                _mm256_loadu_pd(w.as_ptr().add(5)),
            );
            let taps = [
                Self(_mm256_unpacklo_pd(v0, v1)),
                Self(_mm256_unpackhi_pd(v0, v1)),
                // Positions 2i + 2: lanes 0, 2 of `u0` and 1, 3 of `u1`.
                Self(_mm256_shuffle_pd::<0b1010>(u0, u1)),
            ];
            (taps, Self(_mm256_add_pd(v0, v1)))
        }
    }

    #[inline(always)]
    fn code(k: u8) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe { _mm256_castsi256_pd(_mm256_set1_epi64x(i64::from(k))) })
    }
    #[inline(always)]
    fn take(m: &mut Self, c: &mut Self, v: Self, code: Self) {
        // SAFETY: see the module docs.
        unsafe {
            let larger = _mm256_cmp_pd::<_CMP_GT_OQ>(v.0, m.0);
            m.0 = _mm256_max_pd(v.0, m.0);
            c.0 = _mm256_blendv_pd(c.0, code.0, larger);
        }
    }
    #[inline(always)]
    fn store_codes(self, out: &mut [u8]) {
        // Byte 0 of each code, lanes 0, 2 | 1, 3, to bytes 0, 2 of the low
        // half and 1, 3 of the high half.
        let z = -128i8;
        // SAFETY: see the module docs.
        let bytes = unsafe {
            #[rustfmt::skip]
            let gather = _mm256_setr_epi8(
                0, z, 8, z, z, z, z, z, z, z, z, z, z, z, z, z,
                z, 0, z, 8, z, z, z, z, z, z, z, z, z, z, z, z,
            );
            let bytes = _mm256_shuffle_epi8(_mm256_castpd_si256(self.0), gather);
            _mm_cvtsi128_si32(_mm_or_si128(
                _mm256_castsi256_si128(bytes),
                _mm256_extracti128_si256::<1>(bytes),
            ))
        };
        out[..4].copy_from_slice(&bytes.to_le_bytes());
    }
    #[inline(always)]
    fn load_codes(c: &[u8]) -> __m256i {
        let c = &c[..4];
        let four = i32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        // SAFETY: see the module docs.
        unsafe { _mm256_cvtepu8_epi64(_mm_cvtsi32_si128(four)) }
    }
    #[inline(always)]
    fn code_mask(c: __m256i, k: u8) -> Self {
        // SAFETY: see the module docs.
        Self(unsafe {
            _mm256_castsi256_pd(_mm256_cmpeq_epi64(c, _mm256_set1_epi64x(i64::from(k))))
        })
    }
}
