//! Pure normalization kernels over contiguous row-major slices, with an
//! explicit [`Par`](core_tensor::Par). They know nothing of the graph and
//! can be used (and tested) on plain buffers.
//!
//! Two layouts cover the whole family:
//!
//! - [`channel`]: statistics per channel of an `N, C, S` buffer (batch norm;
//!   instance norm in eval with running statistics), taken over `N·S`
//!   elements that are not contiguous;
//! - [`row`]: statistics per contiguous row of an `R, L` buffer (layer, group,
//!   instance and RMS norm), with a per-element or per-segment affine map.
//!
//! Statistics are accumulated in `f64` whatever the element type, with the
//! two-pass algorithm (mean, then the sum of squared deviations from it) and
//! Chan's pairwise merge across blocks; never `E[x²] − E[x]²`.

pub mod channel;
pub mod row;

use core_tensor::{Float, Par};
use rayon::prelude::*;

/// Elements of work a parallel task should get at least (so that small
/// tensors are not split into tasks that cost more than they do).
pub(crate) const TASK_ELEMS: usize = 1 << 14;

/// Count, mean and sum of squared deviations (`M2`) of a set of values,
/// in `f64`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Moments {
    /// Number of values.
    pub count: usize,
    /// Their mean (0 when `count` is 0).
    pub mean: f64,
    /// `Σ (x − mean)²`.
    pub m2: f64,
}

impl Moments {
    /// No values.
    pub const EMPTY: Moments = Moments {
        count: 0,
        mean: 0.0,
        m2: 0.0,
    };

    /// Two-pass moments of a slice: the mean, then the squared deviations
    /// from it, both summed in `f64`.
    pub fn of<F: Float>(x: &[F]) -> Moments {
        if x.is_empty() {
            return Moments::EMPTY;
        }
        let mean = sum_f64(x) / x.len() as f64;
        Moments {
            count: x.len(),
            mean,
            m2: sum_sq_dev(x, mean),
        }
    }

    /// Chan et al.'s pairwise merge: the moments of the union of two sets.
    pub fn merge(self, other: Moments) -> Moments {
        if other.count == 0 {
            return self;
        }
        if self.count == 0 {
            return other;
        }
        let n = (self.count + other.count) as f64;
        let (na, nb) = (self.count as f64, other.count as f64);
        let delta = other.mean - self.mean;
        Moments {
            count: self.count + other.count,
            mean: self.mean + delta * (nb / n),
            m2: self.m2 + other.m2 + delta * delta * (na * nb / n),
        }
    }

    /// The biased (population) variance `M2 / n`; NaN for no values.
    pub fn var_biased(&self) -> f64 {
        self.m2 / self.count as f64
    }

    /// The unbiased (sample) variance `M2 / (n − 1)`; NaN or infinite for
    /// fewer than two values.
    pub fn var_unbiased(&self) -> f64 {
        self.m2 / (self.count as f64 - 1.0)
    }
}

/// `Σ x` in `f64`, with eight independent accumulators so that the loop
/// vectorizes (the summation order is fixed, so results are reproducible).
#[inline]
pub fn sum_f64<F: Float>(x: &[F]) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            acc[k] += c[k].widen();
        }
    }
    let mut s = acc.iter().sum::<f64>();
    for v in rest {
        s += v.widen();
    }
    s
}

/// `Σ (x − mean)²` in `f64` (the second pass of the two-pass variance).
#[inline]
pub fn sum_sq_dev<F: Float>(x: &[F], mean: f64) -> f64 {
    let mut acc = [0.0f64; 8];
    let chunks = x.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for k in 0..8 {
            let d = c[k].widen() - mean;
            acc[k] += d * d;
        }
    }
    let mut s = acc.iter().sum::<f64>();
    for v in rest {
        let d = v.widen() - mean;
        s += d * d;
    }
    s
}

/// `(Σ g, Σ g·(x − mean))` in `f64`, in one pass over both slices.
#[inline]
pub fn sum_g_and_g_dev<F: Float>(x: &[F], g: &[F], mean: f64) -> (f64, f64) {
    let mut a = [0.0f64; 4];
    let mut b = [0.0f64; 4];
    let n = x.len().min(g.len());
    let (x, g) = (&x[..n], &g[..n]);
    let xc = x.chunks_exact(4);
    let gc = g.chunks_exact(4);
    let (xr, gr) = (xc.remainder(), gc.remainder());
    for (xs, gs) in xc.zip(gc) {
        for k in 0..4 {
            let gv = gs[k].widen();
            a[k] += gv;
            b[k] += gv * (xs[k].widen() - mean);
        }
    }
    let mut sa = a.iter().sum::<f64>();
    let mut sb = b.iter().sum::<f64>();
    for (xv, gv) in xr.iter().zip(gr) {
        sa += gv.widen();
        sb += gv.widen() * (xv.widen() - mean);
    }
    (sa, sb)
}

/// Maps `f(task, chunk)` over `chunk_len`-sized chunks of `data`, in
/// parallel when `par` is `Rayon`, and returns the results in chunk order
/// (so reductions over them are deterministic). Empty data gives no chunk.
pub(crate) fn map_chunks_mut<T: Send, R: Send>(
    par: Par,
    data: &mut [T],
    chunk_len: usize,
    f: impl Fn(usize, &mut [T]) -> R + Sync + Send,
) -> Vec<R> {
    let chunk_len = chunk_len.max(1);
    match par {
        Par::Seq => data
            .chunks_mut(chunk_len)
            .enumerate()
            .map(|(i, c)| f(i, c))
            .collect(),
        Par::Rayon => data
            .par_chunks_mut(chunk_len)
            .enumerate()
            .map(|(i, c)| f(i, c))
            .collect(),
    }
}

/// How many units of `unit_len` elements a task should take.
pub(crate) fn units_per_task(unit_len: usize) -> usize {
    (TASK_ELEMS / unit_len.max(1)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_two_pass_and_merge_agree() {
        let x: Vec<f64> = (0..37)
            .map(|i| (i as f64 * 0.37).sin() * 3.0 + 1e4)
            .collect();
        let all = Moments::of(&x);
        let merged = Moments::of(&x[..10])
            .merge(Moments::of(&x[10..11]))
            .merge(Moments::of(&x[11..]));
        assert_eq!(all.count, 37);
        assert!((all.mean - merged.mean).abs() < 1e-9);
        assert!((all.m2 - merged.m2).abs() < 1e-7 * all.m2);
        let naive_mean = x.iter().sum::<f64>() / 37.0;
        let naive_m2: f64 = x.iter().map(|v| (v - naive_mean).powi(2)).sum();
        assert!((all.m2 - naive_m2).abs() < 1e-8 * naive_m2);
        assert!(Moments::EMPTY.var_biased().is_nan());
        assert_eq!(Moments::EMPTY.merge(all), all);
    }

    #[test]
    fn sums_match_plain_loops() {
        let x: Vec<f32> = (0..29).map(|i| i as f32 * 0.5 - 3.0).collect();
        let g: Vec<f32> = (0..29).map(|i| (i % 5) as f32 - 2.0).collect();
        assert_eq!(sum_f64(&x), x.iter().map(|&v| v as f64).sum::<f64>());
        let (a, b) = sum_g_and_g_dev(&x, &g, 1.5);
        assert_eq!(a, g.iter().map(|&v| v as f64).sum::<f64>());
        let want: f64 = x
            .iter()
            .zip(&g)
            .map(|(&x, &g)| g as f64 * (x as f64 - 1.5))
            .sum();
        assert!((b - want).abs() < 1e-12);
    }
}
