//! The vector type the AVX2 steps of this folder are written over, so that
//! each step body exists once for `f32` and `f64`.

use std::mem::MaybeUninit;

use core_tensor::Float;

/// One 256-bit AVX2 register of [`Lanes::N`] elements (eight `f32` or four
/// `f64`) with the operations the pooling steps are made of. Each step of
/// [`super::pairs`], [`super::max_3_s2`] and [`super::spread_3x3_s2`] is
/// one function generic over this trait, compiled for AVX2 and instantiated
/// for the two implementations in `super::avx2`; every method is
/// `#[inline(always)]` and one or a few fixed instructions, so an
/// instantiation is the code a hand-written `f32` or `f64` step would be.
///
/// A local trait rather than an extension of [`core_tensor::simd::Lane`]:
/// core-tensor keeps its AVX2 lane types private (only its `dispatch` hands
/// them out), and most operations here are specific to stride-2 windows
/// (even/odd splits that leave lanes in an in-lane order, window codes
/// narrowed to bytes) with no portable counterpart: the portable path of
/// these steps is their callers' scalar loops.
///
/// Values exist only inside functions compiled for AVX2 (the steps), which
/// is what makes the intrinsics in the implementations sound to call.
pub(super) trait Lanes: Copy {
    /// The element type (`f32` or `f64`).
    type Elem: Float;
    /// Window codes widened to one integer per lane (see
    /// [`Lanes::load_codes`]).
    type Codes: Copy;
    /// Number of lanes.
    const N: usize;

    /// Every lane `+0.0`.
    fn zero() -> Self;
    /// Every lane `v`.
    fn splat(v: Self::Elem) -> Self;
    /// Lane `k` from `s[k]`, for the first [`Lanes::N`] elements.
    ///
    /// # Panics
    /// If `s` is shorter than [`Lanes::N`].
    fn load(s: &[Self::Elem]) -> Self;
    /// Lane `k` to `s[k]`, for the first [`Lanes::N`] elements.
    ///
    /// # Panics
    /// If `s` is shorter than [`Lanes::N`].
    fn store(self, s: &mut [Self::Elem]);
    /// [`Lanes::store`] into memory not yet initialized.
    ///
    /// # Panics
    /// If `s` is shorter than [`Lanes::N`].
    fn store_uninit(self, s: &mut [MaybeUninit<Self::Elem>]);

    /// Lane-wise `self + o`.
    fn add(self, o: Self) -> Self;
    /// Lane-wise `self - o`.
    fn sub(self, o: Self) -> Self;
    /// Lane-wise `self · o`.
    fn mul(self, o: Self) -> Self;
    /// Lane-wise `self / o`.
    fn div(self, o: Self) -> Self;
    /// Lane-wise `if self > o { self } else { o }` (x86 `max`: `o` on ties,
    /// `-0.0` against `0.0` included, and when either is NaN).
    fn max(self, o: Self) -> Self;
    /// Bitwise `self & o` (with a mask of all-ones or all-zeros lanes:
    /// `self` or `+0.0`).
    fn and(self, o: Self) -> Self;
    /// Bitwise `self | o` (for masks).
    fn or(self, o: Self) -> Self;
    /// All ones in the lanes where `a` or `b` is NaN, zeros elsewhere.
    fn unordered(a: Self, b: Self) -> Self;
    /// Whether any lane of the mask `self` is set.
    fn any_lane(self) -> bool;
    /// Whether no lane of `self` is NaN.
    fn all_ordered(self) -> bool;

    /// The even- and the odd-position values of the `2N` values `v0`, `v1`,
    /// split with in-lane shuffles: value pairs in the lane order 0, 1, 4,
    /// 5, 2, 3, 6, 7 (`f32`) or 0, 2, 1, 3 (`f64`), which
    /// [`Lanes::window_order`] restores.
    fn even_odd(v0: Self, v1: Self) -> (Self, Self);
    /// The lanes of `self` from the order of [`Lanes::even_odd`] back to
    /// `0..N` (one cross-lane permute).
    fn window_order(self) -> Self;
    /// The lanes of `a` and `b` alternated, in order, over two vectors
    /// (`a0 b0 a1 b1 ...`).
    fn interleave(a: Self, b: Self) -> (Self, Self);
    /// Taps 0, 1 and 2 of the `N` windows of 3 taps at stride 2 that start
    /// at `w[0]` (`w[2i]`, `w[2i+1]`, `w[2i+2]` for window `i`), windows in
    /// the order of [`Lanes::even_odd`], and the lane-wise sum of
    /// `w[..2N]`'s two vectors (for a finiteness check).
    ///
    /// # Panics
    /// If `w` is shorter than `2N + 1`.
    fn taps3(w: &[Self::Elem]) -> ([Self; 3], Self);

    /// The window code `k` in every lane, as an integer of the lane's
    /// width (a bit pattern, not the number `k`).
    fn code(k: u8) -> Self;
    /// `(m, c) <- (v, code)` in the lanes where `v > m`: the tap-ordered
    /// update of a running maximum and its code (ties keep `m`).
    fn take(m: &mut Self, c: &mut Self, v: Self, code: Self);
    /// Writes the codes of `N` windows (one per lane of `self`, lanes in
    /// the order of [`Lanes::even_odd`]) as bytes, in window order, to
    /// `out[..N]`.
    ///
    /// # Panics
    /// If `out` is shorter than [`Lanes::N`].
    fn store_codes(self, out: &mut [u8]);
    /// The byte codes `c[..N]`, one per lane.
    ///
    /// # Panics
    /// If `c` is shorter than [`Lanes::N`].
    fn load_codes(c: &[u8]) -> Self::Codes;
    /// All ones in the lanes whose code in `c` is `k`, zeros elsewhere.
    fn code_mask(c: Self::Codes, k: u8) -> Self;
}

/// The starts of the `V::N`-wide steps covering `lo..end` (`end - lo >=
/// V::N`), a last one overlapping the one before for a remainder: what
/// [`core_tensor::simd::step_starts`] gives, for a width that is an
/// associated constant (which a const generic argument cannot name).
#[inline(always)]
pub(super) fn step_starts<V: Lanes>(lo: usize, end: usize) -> impl Iterator<Item = usize> {
    debug_assert!(
        end >= lo + V::N,
        "a step of {} does not fit in {lo}..{end}",
        V::N
    );
    (lo..end).step_by(V::N).map(move |i| i.min(end - V::N))
}
