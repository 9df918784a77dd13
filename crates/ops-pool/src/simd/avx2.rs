//! AVX2 helpers shared by the step kernels of this folder: lane orders,
//! code vectors, the tap-ordered running-max update and the narrowing of
//! codes to bytes.

use std::arch::x86_64::*;

/// The lanes of `p` from the order 0, 1, 4, 5, 2, 3, 6, 7 (of the
/// even/odd split of `pairs`) back to 0..8.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn order_ps(p: __m256) -> __m256 {
    _mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(_mm256_castps_pd(p)))
}

/// The window code `k` in every lane.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn code_ps(k: i32) -> __m256 {
    _mm256_castsi256_ps(_mm256_set1_epi32(k))
}

/// The lanes of `a` and `b` alternated, in order, over two vectors.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn interleave_ps(a: __m256, b: __m256) -> (__m256, __m256) {
    let (lo, hi) = (_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
    (
        _mm256_permute2f128_ps::<0x20>(lo, hi),
        _mm256_permute2f128_ps::<0x31>(lo, hi),
    )
}

/// [`code_ps`] for `f64`.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn code_pd(k: i64) -> __m256d {
    _mm256_castsi256_pd(_mm256_set1_epi64x(k))
}

/// [`order_ps`] for `f64` (from the lane order 0, 2, 1, 3).
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn order_pd(p: __m256d) -> __m256d {
    _mm256_permute4x64_pd::<0xD8>(p)
}

/// [`interleave_ps`] for `f64`.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn interleave_pd(a: __m256d, b: __m256d) -> (__m256d, __m256d) {
    let (lo, hi) = (_mm256_unpacklo_pd(a, b), _mm256_unpackhi_pd(a, b));
    (
        _mm256_permute2f128_pd::<0x20>(lo, hi),
        _mm256_permute2f128_pd::<0x31>(lo, hi),
    )
}

/// `(m, c) <- (v, code)` in the lanes where `v > m` (the running
/// maximum and its code; ties keep `m`).
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn take_ps(m: &mut __m256, c: &mut __m256, v: __m256, code: __m256) {
    let larger = _mm256_cmp_ps::<_CMP_GT_OQ>(v, *m);
    *m = _mm256_max_ps(v, *m);
    *c = _mm256_blendv_ps(*c, code, larger);
}

/// [`take_ps`] for `f64`.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn take_pd(m: &mut __m256d, c: &mut __m256d, v: __m256d, code: __m256d) {
    let larger = _mm256_cmp_pd::<_CMP_GT_OQ>(v, *m);
    *m = _mm256_max_pd(v, *m);
    *c = _mm256_blendv_pd(*c, code, larger);
}

/// Stores the codes of eight windows (one per 32-bit lane of `c`, lanes
/// in the order 0, 1, 4, 5, 2, 3, 6, 7) as bytes, in window order, to
/// `out[..8]`.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn store_codes_ps(c: __m256, out: &mut [u8]) {
    // Byte 0 of each code, lanes 0, 1, 4, 5 | 2, 3, 6, 7, to bytes 0, 1,
    // 4, 5 of the low half and 2, 3, 6, 7 of the high half; or-ing the
    // halves gives the eight codes in order.
    let z = -128i8;
    #[rustfmt::skip]
    let gather = _mm256_setr_epi8(
        0, 4, z, z, 8, 12, z, z, z, z, z, z, z, z, z, z,
        z, z, 0, 4, z, z, 8, 12, z, z, z, z, z, z, z, z,
    );
    let bytes = _mm256_shuffle_epi8(_mm256_castps_si256(c), gather);
    let bytes = _mm_or_si128(
        _mm256_castsi256_si128(bytes),
        _mm256_extracti128_si256::<1>(bytes),
    );
    let out = &mut out[..8];
    // SAFETY: `out` holds eight bytes; the store writes the low eight.
    unsafe { _mm_storel_epi64(out.as_mut_ptr().cast(), bytes) };
}

/// [`store_codes_ps`] for four windows (64-bit lanes in the order 0, 2,
/// 1, 3), to `out[..4]`.
#[inline]
#[target_feature(enable = "avx2")]
pub(super) fn store_codes_pd(c: __m256d, out: &mut [u8]) {
    // Byte 0 of each code, lanes 0, 2 | 1, 3, to bytes 0, 2 of the low
    // half and 1, 3 of the high half.
    let z = -128i8;
    #[rustfmt::skip]
    let gather = _mm256_setr_epi8(
        0, z, 8, z, z, z, z, z, z, z, z, z, z, z, z, z,
        z, 0, z, 8, z, z, z, z, z, z, z, z, z, z, z, z,
    );
    let bytes = _mm256_shuffle_epi8(_mm256_castpd_si256(c), gather);
    let bytes = _mm_or_si128(
        _mm256_castsi256_si128(bytes),
        _mm256_extracti128_si256::<1>(bytes),
    );
    out[..4].copy_from_slice(&_mm_cvtsi128_si32(bytes).to_le_bytes());
}
