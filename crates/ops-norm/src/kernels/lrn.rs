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

/// What the forward pass keeps for backward: per sample, the scale `s`
/// of every element, then `s^β` of every element (`2·C·S` values a sample).
#[derive(Clone, Debug, PartialEq)]
pub struct LrnSaved<F> {
    /// `[s (C·S values), s^β (C·S values)]` for each sample in turn.
    pub scale_and_power: Vec<F>,
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
    let mut saved = vec![F::zero(); 2 * x.len()];
    if len == 0 {
        return (
            y,
            LrnSaved {
                scale_and_power: saved,
            },
        );
    }
    let (scale, k, beta) = (
        F::cast(p.alpha / p.size as f64),
        F::cast(p.k),
        F::cast(p.beta),
    );
    p.par(par)
        .for_each_chunk_pair_mut(&mut y, len, &mut saved, 2 * len, |i, y_n, saved_n| {
            let x_n = &x[i * len..(i + 1) * len];
            let (s_n, pw_n) = saved_n.split_at_mut(len);
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
                let (x_c, y_c, pw_c) =
                    (&x_n[rows.clone()], &mut y_n[rows.clone()], &mut pw_n[rows]);
                for (((sv, pw), yv), &xv) in s_c.iter_mut().zip(pw_c).zip(y_c).zip(x_c) {
                    *sv = k + scale * *sv;
                    *pw = sv.powf(beta);
                    *yv = xv / *pw;
                }
            }
        });
    (
        y,
        LrnSaved {
            scale_and_power: saved,
        },
    )
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
    assert_eq!(saved.scale_and_power.len(), 2 * x.len(), "saved length");
    let mut dx = vec![F::zero(); x.len()];
    if len == 0 {
        return dx;
    }
    let coef = F::cast(2.0 * p.alpha * p.beta / p.size as f64);
    p.par(par).for_each_chunk_mut(&mut dx, len, |i, dx_n| {
        let x_n = &x[i * len..(i + 1) * len];
        let dy_n = &dy[i * len..(i + 1) * len];
        let (s_n, pw_n) = saved.scale_and_power[2 * i * len..2 * (i + 1) * len].split_at(len);
        // t = dy · x · s^(−β−1) = dy · x / (s^β · s)
        let t: Vec<F> = dy_n
            .iter()
            .zip(x_n)
            .zip(s_n.iter().zip(pw_n))
            .map(|((&g, &xv), (&s, &pw))| g * xv / (pw * s))
            .collect();
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
            let out = dx_n[rows.clone()].iter_mut();
            let ins = dy_n[rows.clone()]
                .iter()
                .zip(&x_n[rows.clone()])
                .zip(&pw_n[rows]);
            for ((d, ((&g, &xv), &pw)), &a) in out.zip(ins).zip(&acc) {
                *d = g / pw - coef * xv * a;
            }
        }
    });
    dx
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
        for size in [1, 2, 3, 4, 7] {
            let p = params(2, 5, 3, size);
            let x: Vec<f64> = (0..30).map(|i| (0.7 * i as f64).sin() * 2.0).collect();
            let want = naive(&x, p);
            for par in [Par::Seq, Par::Rayon] {
                let (y, _) = lrn_forward(&x, p, par);
                for (a, b) in y.iter().zip(&want) {
                    assert!((a - b).abs() < 1e-15, "size {size}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn backward_matches_central_differences_of_the_definition() {
        for size in [1, 2, 3, 4] {
            let p = params(2, 4, 2, size);
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

    #[test]
    fn empty_inputs_give_empty_outputs() {
        let (y, saved) = lrn_forward::<f32>(&[], params(0, 3, 4, 2), Par::Rayon);
        assert!(y.is_empty() && saved.scale_and_power.is_empty());
        let dx = lrn_backward::<f32>(&[], &[], &saved, params(2, 0, 4, 2), Par::Rayon);
        assert!(dx.is_empty());
    }
}
