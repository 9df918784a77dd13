//! Pure normalization kernels over contiguous row-major slices, with an
//! explicit [`Par`]. They know nothing of the graph and
//! can be used (and tested) on plain buffers.
//!
//! Four layouts cover the whole family:
//!
//! - [`channel`]: statistics per channel of an `N, C, S` buffer (batch norm;
//!   instance norm in eval with running statistics), taken over `N·S`
//!   elements that are not contiguous;
//! - [`row`]: statistics per contiguous row of an `R, L` buffer (layer, group,
//!   instance and RMS norm), with a per-element or per-segment affine map;
//! - [`lrn`]: local response normalization, a window over the channels of
//!   each sample of an `N, C, S` buffer;
//! - [`lp`]: `Lp` normalization of the columns of `outer, len, inner` blocks.
//!
//! Statistics are two-pass (the mean, then the squared deviations from it),
//! never `E[x²] − E[x]²`. Within a block (a plane of a channel, a row) the
//! sums run over independent lanes in the element type (see [`core_tensor::lanes`]) so the loops
//! vectorize, the first pass shifted by the block's first value so that a
//! large common offset (`1e4 + N(0, 1)` in `f32`) costs no precision; blocks
//! are finished and merged in `f64` (Chan's pairwise formula), so a channel of
//! millions of values keeps `f32`-level relative accuracy. Outputs are
//! written once, without zero-filling first.

pub mod channel;
pub mod lp;
pub mod lrn;
pub mod row;

pub(crate) use core_tensor::lanes::{lane_g_gdev, lane_sq_dev, lane_sum, lane_weighted};

pub(crate) use core_tensor::simd::wide;

use core_tensor::{Float, Par};

/// Longest block summed in the element type; longer slices are split and
/// the blocks merged in `f64`.
pub(crate) const BLOCK: usize = 4096;

/// Elements of work a parallel task should get at least (so that small
/// tensors are not split into tasks that cost more than they do).
pub(crate) const TASK_ELEMS: usize = 1 << 14;

/// Fewest elements of input for which a channel kernel phase (statistics,
/// forward apply, backward sums, backward apply) is split over rayon; below
/// it the phase runs on the calling thread. On two cores, phases up to 2^20
/// elements ran as fast or faster sequentially and from 2^21 on the larger
/// phases gain from two threads (`tests/par_threshold.rs` measures it;
/// figures in the crate's `PERF.md`). The generic `Par::for_work` threshold
/// (2^15) is far too low for these memory-bound single passes.
pub(crate) const CHANNEL_PAR_MIN: usize = 1 << 21;

/// `par`, or [`Par::Seq`] when a channel phase over `len` input elements is
/// too small to gain from splitting (see [`CHANNEL_PAR_MIN`]). Task splits do
/// not depend on the mode, so the results are the same either way.
pub(crate) fn channel_par(par: Par, len: usize) -> Par {
    if len < CHANNEL_PAR_MIN { Par::Seq } else { par }
}

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

    /// Two-pass moments of a slice: the mean (of the values shifted by the
    /// first one, so a large common offset costs no precision), then the
    /// squared deviations from it, both summed over [`core_tensor::lanes`] in the
    /// element type and finished in `f64`. Blocks are kept to a few thousand
    /// values (planes, rows) and merged with [`Moments::merge`].
    #[inline(always)]
    pub fn of<F: Float>(x: &[F]) -> Moments {
        if x.len() > BLOCK {
            return x
                .chunks(BLOCK)
                .fold(Moments::EMPTY, |acc, c| acc.merge(Moments::of_block(c)));
        }
        Moments::of_block(x)
    }

    #[inline(always)]
    fn of_block<F: Float>(x: &[F]) -> Moments {
        let Some(&x0) = x.first() else {
            return Moments::EMPTY;
        };
        let n = x.len() as f64;
        let mean = x0.widen() + lane_sum(x, x0).widen() / n;
        let mean_f = F::cast(mean);
        // Σ(x − m)² = Σ(x − m_F)² − n·(m − m_F)², m_F being m rounded to F.
        let shift = mean - mean_f.widen();
        let m2 = (lane_sq_dev(x, mean_f).widen() - n * shift * shift).max(0.0);
        Moments {
            count: x.len(),
            mean,
            m2,
        }
    }

    /// Chan et al.'s pairwise merge: the moments of the union of two sets.
    #[inline]
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
    fn wide_dispatch_gives_bitwise_the_same_results() {
        let x: Vec<f32> = (0..1003).map(|i| 1e4 + ((i as f32) * 0.37).sin()).collect();
        let g: Vec<f32> = (0..1003).map(|i| ((i as f32) * 0.11).cos()).collect();
        let run = || {
            (
                Moments::of(&x),
                lane_weighted(&x, &g, &g, 1e4),
                lane_g_gdev(&x, &g, 1e4),
            )
        };
        let plain = run();
        let widened = wide(run);
        assert_eq!(plain.0, widened.0);
        assert_eq!(plain.1.0.to_bits(), widened.1.0.to_bits());
        assert_eq!(plain.1.1.to_bits(), widened.1.1.to_bits());
        assert_eq!(plain.2.0.to_bits(), widened.2.0.to_bits());
        assert_eq!(plain.2.1.to_bits(), widened.2.1.to_bits());
        assert!(plain.0.m2 > 0.0 && plain.1.0 != 0.0);
        assert_eq!(wide(|| 7), 7);
    }

    #[test]
    fn moments_keep_precision_at_a_large_offset_in_f32() {
        let x: Vec<f32> = (0..50_000)
            .map(|i| 1e4 + ((i as f32) * 0.61).sin())
            .collect();
        let m32 = Moments::of(&x);
        let x64: Vec<f64> = x.iter().map(|&v| v as f64).collect();
        let m64 = Moments::of(&x64);
        assert!(
            (m32.mean - m64.mean).abs() < 1e-5,
            "{} {}",
            m32.mean,
            m64.mean
        );
        assert!((m32.var_biased() / m64.var_biased() - 1.0).abs() < 1e-3);
    }
}
