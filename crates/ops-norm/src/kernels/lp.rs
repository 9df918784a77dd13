//! `Lp` normalization along one axis (PyTorch's `F.normalize`) of an
//! `outer, len, inner` buffer: every column `x[o, :, i]` is divided by
//! `d = max(‖x[o, :, i]‖_p, eps)`.
//!
//! The norm is `(Σ|x|^p)^(1/p)`, with PyTorch's special cases: `p = 0`
//! counts the non-zero entries, `p = ±∞` takes the largest (smallest)
//! magnitude. Backward, with `s = Σ_j dy_j · x_j` over the column:
//!
//! `dx_i = dy_i / d − [n ≥ eps] · s / d² · ∂n/∂x_i`,
//!
//! where `∂n/∂x_i = sign(x_i) |x_i|^(p−1) n^(1−p)` (0 where `x_i = 0` or
//! `n = 0`), `sign(x_i) / ties` on the entries of largest (smallest)
//! magnitude for `p = ±∞`, and 0 for `p = 0`; when the norm is clamped to
//! `eps` no gradient flows through it (PyTorch's `clamp_min`).

use core_tensor::{Float, Par};

use super::TASK_ELEMS;

/// The layout and parameters of one call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LpLayout {
    /// Product of the axes before the normalized one.
    pub outer: usize,
    /// Length of the normalized axis.
    pub len: usize,
    /// Product of the axes after it.
    pub inner: usize,
    /// The norm's exponent (any value, `±∞` included).
    pub p: f64,
    /// Lower bound of the divisor.
    pub eps: f64,
}

impl LpLayout {
    fn block(&self) -> usize {
        self.len * self.inner
    }

    fn par(&self, par: Par) -> Par {
        if self.outer < 2 || self.outer * self.block() < TASK_ELEMS {
            Par::Seq
        } else {
            par
        }
    }
}

/// What the forward pass keeps for backward: the norm of every column,
/// `outer·inner` values (the divisor is `max(norm, eps)` again).
#[derive(Clone, Debug, PartialEq)]
pub struct LpSaved<F> {
    /// `‖x[o, :, i]‖_p` at `o·inner + i`.
    pub norm: Vec<F>,
}

/// The kind of norm, fixed before the loops.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Two,
    One,
    Max,
    Min,
    Count,
    General,
}

impl Kind {
    fn of(p: f64) -> Self {
        if p == 2.0 {
            Kind::Two
        } else if p == 1.0 {
            Kind::One
        } else if p == f64::INFINITY {
            Kind::Max
        } else if p == f64::NEG_INFINITY {
            Kind::Min
        } else if p == 0.0 {
            Kind::Count
        } else {
            Kind::General
        }
    }
}

fn sign<F: Float>(v: F) -> F {
    if v > F::zero() {
        F::one()
    } else if v < F::zero() {
        -F::one()
    } else {
        F::zero()
    }
}

/// PyTorch's `clamp_min`: `eps` below it, NaN kept.
fn clamp_min<F: Float>(n: F, eps: F) -> F {
    if n < eps { eps } else { n }
}

/// The norms of the `inner` columns of one `len × inner` block, row by
/// row over contiguous memory.
fn block_norms<F: Float>(x_o: &[F], inner: usize, p: f64, norm: &mut [F]) {
    let kind = Kind::of(p);
    let start = match kind {
        Kind::Min => F::infinity(),
        _ => F::zero(),
    };
    norm.iter_mut().for_each(|v| *v = start);
    let pf = F::cast(p);
    for row in x_o.chunks_exact(inner) {
        let acc = norm.iter_mut().zip(row);
        match kind {
            Kind::Two => acc.for_each(|(a, &v)| *a += v * v),
            Kind::One => acc.for_each(|(a, &v)| *a += v.abs()),
            Kind::Max => acc.for_each(|(a, &v)| {
                let m = v.abs();
                *a = if m > *a || m.is_nan() { m } else { *a };
            }),
            Kind::Min => acc.for_each(|(a, &v)| {
                let m = v.abs();
                *a = if m < *a || m.is_nan() { m } else { *a };
            }),
            Kind::Count => acc.for_each(|(a, &v)| {
                if v != F::zero() {
                    *a += F::one();
                }
            }),
            Kind::General => acc.for_each(|(a, &v)| *a += v.abs().powf(pf)),
        }
    }
    match kind {
        Kind::Two => norm.iter_mut().for_each(|v| *v = v.sqrt()),
        Kind::General => {
            let inv = F::cast(1.0 / p);
            norm.iter_mut().for_each(|v| *v = v.powf(inv));
        }
        _ => {}
    }
}

/// The forward pass: `y = x / max(‖x‖_p, eps)` along the axis, and the
/// norms for backward.
///
/// # Panics
/// If `x.len()` is not `outer·len·inner` (the caller checks it).
pub fn lp_normalize_forward<F: Float>(x: &[F], l: LpLayout, par: Par) -> (Vec<F>, LpSaved<F>) {
    assert_eq!(x.len(), l.outer * l.block(), "input length");
    let mut y = vec![F::zero(); x.len()];
    let mut norm = vec![F::zero(); l.outer * l.inner];
    if l.outer == 0 || l.inner == 0 {
        return (y, LpSaved { norm });
    }
    let eps = F::cast(l.eps);
    let (block, inner) = (l.block(), l.inner);
    if block == 0 {
        // An empty axis: every norm is that of an empty column.
        block_norms(&[], inner, l.p, &mut norm);
        return (y, LpSaved { norm });
    }
    l.par(par)
        .for_each_chunk_pair_mut(&mut y, block, &mut norm, inner, |o, y_o, n_o| {
            let x_o = &x[o * block..(o + 1) * block];
            block_norms(x_o, inner, l.p, n_o);
            for (y_row, x_row) in y_o.chunks_exact_mut(inner).zip(x_o.chunks_exact(inner)) {
                for ((yv, &xv), &n) in y_row.iter_mut().zip(x_row).zip(n_o.iter()) {
                    *yv = xv / clamp_min(n, eps);
                }
            }
        });
    (y, LpSaved { norm })
}

/// The input gradient from `x`, the upstream gradient `dy` and the saved
/// norms.
///
/// # Panics
/// If a length does not match the layout (the caller keeps them together).
pub fn lp_normalize_backward<F: Float>(
    x: &[F],
    dy: &[F],
    saved: &LpSaved<F>,
    l: LpLayout,
    par: Par,
) -> Vec<F> {
    assert_eq!(x.len(), l.outer * l.block(), "input length");
    assert_eq!(dy.len(), x.len(), "gradient length");
    assert_eq!(saved.norm.len(), l.outer * l.inner, "saved length");
    let mut dx = vec![F::zero(); x.len()];
    if x.is_empty() {
        return dx;
    }
    let kind = Kind::of(l.p);
    let eps = F::cast(l.eps);
    let (block, inner) = (l.block(), l.inner);
    let (pm1, one_minus_p) = (F::cast(l.p - 1.0), F::cast(1.0 - l.p));
    l.par(par).for_each_chunk_mut(&mut dx, block, |o, dx_o| {
        let (x_o, g_o) = (
            &x[o * block..(o + 1) * block],
            &dy[o * block..(o + 1) * block],
        );
        let n_o = &saved.norm[o * inner..(o + 1) * inner];
        // Per column: s = Σ dy·x, and for ±∞ the number of entries at the norm.
        let (mut s, mut ties) = (vec![F::zero(); inner], vec![F::zero(); inner]);
        for (g_row, x_row) in g_o.chunks_exact(inner).zip(x_o.chunks_exact(inner)) {
            for (sv, (&g, &xv)) in s.iter_mut().zip(g_row.iter().zip(x_row)) {
                *sv += g * xv;
            }
            if matches!(kind, Kind::Max | Kind::Min) {
                for ((t, &xv), &n) in ties.iter_mut().zip(x_row).zip(n_o) {
                    if xv.abs() == n {
                        *t += F::one();
                    }
                }
            }
        }
        // Where the norm is not clamped (else no gradient flows through it,
        // and d = eps), d = n: coef = s / n², and the per-column factor of
        // ∂n/∂x.
        let flows: Vec<bool> = n_o.iter().map(|&n| n >= eps && n != F::zero()).collect();
        let coef: Vec<F> = s.iter().zip(n_o).map(|(&sv, &n)| sv / (n * n)).collect();
        let scale: Vec<F> = n_o
            .iter()
            .zip(&ties)
            .map(|(&n, &t)| match kind {
                Kind::Two => F::one() / n,
                Kind::Max | Kind::Min => F::one() / t,
                Kind::General => n.powf(one_minus_p),
                _ => F::one(),
            })
            .collect();
        let rows = dx_o
            .chunks_exact_mut(inner)
            .zip(g_o.chunks_exact(inner).zip(x_o.chunks_exact(inner)));
        for (dx_row, (g_row, x_row)) in rows {
            for (i, (d, (&g, &xv))) in dx_row.iter_mut().zip(g_row.iter().zip(x_row)).enumerate() {
                let n = n_o[i];
                if !flows[i] {
                    *d = g / clamp_min(n, eps);
                    continue;
                }
                let dn = match kind {
                    Kind::Two => xv * scale[i],
                    Kind::One => sign(xv),
                    Kind::Max | Kind::Min if xv.abs() == n => sign(xv) * scale[i],
                    Kind::General if xv != F::zero() => sign(xv) * xv.abs().powf(pm1) * scale[i],
                    _ => F::zero(),
                };
                *d = g / n - coef[i] * dn;
            }
        }
    });
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(outer: usize, len: usize, inner: usize, p: f64) -> LpLayout {
        LpLayout {
            outer,
            len,
            inner,
            p,
            eps: 1e-12,
        }
    }

    /// `y` of the definition, column by column.
    fn naive(x: &[f64], l: LpLayout) -> Vec<f64> {
        let mut y = vec![0.0; x.len()];
        for o in 0..l.outer {
            for i in 0..l.inner {
                let col: Vec<f64> = (0..l.len)
                    .map(|j| x[(o * l.len + j) * l.inner + i])
                    .collect();
                let n = if l.p.is_infinite() {
                    let m = col.iter().map(|v| v.abs());
                    if l.p > 0.0 {
                        m.fold(0.0, f64::max)
                    } else {
                        m.fold(f64::INFINITY, f64::min)
                    }
                } else if l.p == 0.0 {
                    col.iter().filter(|v| **v != 0.0).count() as f64
                } else {
                    col.iter()
                        .map(|v| v.abs().powf(l.p))
                        .sum::<f64>()
                        .powf(1.0 / l.p)
                };
                for j in 0..l.len {
                    let k = (o * l.len + j) * l.inner + i;
                    y[k] = x[k] / n.max(l.eps);
                }
            }
        }
        y
    }

    #[test]
    fn forward_matches_the_definition_for_every_kind_of_p() {
        let x: Vec<f64> = (0..60).map(|i| (0.9 * i as f64).sin() * 2.0).collect();
        for p in [
            2.0,
            1.0,
            3.0,
            0.5,
            0.0,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -1.5,
        ] {
            let l = layout(3, 4, 5, p);
            let (y, _) = lp_normalize_forward(&x, l, Par::Seq);
            for (a, b) in y.iter().zip(naive(&x, l)) {
                assert!(
                    (a - b).abs() <= 1e-14 * b.abs().max(1.0),
                    "p {p}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn backward_matches_central_differences() {
        // Distinct magnitudes (no ties for ±∞), no zeros.
        let x: Vec<f64> = (0..24)
            .map(|i| (i as f64 * 0.37 + 0.1) * if i % 3 == 0 { -1.0 } else { 1.0 })
            .collect();
        let g: Vec<f64> = (0..24).map(|i| (0.7 * i as f64).cos()).collect();
        for p in [2.0, 1.0, 3.0, 0.5, 0.0, f64::INFINITY, f64::NEG_INFINITY] {
            let l = layout(2, 3, 4, p);
            let (_, saved) = lp_normalize_forward(&x, l, Par::Seq);
            let dx = lp_normalize_backward(&x, &g, &saved, l, Par::Seq);
            let h = 1e-6;
            for k in 0..x.len() {
                let (mut up, mut down) = (x.clone(), x.clone());
                up[k] += h;
                down[k] -= h;
                let dot = |v: Vec<f64>| v.iter().zip(&g).map(|(a, b)| a * b).sum::<f64>();
                let fd = (dot(naive(&up, l)) - dot(naive(&down, l))) / (2.0 * h);
                assert!(
                    (dx[k] - fd).abs() < 1e-7,
                    "p {p}, x[{k}]: {} vs {fd}",
                    dx[k]
                );
            }
        }
    }

    #[test]
    fn a_clamped_norm_passes_no_gradient() {
        // ‖(0, 0)‖ = 0 < eps: dx = dy / eps.
        let l = LpLayout {
            eps: 0.5,
            ..layout(1, 2, 1, 2.0)
        };
        let (y, saved) = lp_normalize_forward(&[0.0f64, 0.0], l, Par::Seq);
        assert_eq!(y, [0.0, 0.0]);
        let dx = lp_normalize_backward(&[0.0, 0.0], &[1.0, 2.0], &saved, l, Par::Seq);
        assert_eq!(dx, [2.0, 4.0]);
    }
}
