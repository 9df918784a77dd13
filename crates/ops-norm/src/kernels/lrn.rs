//! Local response normalization across channels of an `N, C, S` buffer
//! (`S` = the product of the spatial sizes):
//!
//! `s[n, c] = k + α / size · Σ_{c' = c − ⌊size/2⌋}^{c + ⌊(size−1)/2⌋} x[n, c']²`,
//! `y[n, c] = x[n, c] / s[n, c]^β`,
//!
//! with channels outside `0..C` counting as zeros (PyTorch's
//! `F.local_response_norm`, an average pool with `count_include_pad`). The
//! window is asymmetric for an even `size`.
//!
//! The backward pass, with `t[c] = dy[c] · x[c] · s[c]^(−β−1)`, is
//!
//! `dx[j] = dy[j] · s[j]^(−β) − (2αβ / size) · x[j] · Σ_{c = j − ⌊(size−1)/2⌋}^{j + ⌊size/2⌋} t[c]`,
//!
//! the sum running over the channels whose window holds `j`. Both passes
//! work sample by sample (in parallel over samples), each channel a
//! contiguous row of `S` values.

use core_tensor::simd::wide;
use core_tensor::{Float, Par};

use super::TASK_ELEMS;

/// The shape and parameters of one call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LrnParams {
    /// Samples.
    pub n: usize,
    /// Channels (the normalized axis).
    pub c: usize,
    /// Elements per channel of a sample (the spatial volume).
    pub s: usize,
    /// Channels in a window (at least 1).
    pub size: usize,
    /// Scale of the window mean.
    pub alpha: f64,
    /// Exponent.
    pub beta: f64,
    /// Additive constant.
    pub k: f64,
}

impl LrnParams {
    /// The channels `lo..hi` whose squares enter the scale of channel `c`.
    fn window(&self, c: usize) -> (usize, usize) {
        let lo = c.saturating_sub(self.size / 2);
        let hi = (c + (self.size - 1) / 2 + 1).min(self.c);
        (lo, hi)
    }

    /// The channels `lo..hi` whose windows hold channel `j`.
    fn reverse_window(&self, j: usize) -> (usize, usize) {
        let lo = j.saturating_sub((self.size - 1) / 2);
        let hi = (j + self.size / 2 + 1).min(self.c);
        (lo, hi)
    }

    fn sample_len(&self) -> usize {
        self.c * self.s
    }

    fn par(&self, par: Par) -> Par {
        if self.n < 2 || self.n * self.sample_len() < TASK_ELEMS {
            Par::Seq
        } else {
            par
        }
    }
}

/// What the forward pass keeps for backward: the scale `s` of every
/// element (`s^β` is recomputed, which costs less than storing it).
#[derive(Clone, Debug, PartialEq)]
pub struct LrnSaved<F> {
    /// `s`, one per element of the input, in its layout.
    pub scale: Vec<F>,
}

/// `s ↦ s^β`, a type per exponent so that each kernel is compiled for
/// its own. The exponents LRN is used with (the default 0.75, also 0.5
/// and 1) go through square roots, which vectorize; others through
/// `powf`, a scalar call per element.
trait Power<F>: Copy + Send + Sync {
    fn apply(self, s: F) -> F;
}

#[derive(Clone, Copy)]
struct ThreeQuarters;
#[derive(Clone, Copy)]
struct Half;
#[derive(Clone, Copy)]
struct One;
#[derive(Clone, Copy)]
struct AnyPower<F>(F);

impl<F: Float> Power<F> for ThreeQuarters {
    #[inline(always)]
    fn apply(self, s: F) -> F {
        s.sqrt() * s.sqrt().sqrt()
    }
}

impl<F: Float> Power<F> for Half {
    #[inline(always)]
    fn apply(self, s: F) -> F {
        s.sqrt()
    }
}

impl<F: Float> Power<F> for One {
    #[inline(always)]
    fn apply(self, s: F) -> F {
        s
    }
}

impl<F: Float> Power<F> for AnyPower<F> {
    #[inline(always)]
    fn apply(self, s: F) -> F {
        s.powf(self.0)
    }
}

/// Calls `$run` (a generic function taking the power last) with the
/// [`Power`] of `$beta`.
macro_rules! with_power {
    ($beta:expr, $run:ident($($arg:expr),*)) => {
        match $beta {
            0.75 => $run($($arg,)* ThreeQuarters),
            0.5 => $run($($arg,)* Half),
            1.0 => $run($($arg,)* One),
            b => $run($($arg,)* AnyPower(Float::cast(b))),
        }
    };
}

/// The forward pass: `y` and the scales that backward needs. `x` holds
/// `n·c·s` values.
///
/// # Panics
/// If `x.len()` is not `n·c·s` or `size` is 0 (the caller checks both).
pub fn lrn_forward<F: Float>(x: &[F], p: LrnParams, par: Par) -> (Vec<F>, LrnSaved<F>) {
    assert_eq!(x.len(), p.n * p.sample_len(), "input length");
    assert!(p.size > 0, "window size");
    let len = p.sample_len();
    let mut y = vec![F::zero(); x.len()];
    let mut scale = vec![F::zero(); x.len()];
    if len > 0 {
        with_power!(p.beta, forward_samples(x, &mut y, &mut scale, p, par));
    }
    (y, LrnSaved { scale })
}

fn forward_samples<F: Float, P: Power<F>>(
    x: &[F],
    y: &mut [F],
    scale: &mut [F],
    p: LrnParams,
    par: Par,
    power: P,
) {
    let len = p.sample_len();
    p.par(par)
        .for_each_chunk_pair_mut(y, len, scale, len, |i, y_n, s_n| {
            let x_n = &x[i * len..(i + 1) * len];
            wide(|| forward_sample(x_n, y_n, s_n, p, power));
        });
}

/// One sample: for each channel, the window's sum of squares, then the
/// scale and the output.
#[inline(always)]
fn forward_sample<F: Float>(
    x_n: &[F],
    y_n: &mut [F],
    s_n: &mut [F],
    p: LrnParams,
    power: impl Power<F>,
) {
    let (mean_of, k) = (F::cast(p.alpha / p.size as f64), F::cast(p.k));
    for c in 0..p.c {
        let (lo, hi) = p.window(c);
        let s_c = &mut s_n[c * p.s..(c + 1) * p.s];
        s_c.iter_mut().for_each(|v| *v = F::zero());
        for row in x_n[lo * p.s..hi * p.s].chunks_exact(p.s) {
            for (a, &v) in s_c.iter_mut().zip(row) {
                *a += v * v;
            }
        }
        let rows = c * p.s..(c + 1) * p.s;
        for ((sv, yv), &xv) in s_c.iter_mut().zip(&mut y_n[rows.clone()]).zip(&x_n[rows]) {
            *sv = k + mean_of * *sv;
            *yv = xv / power.apply(*sv);
        }
    }
}

/// The input gradient from `x`, the upstream gradient `dy` and the saved
/// scales (see the module docs).
///
/// # Panics
/// If a buffer length does not match `p` (the caller keeps them together).
pub fn lrn_backward<F: Float>(
    x: &[F],
    dy: &[F],
    saved: &LrnSaved<F>,
    p: LrnParams,
    par: Par,
) -> Vec<F> {
    let len = p.sample_len();
    assert_eq!(x.len(), p.n * len, "input length");
    assert_eq!(dy.len(), x.len(), "gradient length");
    assert_eq!(saved.scale.len(), x.len(), "saved length");
    let mut dx = vec![F::zero(); x.len()];
    if len == 0 {
        return dx;
    }
    with_power!(
        p.beta,
        backward_samples(x, dy, &saved.scale, &mut dx, p, par)
    );
    dx
}

fn backward_samples<F: Float, P: Power<F>>(
    x: &[F],
    dy: &[F],
    scale: &[F],
    dx: &mut [F],
    p: LrnParams,
    par: Par,
    power: P,
) {
    let len = p.sample_len();
    p.par(par).for_each_chunk_mut(dx, len, |i, dx_n| {
        let at = i * len..(i + 1) * len;
        let (x_n, dy_n, s_n) = (&x[at.clone()], &dy[at.clone()], &scale[at]);
        let mut t = vec![F::zero(); len];
        wide(|| backward_sample(x_n, dy_n, s_n, dx_n, &mut t, p, power));
    });
}

/// One sample: `dx = dy / s^β` and `t = dy · x / (s^β · s)` per element,
/// then, per channel, `dx −= (2αβ / size) · x · Σ t` over the channels
/// whose windows hold it.
#[inline(always)]
fn backward_sample<F: Float>(
    x_n: &[F],
    dy_n: &[F],
    s_n: &[F],
    dx_n: &mut [F],
    t: &mut [F],
    p: LrnParams,
    power: impl Power<F>,
) {
    let coef = F::cast(2.0 * p.alpha * p.beta / p.size as f64);
    for (((d, tv), (&g, &xv)), &s) in dx_n
        .iter_mut()
        .zip(t.iter_mut())
        .zip(dy_n.iter().zip(x_n))
        .zip(s_n)
    {
        let gr = g / power.apply(s);
        *d = gr;
        *tv = gr * xv / s;
    }
    let mut acc = vec![F::zero(); p.s];
    for j in 0..p.c {
        acc.iter_mut().for_each(|v| *v = F::zero());
        let (lo, hi) = p.reverse_window(j);
        for row in t[lo * p.s..hi * p.s].chunks_exact(p.s) {
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v;
            }
        }
        let rows = j * p.s..(j + 1) * p.s;
        for ((d, &xv), &a) in dx_n[rows.clone()].iter_mut().zip(&x_n[rows]).zip(&acc) {
            *d -= coef * xv * a;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(n: usize, c: usize, s: usize, size: usize) -> LrnParams {
        LrnParams {
            n,
            c,
            s,
            size,
            alpha: 0.3,
            beta: 0.75,
            k: 1.5,
        }
    }

    /// The definition, one element at a time.
    fn naive(x: &[f64], p: LrnParams) -> Vec<f64> {
        let mut y = vec![0.0; x.len()];
        for n in 0..p.n {
            for c in 0..p.c {
                for s in 0..p.s {
                    let mut sum = 0.0;
                    for cc in c as isize - (p.size / 2) as isize..=(c + (p.size - 1) / 2) as isize {
                        if (0..p.c as isize).contains(&cc) {
                            let v = x[(n * p.c + cc as usize) * p.s + s];
                            sum += v * v;
                        }
                    }
                    let i = (n * p.c + c) * p.s + s;
                    y[i] = x[i] / (p.k + p.alpha / p.size as f64 * sum).powf(p.beta);
                }
            }
        }
        y
    }

    #[test]
    fn forward_matches_the_definition_for_odd_and_even_windows() {
        for (size, beta) in [(1, 0.75), (2, 0.5), (3, 1.0), (4, 0.6), (7, 0.75)] {
            let p = LrnParams {
                beta,
                ..params(2, 5, 3, size)
            };
            let x: Vec<f64> = (0..30).map(|i| (0.7 * i as f64).sin() * 2.0).collect();
            let want = naive(&x, p);
            for par in [Par::Seq, Par::Rayon] {
                let (y, _) = lrn_forward(&x, p, par);
                for (a, b) in y.iter().zip(&want) {
                    assert!((a - b).abs() < 1e-15, "size {size} beta {beta}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn backward_matches_central_differences_of_the_definition() {
        for (size, beta) in [(1, 0.75), (2, 0.5), (3, 1.0), (4, 0.6)] {
            let p = LrnParams {
                beta,
                ..params(2, 4, 2, size)
            };
            let x: Vec<f64> = (0..16).map(|i| (0.9 * i as f64).cos()).collect();
            let dy: Vec<f64> = (0..16).map(|i| (0.4 * i as f64).sin()).collect();
            let (_, saved) = lrn_forward(&x, p, Par::Seq);
            let dx = lrn_backward(&x, &dy, &saved, p, Par::Seq);
            let h = 1e-6;
            for j in 0..x.len() {
                let (mut up, mut down) = (x.clone(), x.clone());
                up[j] += h;
                down[j] -= h;
                let dot = |v: Vec<f64>| v.iter().zip(&dy).map(|(a, b)| a * b).sum::<f64>();
                let fd = (dot(naive(&up, p)) - dot(naive(&down, p))) / (2.0 * h);
                assert!(
                    (dx[j] - fd).abs() < 1e-8,
                    "size {size}, x[{j}]: {} vs {fd}",
                    dx[j]
                );
            }
        }
    }

    /// The loops compiled for AVX2 (where the dispatch level allows it)
    /// and for the baseline give bitwise the same results.
    #[test]
    fn avx2_and_baseline_loops_agree_bitwise() {
        for (size, beta) in [(5, 0.75), (2, 0.5), (3, 1.0), (4, 0.6)] {
            let p = LrnParams {
                beta,
                ..params(1, 6, 37, size)
            };
            let x: Vec<f32> = (0..p.c * p.s)
                .map(|i| (0.3 * i as f32).sin() * 3.0)
                .collect();
            let dy: Vec<f32> = (0..x.len()).map(|i| (0.7 * i as f32).cos()).collect();
            let run = |avx2: bool| {
                let n = x.len();
                let (mut y, mut s, mut dx, mut t) =
                    (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
                with_power!(
                    beta,
                    run_sample(&x, &dy, &mut y, &mut s, &mut dx, &mut t, p, avx2)
                );
                (y, dx)
            };
            assert_eq!(run(true), run(false), "size {size}, beta {beta}");
        }
    }

    /// Forward then backward of one sample, through [`wide`] or the
    /// baseline loops.
    #[allow(clippy::too_many_arguments)]
    fn run_sample<F: Float>(
        x: &[F],
        dy: &[F],
        y: &mut [F],
        s: &mut [F],
        dx: &mut [F],
        t: &mut [F],
        p: LrnParams,
        avx2: bool,
        power: impl Power<F>,
    ) {
        if avx2 {
            wide(|| {
                forward_sample(x, y, s, p, power);
                backward_sample(x, dy, s, dx, t, p, power);
            });
        } else {
            forward_sample(x, y, s, p, power);
            backward_sample(x, dy, s, dx, t, p, power);
        }
    }

    #[test]
    fn empty_inputs_give_empty_outputs() {
        let (y, saved) = lrn_forward::<f32>(&[], params(0, 3, 4, 2), Par::Rayon);
        assert!(y.is_empty() && saved.scale.is_empty());
        let dx = lrn_backward::<f32>(&[], &[], &saved, params(2, 0, 4, 2), Par::Rayon);
        assert!(dx.is_empty());
    }
}
