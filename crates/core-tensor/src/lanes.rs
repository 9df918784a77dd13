//! Sums over a slice held in registers as four vectors of independent
//! lanes (32 `f32` or 16 `f64`, four 256-bit vectors either way), in the
//! element type: the reductions inside the normalization statistics and
//! backward passes, and the window sums of global average pooling.
//!
//! One accumulator vector would make every step wait for the previous add
//! (three to four cycles); four keep the adder busy while the slice is in
//! L1. The compiler's auto-vectorizer does not reliably turn a lane array
//! into full 256-bit registers, so the loops are [`Kernel`]s over a
//! [`Lane`] type, run by [`dispatch`] on AVX2 registers where the CPU has
//! them and on portable arrays elsewhere, with the same operations in the
//! same order: both give bitwise the same results.
//!
//! Order of a sum over `L` lanes (`L/4` per vector): element `i` of each
//! `L`-chunk goes to lane `i`; of the `< L` trailing elements, those that
//! fill whole vectors go to the lanes they would take in a full chunk; the
//! lanes are then folded by halves (lane `k` plus lane `k + L/2`, down to
//! one), and the last `< L/4` elements are added to that one by one.

use crate::Float;
use crate::simd::{Kernel, Lane, dispatch};

/// The single-slice reductions of this module.
#[derive(Clone, Copy)]
enum Reduction {
    /// `Σ (x − c)`.
    Sum,
    /// `Σ (x − c)²`.
    SqDev,
}

impl Reduction {
    /// The accumulator `a` after the terms of the lanes `v`.
    #[inline(always)]
    fn step<V: Lane>(self, a: V, v: V, c: V) -> V {
        let d = v.sub(c);
        match self {
            Reduction::Sum => a.add(d),
            Reduction::SqDev => a.add(d.mul(d)),
        }
    }

    /// The term of one element.
    #[inline(always)]
    fn term<F: Float>(self, v: F, c: F) -> F {
        match self {
            Reduction::Sum => v - c,
            Reduction::SqDev => (v - c) * (v - c),
        }
    }
}

/// `Σ (x − shift)` over independent lanes; see the module docs for the order.
#[inline(always)]
pub fn lane_sum<F: Float>(x: &[F], shift: F) -> F {
    dispatch(Unary {
        op: Reduction::Sum,
        x,
        c: shift,
    })
}

/// [`lane_sum`] on the lanes `V` of a [`Kernel`] already running (no
/// dispatch of its own): for kernels that sum many short slices, such as
/// the planes of a global average pooling, and pay the dispatch once.
///
/// ```
/// use core_tensor::simd::{Kernel, Lane, dispatch};
///
/// /// The sum of each row of `width` elements.
/// struct RowSums<'a>(&'a [f32], usize);
///
/// impl Kernel<f32> for RowSums<'_> {
///     type Output = Vec<f32>;
///     #[inline(always)]
///     fn run<V: Lane<Elem = f32>>(self) -> Vec<f32> {
///         let (x, w) = (self.0, self.1);
///         x.chunks(w).map(|r| core_tensor::lanes::lane_sum_on::<V>(r, 0.0)).collect()
///     }
/// }
///
/// let x: Vec<f32> = (0..98).map(|i| i as f32).collect();
/// assert_eq!(dispatch(RowSums(&x, 49)), [1176.0, 3577.0]);
/// ```
#[inline(always)]
pub fn lane_sum_on<V: Lane>(x: &[V::Elem], shift: V::Elem) -> V::Elem
where
    V::Elem: Float,
{
    Unary {
        op: Reduction::Sum,
        x,
        c: shift,
    }
    .run::<V>()
}

/// `Σ (x − mean)²` over independent lanes (the second pass of the two-pass
/// variance).
#[inline(always)]
pub fn lane_sq_dev<F: Float>(x: &[F], mean: F) -> F {
    dispatch(Unary {
        op: Reduction::SqDev,
        x,
        c: mean,
    })
}

/// Folds four accumulator vectors as one set of `4·N` lanes by halves:
/// `(a0 + a2) + (a1 + a3)`, then within the vector.
#[inline(always)]
fn fold4<V: Lane>(a: [V; 4]) -> V::Elem {
    a[0].add(a[2]).add(a[1].add(a[3])).sum_halves()
}

/// A reduction of one slice: `Σ term(x, c)`.
struct Unary<'a, F> {
    op: Reduction,
    x: &'a [F],
    c: F,
}

impl<F: Float> Kernel<F> for Unary<'_, F> {
    type Output = F;

    #[inline(always)]
    fn run<V: Lane<Elem = F>>(self) -> F {
        let Unary { op, x, c } = self;
        let cv = V::splat(c);
        let mut acc = [V::zero(); 4];
        let chunks = x.chunks_exact(4 * V::N);
        let rest = chunks.remainder();
        for ch in chunks {
            for (j, a) in acc.iter_mut().enumerate() {
                *a = op.step(*a, V::load(&ch[j * V::N..]), cv);
            }
        }
        // Whole vectors of the rest go to the first accumulators.
        let whole = rest.len() / V::N;
        for (j, a) in acc.iter_mut().enumerate().take(whole) {
            *a = op.step(*a, V::load(&rest[j * V::N..]), cv);
        }
        rest[whole * V::N..]
            .iter()
            .fold(fold4(acc), |s, &v| s + op.term(v, c))
    }
}

/// `(Σ g, Σ g·(x − mean))` in one pass over both slices (the shorter
/// length is used).
#[inline(always)]
pub fn lane_g_gdev<F: Float>(x: &[F], g: &[F], mean: F) -> (F, F) {
    let n = x.len().min(g.len());
    dispatch(Binary {
        x: &x[..n],
        g: &g[..n],
        w: None,
        mean,
    })
}

/// `(Σ w·g, Σ w·g·(x − mean))` in one pass over the three slices (the
/// shortest length is used).
#[inline(always)]
pub fn lane_weighted<F: Float>(x: &[F], g: &[F], w: &[F], mean: F) -> (F, F) {
    let n = x.len().min(g.len()).min(w.len());
    dispatch(Binary {
        x: &x[..n],
        g: &g[..n],
        w: Some(&w[..n]),
        mean,
    })
}

/// `(Σ h, Σ h·(x − mean))` with `h = w·g` (or `g` without `w`); the slices
/// have equal lengths.
struct Binary<'a, F> {
    x: &'a [F],
    g: &'a [F],
    w: Option<&'a [F]>,
    mean: F,
}

impl<F: Float> Kernel<F> for Binary<'_, F> {
    type Output = (F, F);

    #[inline(always)]
    fn run<V: Lane<Elem = F>>(self) -> (F, F) {
        let Binary { x, g, w, mean } = self;
        let mv = V::splat(mean);
        let (mut a, mut b) = ([V::zero(); 4], [V::zero(); 4]);
        // Whole steps, then the whole vectors of the rest into the first
        // accumulators.
        let full = x.len() - x.len() % V::N;
        for base in (0..full).step_by(4 * V::N) {
            for j in 0..4.min((full - base) / V::N) {
                let at = base + j * V::N;
                let gv = V::load(&g[at..]);
                let h = match w {
                    Some(w) => V::load(&w[at..]).mul(gv),
                    None => gv,
                };
                a[j] = a[j].add(h);
                b[j] = b[j].add(h.mul(V::load(&x[at..]).sub(mv)));
            }
        }
        (full..x.len()).fold((fold4(a), fold4(b)), |(sa, sb), i| {
            let h = w.map_or(g[i], |w| w[i] * g[i]);
            (sa + h, sb + h * (x[i] - mean))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::run_portable;

    fn data(n: usize, offset: f64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let x = (0..n).map(|i| offset + (i as f64 * 0.37).sin()).collect();
        let g = (0..n).map(|i| (i as f64 * 0.11).cos()).collect();
        let w = (0..n).map(|i| 0.5 + (i % 7) as f64 * 0.25).collect();
        (x, g, w)
    }

    #[test]
    fn sums_match_plain_loops() {
        let x: Vec<f32> = (0..29).map(|i| i as f32 * 0.5 - 3.0).collect();
        let g: Vec<f32> = (0..29).map(|i| (i % 5) as f32 - 2.0).collect();
        assert_eq!(lane_sum(&x, 0.0), x.iter().sum::<f32>());
        assert_eq!(lane_sum(&x, 1.0), x.iter().map(|v| v - 1.0).sum::<f32>());
        let (a, b) = lane_g_gdev(&x, &g, 1.5);
        assert_eq!(a, g.iter().sum::<f32>());
        let want: f32 = x.iter().zip(&g).map(|(&x, &g)| g * (x - 1.5)).sum();
        assert!((b - want).abs() < 1e-4);
        let (c, d) = lane_weighted(&x, &g, &x, 0.0);
        assert!((c - x.iter().zip(&g).map(|(a, b)| a * b).sum::<f32>()).abs() < 1e-4);
        assert!((d - x.iter().zip(&g).map(|(a, b)| a * a * b).sum::<f32>()).abs() < 1e-2);
        let sq: f32 = x.iter().map(|v| (v - 2.0) * (v - 2.0)).sum();
        assert!((lane_sq_dev(&x, 2.0) - sq).abs() < 1e-3);
    }

    /// The documented order spelled out on one array of `L` lanes (32 for
    /// `f32`, 16 for `f64`): the reference the lane kernels must match.
    fn reference_unary<F: Float, const L: usize>(op: Reduction, x: &[F], c: F) -> F {
        let mut acc = [F::zero(); L];
        let chunks = x.chunks_exact(L);
        let rest = chunks.remainder();
        for ch in chunks {
            for k in 0..L {
                acc[k] += op.term(ch[k], c);
            }
        }
        let whole = rest.len() - rest.len() % (L / 4);
        for k in 0..whole {
            acc[k] += op.term(rest[k], c);
        }
        rest[whole..]
            .iter()
            .fold(fold_halves(acc), |s, &v| s + op.term(v, c))
    }

    /// [`reference_unary`] for the two-slice sums.
    fn reference_binary<F: Float, const L: usize>(
        x: &[F],
        g: &[F],
        w: Option<&[F]>,
        mean: F,
    ) -> (F, F) {
        let h = |i: usize| w.map_or(g[i], |w| w[i] * g[i]);
        let (mut a, mut b) = ([F::zero(); L], [F::zero(); L]);
        let full = x.len() - x.len() % L;
        let whole = full + (x.len() - full) - (x.len() - full) % (L / 4);
        for base in (0..whole).step_by(L) {
            for k in 0..L.min(whole - base) {
                let hv = h(base + k);
                a[k] += hv;
                b[k] += hv * (x[base + k] - mean);
            }
        }
        (whole..x.len()).fold((fold_halves(a), fold_halves(b)), |(sa, sb), i| {
            (sa + h(i), sb + h(i) * (x[i] - mean))
        })
    }

    fn fold_halves<F: Float, const L: usize>(mut a: [F; L]) -> F {
        let mut w = L;
        while w > 1 {
            w /= 2;
            for k in 0..w {
                a[k] += a[k + w];
            }
        }
        a[0]
    }

    /// The dispatched (AVX2 where the CPU has it) and the portable runs of
    /// the kernels give bitwise the results of the reference order, for
    /// every remainder length.
    #[test]
    fn dispatched_and_portable_runs_match_the_reference_bitwise() {
        for n in [
            0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 40, 49, 56, 64, 95, 1000, 1003,
        ] {
            let (x, g, w) = data(n, 1e4);
            let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
            let g32: Vec<f32> = g.iter().map(|&v| v as f32).collect();
            let w32: Vec<f32> = w.iter().map(|&v| v as f32).collect();
            for op in [Reduction::Sum, Reduction::SqDev] {
                let (c, c32) = (1e4 + 0.25, 1e4f32 + 0.25);
                let want = reference_unary::<f64, 16>(op, &x, c).to_bits();
                assert_eq!(dispatch(Unary { op, x: &x, c }).to_bits(), want);
                assert_eq!(run_portable(Unary { op, x: &x, c }).to_bits(), want);
                let want = reference_unary::<f32, 32>(op, &x32, c32).to_bits();
                let k = || Unary {
                    op,
                    x: &x32,
                    c: c32,
                };
                assert_eq!(dispatch(k()).to_bits(), want);
                assert_eq!(run_portable(k()).to_bits(), want);
            }
            let bits64 = |(a, b): (f64, f64)| (a.to_bits(), b.to_bits());
            let bits32 = |(a, b): (f32, f32)| (a.to_bits(), b.to_bits());
            for wo in [None, Some(&w[..])] {
                let want = bits64(reference_binary::<f64, 16>(&x, &g, wo, 1e4));
                let k = || Binary {
                    x: &x,
                    g: &g,
                    w: wo,
                    mean: 1e4,
                };
                assert_eq!(bits64(dispatch(k())), want);
                assert_eq!(bits64(run_portable(k())), want);
            }
            for wo in [None, Some(&w32[..])] {
                let want = bits32(reference_binary::<f32, 32>(&x32, &g32, wo, 1e4));
                let k = || Binary {
                    x: &x32,
                    g: &g32,
                    w: wo,
                    mean: 1e4,
                };
                assert_eq!(bits32(dispatch(k())), want);
                assert_eq!(bits32(run_portable(k())), want);
            }
        }
    }

    #[test]
    fn lane_order_is_the_documented_fold() {
        // 2^24 then 63 ones, in f32, where 2^24 + 1 rounds back to 2^24 but
        // 2^24 + 2 is exact. Left to right, every 1 is lost. In lanes, lane 0
        // holds 2^24 (its one 1, x[32], is lost), lanes 1..31 hold 2 each,
        // and the folds add even numbers to 2^24 exactly: 2^24 + 62.
        let mut x = vec![1.0f32; 64];
        x[0] = 16_777_216.0;
        let s = lane_sum(&x, 0.0);
        let plain = x.iter().sum::<f32>();
        assert_eq!(plain, 16_777_216.0);
        assert_eq!(s, 16_777_216.0 + 62.0);
    }

    #[test]
    fn trailing_whole_vectors_go_to_their_lanes_before_the_fold() {
        // 40 values: one 32-chunk and one whole vector of 8. x[32] joins
        // lane 0 (2^24 + 1 rounds back to 2^24) and x[33] joins lane 1
        // (1 + 1 = 2), so the fold gives 2^24 + 2. Added one by one after
        // the fold, both ones would be lost: 2^24.
        let mut x = vec![0.0f32; 40];
        x[0] = 16_777_216.0;
        x[1] = 1.0;
        x[32] = 1.0;
        x[33] = 1.0;
        assert_eq!(lane_sum(&x, 0.0), 16_777_216.0 + 2.0);
        assert_eq!(
            reference_unary::<f32, 32>(Reduction::Sum, &x, 0.0),
            16_777_216.0 + 2.0
        );
        let plain = x.iter().sum::<f32>();
        assert_eq!(plain, 16_777_216.0);
        // The same rule in the two-slice sums: g = x, weights of one.
        let ones = vec![1.0f32; 40];
        assert_eq!(lane_g_gdev(&ones, &x, 0.0).0, 16_777_216.0 + 2.0);
        assert_eq!(lane_weighted(&ones, &x, &ones, 0.0).0, 16_777_216.0 + 2.0);
    }
}
