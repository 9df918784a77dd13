//! Per-row kernels of an `R, L` buffer: statistics over each contiguous
//! row, then an affine map. Layer norm (rows = leading axes, `L` = the
//! normalized shape), group norm (rows = `(n, group)`), instance norm
//! (rows = `(n, c)`) and RMS norm (no centering) are all this kernel with
//! different [`RowLayout`]s.
//!
//! The affine map: element `j` of row `r` uses parameter index
//! `((r mod period)·L + j) / group`. Layer norm has `period = 1, group = 1`
//! (one weight per element of the normalized shape); group norm has
//! `period = G, group = S` (one weight per channel, a channel being `S`
//! consecutive values of the row); instance norm `period = C, group = S`.

use core_tensor::chunks::build_chunks;
use core_tensor::{Float, Par, TensorError};

use super::{BLOCK, Moments, lane_g_gdev, lane_sq_dev, lane_weighted, units_per_task};
use crate::NormError;

/// The row view of a normalization and how its affine parameters map on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RowLayout {
    /// Number of rows (independent statistics).
    pub rows: usize,
    /// Length of each row (values per statistic).
    pub len: usize,
    /// Rows per cycle of the affine parameters (≥ 1).
    pub period: usize,
    /// Consecutive values of a row sharing one affine entry (≥ 1, divides `len`).
    pub group: usize,
}

impl RowLayout {
    /// Number of affine parameters, `period · len / group`.
    pub fn affine_len(&self) -> usize {
        self.period * (self.len / self.group.max(1))
    }

    /// `rows · len`.
    pub fn numel(&self) -> usize {
        self.rows * self.len
    }

    fn check(&self, op: &'static str, got: usize, per_param: bool) -> Result<(), NormError> {
        let valid = self.period >= 1
            && self.group >= 1
            && self.len.is_multiple_of(self.group)
            && self.rows.checked_mul(self.len).is_some()
            && self.period.checked_mul(self.len).is_some();
        if !valid {
            return Err(NormError::Tensor(TensorError::ShapeMismatch {
                op,
                expected: vec![self.rows, self.len],
                got: vec![self.period, self.group],
            }));
        }
        let (expected, shape) = if per_param {
            (self.affine_len(), vec![self.affine_len()])
        } else {
            (self.numel(), vec![self.rows, self.len])
        };
        if got != expected {
            return Err(NormError::Tensor(TensorError::LengthMismatch {
                op,
                shape,
                expected,
                got,
            }));
        }
        Ok(())
    }
}

/// Per-row statistics saved by the forward pass for backward.
#[derive(Clone, Debug, PartialEq)]
pub struct RowStats {
    /// Row means (all 0 for RMS norm).
    pub mean: Vec<f64>,
    /// `1 / sqrt(var_biased + eps)`, or `1 / sqrt(mean(x²) + eps)` for RMS norm.
    pub rstd: Vec<f64>,
    /// Biased variance of each row (`mean(x²)` for RMS norm).
    pub var: Vec<f64>,
}

fn materialize<F: Float>(p: Option<&[F]>, n: usize, fill: F) -> Vec<F> {
    p.map_or_else(|| vec![fill; n], <[F]>::to_vec)
}

/// Row-norm forward: `y = (x − mean_r)·rstd_r·w + b` per row (`mean_r = 0`
/// when `center` is false: RMS norm), statistics two-pass in `f64`,
/// biased variance. Returns the output and the statistics.
///
/// # Errors
/// [`NormError::Tensor`] when a slice length does not match `layout`.
pub fn row_forward<F: Float>(
    x: &[F],
    layout: RowLayout,
    center: bool,
    eps: f64,
    weight: Option<&[F]>,
    bias: Option<&[F]>,
    par: Par,
) -> Result<(Vec<F>, RowStats), NormError> {
    let op = "row_norm";
    layout.check(op, x.len(), false)?;
    for p in [weight, bias].into_iter().flatten() {
        layout.check(op, p.len(), true)?;
    }
    let RowLayout {
        rows,
        len,
        period,
        group,
    } = layout;
    let w = materialize(weight, layout.affine_len(), F::one());
    let b = materialize(bias, layout.affine_len(), F::zero());
    if x.is_empty() {
        return Ok((
            Vec::new(),
            split_stats(vec![(f64::NAN, f64::NAN, f64::NAN); rows]),
        ));
    }
    let rows_per_task = units_per_task(len);
    let segs = len / group;
    let (y, parts) = build_chunks(
        par.for_work(x.len()),
        x.len(),
        rows_per_task * len,
        |t, ychunk| {
            super::wide(
                #[inline(always)]
                || {
                    let mut written = 0;
                    let mut stats = Vec::with_capacity(rows_per_task);
                    for (i, yr) in ychunk.chunks_mut(len).enumerate() {
                        let r = t * rows_per_task + i;
                        let xr = &x[r * len..(r + 1) * len];
                        let (mean, var) = if center {
                            let m = Moments::of(xr);
                            (m.mean, m.var_biased())
                        } else {
                            (0.0, lane_sq_dev(xr, F::zero()).widen() / len as f64)
                        };
                        let rstd = 1.0 / (var + eps).sqrt();
                        stats.push((mean, rstd, var));
                        let (m, rs) = (F::cast(mean), F::cast(rstd));
                        let base = (r % period) * segs;
                        if group == 1 {
                            let (wr, br) = (&w[base..base + len], &b[base..base + len]);
                            written += yr.len().min(xr.len()).min(wr.len()).min(br.len());
                            for (((yv, &xv), &wv), &bv) in yr.iter_mut().zip(xr).zip(wr).zip(br) {
                                yv.write((xv - m) * rs * wv + bv);
                            }
                        } else {
                            for (k, (ys, xs)) in
                                yr.chunks_mut(group).zip(xr.chunks(group)).enumerate()
                            {
                                let (sc, sh) = (rs * w[base + k], b[base + k]);
                                written += ys.len().min(xs.len());
                                for (yv, &xv) in ys.iter_mut().zip(xs) {
                                    yv.write((xv - m) * sc + sh);
                                }
                            }
                        }
                    }
                    (written, stats)
                },
            )
        },
    );
    Ok((y, split_stats(parts.into_iter().flatten().collect())))
}

fn split_stats(stats: Vec<(f64, f64, f64)>) -> RowStats {
    RowStats {
        mean: stats.iter().map(|s| s.0).collect(),
        rstd: stats.iter().map(|s| s.1).collect(),
        var: stats.iter().map(|s| s.2).collect(),
    }
}

/// Gradients of a row-norm call.
#[derive(Clone, Debug, PartialEq)]
pub struct RowGrads<F> {
    /// Gradient of the input.
    pub dx: Vec<F>,
    /// Gradient of the weight (`Σ dy·x̂` per affine entry); empty unless asked.
    pub dweight: Vec<F>,
    /// Gradient of the bias (`Σ dy` per affine entry); empty unless asked.
    pub dbias: Vec<F>,
}

/// Row-norm backward, fused per row: with `dx̂ = w·dy` and `x̂ = (x − mean)·rstd`,
///
/// `dx = rstd · (dx̂ − mean(dx̂) − x̂ · mean(dx̂·x̂))` (centered), or
/// `dx = rstd · (dx̂ − x̂ · mean(dx̂·x̂))` (RMS norm),
///
/// the two row sums in one pass over the row and `dx` in a second while the
/// row is in cache; `dw`/`db` are accumulated per task and summed in task
/// order (deterministic) when `param_grads` is true.
///
/// # Errors
/// [`NormError::Tensor`] when a slice length does not match `layout`.
#[allow(clippy::too_many_arguments)]
pub fn row_backward<F: Float>(
    x: &[F],
    dy: &[F],
    layout: RowLayout,
    center: bool,
    stats: &RowStats,
    weight: Option<&[F]>,
    param_grads: bool,
    par: Par,
) -> Result<RowGrads<F>, NormError> {
    let op = "row_norm_backward";
    layout.check(op, x.len(), false)?;
    layout.check(op, dy.len(), false)?;
    if let Some(w) = weight {
        layout.check(op, w.len(), true)?;
    }
    let RowLayout {
        rows,
        len,
        period,
        group,
    } = layout;
    if stats.mean.len() != rows || stats.rstd.len() != rows {
        return Err(NormError::Tensor(TensorError::LengthMismatch {
            op,
            shape: vec![rows],
            expected: rows,
            got: stats.mean.len().min(stats.rstd.len()),
        }));
    }
    let n_aff = layout.affine_len();
    let w = materialize(weight, n_aff, F::one());
    let rows_per_task = units_per_task(len);
    let segs = len / group;
    let inv_len = 1.0 / len as f64;
    let (dx, parts) = build_chunks(
        par.for_work(2 * x.len()),
        x.len(),
        rows_per_task * len,
        |t, chunk| {
            super::wide(
                #[inline(always)]
                || {
                    let mut written = 0;
                    let mut dw = vec![F::zero(); if param_grads { n_aff } else { 0 }];
                    let mut db = dw.clone();
                    for (i, dxr) in chunk.chunks_mut(len).enumerate() {
                        let r = t * rows_per_task + i;
                        let xr = &x[r * len..(r + 1) * len];
                        let gr = &dy[r * len..(r + 1) * len];
                        let (mean, rstd) = (stats.mean[r], stats.rstd[r]);
                        let (m, rs) = (F::cast(mean), F::cast(rstd));
                        // Sums about m_F (the mean rounded to F) are corrected to the
                        // exact mean: Σ g·(x − m) = Σ g·(x − m_F) + (m_F − m)·Σ g.
                        let shift = m.widen() - mean;
                        let base = (r % period) * segs;
                        // Pass 1: Σ dx̂ and Σ dx̂·(x − mean), and the parameter sums.
                        let (mut s1, mut s2) = (0.0f64, 0.0f64);
                        if group == 1 {
                            let wr = &w[base..base + len];
                            for ((xs, gs), ws) in
                                xr.chunks(BLOCK).zip(gr.chunks(BLOCK)).zip(wr.chunks(BLOCK))
                            {
                                let (a, b) = lane_weighted(xs, gs, ws, m);
                                s1 += a.widen();
                                s2 += b.widen() + shift * a.widen();
                            }
                            if param_grads {
                                let (dwr, dbr) =
                                    (&mut dw[base..base + len], &mut db[base..base + len]);
                                for (((a, bb), &xv), &gv) in
                                    dwr.iter_mut().zip(dbr.iter_mut()).zip(xr).zip(gr)
                                {
                                    *a += gv * (xv - m) * rs;
                                    *bb += gv;
                                }
                            }
                        } else {
                            for (k, (xs, gs)) in xr.chunks(group).zip(gr.chunks(group)).enumerate()
                            {
                                let (mut sg, mut sgd) = (0.0f64, 0.0f64);
                                for (xb, gb) in xs.chunks(BLOCK).zip(gs.chunks(BLOCK)) {
                                    let (a, b) = lane_g_gdev(xb, gb, m);
                                    sg += a.widen();
                                    sgd += b.widen() + shift * a.widen();
                                }
                                let wk = w[base + k].widen();
                                s1 += wk * sg;
                                s2 += wk * sgd;
                                if param_grads {
                                    dw[base + k] += F::cast(sgd * rstd);
                                    db[base + k] += F::cast(sg);
                                }
                            }
                        }
                        let mdxhat = if center { s1 * inv_len } else { 0.0 };
                        let mdxhat_xhat = s2 * rstd * inv_len;
                        // Pass 2: dx = rstd·dx̂ − rstd·mean(dx̂) − (x − mean)·rstd²·mean(dx̂·x̂).
                        let (c0, c1) = (F::cast(rstd * mdxhat), F::cast(rstd * rstd * mdxhat_xhat));
                        if group == 1 {
                            let wr = &w[base..base + len];
                            written += dxr.len().min(xr.len()).min(gr.len()).min(wr.len());
                            for (((o, &xv), &gv), &wv) in dxr.iter_mut().zip(xr).zip(gr).zip(wr) {
                                o.write(rs * wv * gv - c0 - (xv - m) * c1);
                            }
                        } else {
                            for (k, ((os, xs), gs)) in dxr
                                .chunks_mut(group)
                                .zip(xr.chunks(group))
                                .zip(gr.chunks(group))
                                .enumerate()
                            {
                                let kw = rs * w[base + k];
                                written += os.len().min(xs.len()).min(gs.len());
                                for ((o, &xv), &gv) in os.iter_mut().zip(xs).zip(gs) {
                                    o.write(kw * gv - c0 - (xv - m) * c1);
                                }
                            }
                        }
                    }
                    (written, (dw, db))
                },
            )
        },
    );
    let (mut dw, mut db) = (vec![0.0f64; n_aff], vec![0.0f64; n_aff]);
    if param_grads {
        for (pw, pb) in &parts {
            for (a, v) in dw.iter_mut().zip(pw) {
                *a += v.widen();
            }
            for (a, v) in db.iter_mut().zip(pb) {
                *a += v.widen();
            }
        }
    }
    let cast = |v: Vec<f64>| {
        if param_grads {
            v.into_iter().map(F::cast).collect()
        } else {
            Vec::new()
        }
    };
    Ok(RowGrads {
        dx,
        dweight: cast(dw),
        dbias: cast(db),
    })
}
