//! Per-channel kernels of an `N, C, S` buffer (`S` = product of the spatial
//! axes): batch norm forward and backward in training (batch statistics)
//! and in eval (running statistics).
//!
//! Large planes (`S ≥ 16`) are processed plane by plane, a plane's
//! coefficients being scalars and its loop contiguous; small planes (batch
//! norm 1-d, `S = 1`) sample by sample over a row of `C·S` values with the
//! per-channel coefficients expanded along the row, so the inner loops stay
//! contiguous and vectorize in both cases. Work is split over planes (hence
//! over channels and batch chunks alike) or over batch chunks.

use core_tensor::chunks::build_chunks;
use core_tensor::{Float, Par, TensorError};

use super::{BLOCK, CHANNEL_PAR_MIN, Moments, channel_par, lane_g_gdev, units_per_task, wide};
use crate::NormError;

/// Planes at least this long are processed one at a time.
const PLANE_MIN: usize = 16;

/// The `N, C, S` view of an input of shape `N, C, *spatial`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ChannelLayout {
    /// Batch size.
    pub n: usize,
    /// Channels.
    pub c: usize,
    /// Product of the spatial axes (1 for an `N, C` input).
    pub s: usize,
}

impl ChannelLayout {
    /// The layout of a shape of rank at least 2.
    ///
    /// # Errors
    /// [`NormError::WrongRank`] for rank < 2, [`NormError::Tensor`] when the
    /// element count overflows.
    pub fn of_shape(op: &'static str, shape: &[usize]) -> Result<Self, NormError> {
        if shape.len() < 2 {
            return Err(NormError::WrongRank {
                op,
                min: 2,
                layout: "N, C, *",
                shape: shape.to_vec(),
            });
        }
        let overflow = || {
            NormError::Tensor(TensorError::SizeOverflow {
                op,
                shape: shape.to_vec(),
            })
        };
        let s = shape[2..]
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(overflow)?;
        let layout = ChannelLayout {
            n: shape[0],
            c: shape[1],
            s,
        };
        layout.checked_numel().ok_or_else(overflow)?;
        Ok(layout)
    }

    /// `N·C·S`, or `None` on overflow.
    pub fn checked_numel(&self) -> Option<usize> {
        self.n.checked_mul(self.c)?.checked_mul(self.s)
    }

    /// `N·C·S` (a layout built by [`ChannelLayout::of_shape`] cannot overflow).
    pub fn numel(&self) -> usize {
        self.n * self.c * self.s
    }

    /// The number of values each channel's statistics are taken over, `N·S`.
    pub fn per_channel(&self) -> usize {
        self.n * self.s
    }

    fn check(
        &self,
        op: &'static str,
        name: &'static str,
        got: usize,
        per_channel: bool,
    ) -> Result<(), NormError> {
        let (expected, shape) = if per_channel {
            (self.c, vec![self.c])
        } else {
            (self.numel(), vec![self.n, self.c, self.s])
        };
        if got != expected {
            let _ = name;
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

/// Per-channel moments (count `N·S`, mean, `M2`) of `x`: two-pass within
/// each plane, planes merged with Chan's formula; for small planes a global
/// two-pass over whole samples.
///
/// # Errors
/// [`NormError::Tensor`] when `x.len()` is not `N·C·S`.
pub fn channel_moments<F: Float>(
    x: &[F],
    layout: ChannelLayout,
    par: Par,
) -> Result<Vec<Moments>, NormError> {
    layout.check("batch_norm", "x", x.len(), false)?;
    let ChannelLayout { n, c, s } = layout;
    if x.is_empty() {
        return Ok(vec![Moments::EMPTY; c]);
    }
    let par = channel_par(par, x.len());
    if s >= PLANE_MIN {
        let planes = par.map_range(n * c, |p| wide(|| Moments::of(&x[p * s..(p + 1) * s])));
        return Ok((0..c)
            .map(|ch| (0..n).fold(Moments::EMPTY, |acc, i| acc.merge(planes[i * c + ch])))
            .collect());
    }
    // Small planes: tasks of whole samples (rows of `C·S` values). Each task
    // takes two-pass moments of every row position over its own rows, summed
    // in the element type (at most `SMALL_MAX_ROWS` rows, shifted by the
    // task's first row: contiguous, vectorizable loops over a cache-resident
    // block), finished in `f64`; the tasks are then combined per channel.
    let row = c * s;
    let rows_per_task = small_rows_per_task(n, row);
    let parts = par.map_range(n.div_ceil(rows_per_task), |t| {
        wide(
            #[inline(always)]
            || {
                let rows = t * rows_per_task..((t + 1) * rows_per_task).min(n);
                let cnt = rows.len();
                let block = &x[rows.start * row..rows.end * row];
                let first = &block[..row];
                let mut acc = vec![F::zero(); row];
                // Rows in order for every position (four per pass over
                // `acc`, which is then loaded and stored once for four).
                let quads = block[row..].chunks_exact(QUAD * row);
                let rest = quads.remainder();
                for q in quads {
                    let r: [&[F]; QUAD] = std::array::from_fn(|k| &q[k * row..(k + 1) * row]);
                    for (e, (a, &f)) in acc.iter_mut().zip(first).enumerate() {
                        *a += r[0][e] - f;
                        *a += r[1][e] - f;
                        *a += r[2][e] - f;
                        *a += r[3][e] - f;
                    }
                }
                for xr in rest.chunks_exact(row) {
                    for ((a, &v), &f) in acc.iter_mut().zip(xr).zip(first) {
                        *a += v - f;
                    }
                }
                let inv = 1.0 / cnt as f64;
                let mean: Vec<f64> = acc
                    .iter()
                    .zip(first)
                    .map(|(&a, &f)| f.widen() + a.widen() * inv)
                    .collect();
                let mean_f: Vec<F> = mean.iter().map(|&m| F::cast(m)).collect();
                acc.fill(F::zero());
                let quads = block.chunks_exact(QUAD * row);
                let rest = quads.remainder();
                for q in quads {
                    let r: [&[F]; QUAD] = std::array::from_fn(|k| &q[k * row..(k + 1) * row]);
                    for (e, (a, &m)) in acc.iter_mut().zip(&mean_f).enumerate() {
                        for rk in r {
                            let d = rk[e] - m;
                            *a += d * d;
                        }
                    }
                }
                for xr in rest.chunks_exact(row) {
                    for ((a, &v), &m) in acc.iter_mut().zip(xr).zip(&mean_f) {
                        let d = v - m;
                        *a += d * d;
                    }
                }
                // Σ(x − m)² = Σ(x − m_F)² − n·(m − m_F)², m_F being m rounded to F.
                let m2: Vec<f64> = acc
                    .iter()
                    .zip(&mean)
                    .zip(&mean_f)
                    .map(|((&a, &m), &mf)| {
                        let sh = m - mf.widen();
                        (a.widen() - cnt as f64 * sh * sh).max(0.0)
                    })
                    .collect();
                (cnt as f64, mean, m2)
            },
        )
    });
    // Combine the (task, position) moments of each channel: the overall mean,
    // then `M2 = Σ m2ᵢ + nᵢ·(meanᵢ − mean)²` (exact, no cancellation).
    let count = n * s;
    let mut means = vec![0.0f64; c];
    for (cnt, mean, _) in &parts {
        for (acc, ms) in means.iter_mut().zip(mean.chunks_exact(s)) {
            *acc += cnt * ms.iter().sum::<f64>();
        }
    }
    for m in &mut means {
        *m /= count as f64;
    }
    let mut m2s = vec![0.0f64; c];
    for (cnt, mean, m2) in &parts {
        for ((acc, &mc), (ms, qs)) in m2s
            .iter_mut()
            .zip(&means)
            .zip(mean.chunks_exact(s).zip(m2.chunks_exact(s)))
        {
            for (&m, &q) in ms.iter().zip(qs) {
                let d = m - mc;
                *acc += q + cnt * d * d;
            }
        }
    }
    Ok(means
        .iter()
        .zip(&m2s)
        .map(|(&mean, &m2)| Moments { count, mean, m2 })
        .collect())
}

/// Most samples a small-plane task sums over in the element type.
const SMALL_MAX_ROWS: usize = 256;

/// Samples per task for small planes: below [`CHANNEL_PAR_MIN`] elements
/// (run sequentially) blocks of up to `SMALL_MAX_ROWS` samples, since every
/// block costs `f64` vectors and a merge per row position; above it enough
/// work per task, at most eight tasks when that keeps blocks short. The
/// split depends only on the layout, never on the number of threads, so
/// results do not depend on `Par`.
fn small_rows_per_task(n: usize, row: usize) -> usize {
    if n.saturating_mul(row) < CHANNEL_PAR_MIN {
        // Sequential anyway: the fewest blocks (each costs `f64` vectors and
        // a merge per row position).
        return n.clamp(1, SMALL_MAX_ROWS);
    }
    units_per_task(row)
        .max(n.div_ceil(8))
        .clamp(1, SMALL_MAX_ROWS)
}

/// Samples handled together by the small-plane loops: per-position
/// coefficients and accumulators are loaded once for four samples.
const QUAD: usize = 4;

/// The four `row`-long rows of `block` (which holds exactly four).
fn split_rows<T>(block: &mut [T], row: usize) -> [&mut [T]; QUAD] {
    let (r0, rest) = block.split_at_mut(row);
    let (r1, rest) = rest.split_at_mut(row);
    let (r2, r3) = rest.split_at_mut(row);
    [r0, r1, r2, r3]
}

/// Per-channel values repeated `s` times each: their values along a
/// sample's row of `C·S` positions (without a division per position).
fn along_row<T: Copy>(per_channel: impl ExactSizeIterator<Item = T>, s: usize) -> Vec<T> {
    if s == 1 {
        return per_channel.collect();
    }
    let mut row = Vec::with_capacity(per_channel.len() * s);
    for v in per_channel {
        row.extend(std::iter::repeat_n(v, s));
    }
    row
}

/// Applies per-channel coefficients `k[c]` elementwise: `out[i] =
/// body(k[c(i)], inputs[..][i])`.
fn channel_zip<F: Float, const K: usize, const M: usize>(
    par: Par,
    layout: ChannelLayout,
    coeffs: &[[F; K]],
    inputs: [&[F]; M],
    body: impl Fn(&[F; K], [F; M]) -> F + Sync + Send,
) -> Vec<F> {
    let ChannelLayout { c, s, .. } = layout;
    let len = layout.numel();
    if len == 0 {
        return Vec::new();
    }
    let par = channel_par(par, len);
    if s >= PLANE_MIN {
        let planes_per_task = units_per_task(s);
        build_chunks(par, len, planes_per_task * s, |t, chunk| {
            wide(
                #[inline(always)]
                || {
                    let mut written = 0;
                    for (p, o) in chunk.chunks_mut(s).enumerate() {
                        let plane = t * planes_per_task + p;
                        let k = &coeffs[plane % c];
                        let off = plane * s;
                        let ins: [&[F]; M] = inputs.map(|v| &v[off..off + s]);
                        for (e, oe) in o.iter_mut().enumerate() {
                            oe.write(body(k, ins.map(|v| v[e])));
                        }
                        written += o.len();
                    }
                    (written, ())
                },
            )
        })
        .0
    } else {
        // Per-channel coefficients expanded along a sample, one array per
        // coefficient, so the loop over a sample reads `K + M` contiguous
        // slices of the same length and vectorizes.
        let row = c * s;
        let expanded: [Vec<F>; K] =
            std::array::from_fn(|k| along_row(coeffs.iter().map(|ck| ck[k]), s));
        let rows_per_task = units_per_task(row);
        build_chunks(par, len, rows_per_task * row, |t, chunk| {
            wide(
                #[inline(always)]
                || {
                    let mut written = 0;
                    let ks: [&[F]; K] = expanded.each_ref().map(|v| &v[..row]);
                    // Four samples per pass over the coefficients, which
                    // are then loaded once for four outputs.
                    for (q, o4) in chunk.chunks_mut(QUAD * row).enumerate() {
                        let off = (t * rows_per_task + q * QUAD) * row;
                        if o4.len() == QUAD * row {
                            let os = split_rows(o4, row);
                            let ins: [[&[F]; M]; QUAD] = std::array::from_fn(|r| {
                                inputs.map(|v| &v[off + r * row..off + (r + 1) * row])
                            });
                            let [o0, o1, o2, o3] = os;
                            let (o0, o1, o2, o3) = (
                                &mut o0[..row],
                                &mut o1[..row],
                                &mut o2[..row],
                                &mut o3[..row],
                            );
                            for e in 0..row {
                                let k = ks.map(|v| v[e]);
                                o0[e].write(body(&k, ins[0].map(|v| v[e])));
                                o1[e].write(body(&k, ins[1].map(|v| v[e])));
                                o2[e].write(body(&k, ins[2].map(|v| v[e])));
                                o3[e].write(body(&k, ins[3].map(|v| v[e])));
                            }
                            written += o4.len();
                            continue;
                        }
                        for (r, o) in o4.chunks_mut(row).enumerate() {
                            let off = off + r * row;
                            let ins: [&[F]; M] = inputs.map(|v| &v[off..off + row]);
                            let o = &mut o[..row];
                            for (e, oe) in o.iter_mut().enumerate() {
                                oe.write(body(&ks.map(|v| v[e]), ins.map(|v| v[e])));
                            }
                            written += o.len();
                        }
                    }
                    (written, ())
                },
            )
        })
        .0
    }
}

/// Batch-norm forward with given statistics:
/// `y = (x − mean[c]) · invstd[c] · weight[c] + bias[c]`
/// (weight 1 and bias 0 when absent). In training `mean`/`invstd` are the
/// batch mean and `1/sqrt(var_biased + eps)`; in eval they come from the
/// running statistics.
///
/// # Errors
/// [`NormError::Tensor`] when a slice length does not match `layout`.
pub fn channel_forward<F: Float>(
    x: &[F],
    layout: ChannelLayout,
    mean: &[f64],
    invstd: &[f64],
    weight: Option<&[F]>,
    bias: Option<&[F]>,
    par: Par,
) -> Result<Vec<F>, NormError> {
    let op = "batch_norm";
    layout.check(op, "x", x.len(), false)?;
    layout.check(op, "mean", mean.len(), true)?;
    layout.check(op, "invstd", invstd.len(), true)?;
    for w in [weight, bias].into_iter().flatten() {
        layout.check(op, "weight", w.len(), true)?;
    }
    let coeffs: Vec<[F; 3]> = (0..layout.c)
        .map(|ch| {
            let w = weight.map_or(1.0, |w| w[ch].widen());
            let b = bias.map_or(0.0, |b| b[ch].widen());
            [F::cast(mean[ch]), F::cast(invstd[ch] * w), F::cast(b)]
        })
        .collect();
    Ok(channel_zip(par, layout, &coeffs, [x], |k, [x]| {
        (x - k[0]) * k[1] + k[2]
    }))
}

/// Per-channel `(Σ dy, Σ dy·(x − mean))` in `f64`, one pass over both.
///
/// # Errors
/// [`NormError::Tensor`] when a slice length does not match `layout`.
pub fn channel_grad_sums<F: Float>(
    x: &[F],
    dy: &[F],
    layout: ChannelLayout,
    mean: &[f64],
    par: Par,
) -> Result<Vec<(f64, f64)>, NormError> {
    let op = "batch_norm_backward";
    layout.check(op, "x", x.len(), false)?;
    layout.check(op, "grad_output", dy.len(), false)?;
    layout.check(op, "mean", mean.len(), true)?;
    let ChannelLayout { n, c, s } = layout;
    if x.is_empty() {
        return Ok(vec![(0.0, 0.0); c]);
    }
    let par = channel_par(par, x.len());
    if s >= PLANE_MIN {
        let planes = par.map_range(n * c, |p| {
            wide(
                #[inline(always)]
                || {
                    let r = p * s..(p + 1) * s;
                    let m = F::cast(mean[p % c]);
                    let shift = m.widen() - mean[p % c];
                    let (mut sa, mut sb) = (0.0f64, 0.0f64);
                    for (xb, gb) in x[r.clone()].chunks(BLOCK).zip(dy[r].chunks(BLOCK)) {
                        let (a, b) = lane_g_gdev(xb, gb, m);
                        // Σ g·(x − m) = Σ g·(x − m_F) + (m_F − m)·Σ g.
                        sa += a.widen();
                        sb += b.widen() + shift * a.widen();
                    }
                    (sa, sb)
                },
            )
        });
        return Ok((0..c)
            .map(|ch| {
                (0..n).fold((0.0, 0.0), |(a, b), i| {
                    (a + planes[i * c + ch].0, b + planes[i * c + ch].1)
                })
            })
            .collect());
    }
    // Small planes: per-task sums over whole samples in the element type
    // (short blocks of at most `SMALL_MAX_ROWS` samples), about the mean
    // rounded to F and corrected in `f64`, then summed per channel.
    let row = c * s;
    let rows_per_task = small_rows_per_task(n, row);
    let mean_f: Vec<F> = along_row(mean.iter().map(|&m| F::cast(m)), s);
    let shift: Vec<f64> = along_row(mean.iter().map(|&m| F::cast(m).widen() - m), s);
    let parts = par.map_range(n.div_ceil(rows_per_task), |t| {
        wide(
            #[inline(always)]
            || {
                let rows = t * rows_per_task..((t + 1) * rows_per_task).min(n);
                let xs = &x[rows.start * row..rows.end * row];
                let gs = &dy[rows.start * row..rows.end * row];
                let mut a = vec![F::zero(); row];
                let mut b = vec![F::zero(); row];
                // Rows in order for every position, four per pass over the
                // accumulators.
                let (xq, gq) = (xs.chunks_exact(QUAD * row), gs.chunks_exact(QUAD * row));
                let (xs, gs) = (xq.remainder(), gq.remainder());
                for (xq, gq) in xq.zip(gq) {
                    let xr: [&[F]; QUAD] = std::array::from_fn(|k| &xq[k * row..(k + 1) * row]);
                    let gr: [&[F]; QUAD] = std::array::from_fn(|k| &gq[k * row..(k + 1) * row]);
                    for (e, ((aj, bj), &m)) in
                        a.iter_mut().zip(b.iter_mut()).zip(&mean_f).enumerate()
                    {
                        for (xk, gk) in xr.iter().zip(&gr) {
                            let gv = gk[e];
                            *aj += gv;
                            *bj += gv * (xk[e] - m);
                        }
                    }
                }
                for (xr, gr) in xs.chunks_exact(row).zip(gs.chunks_exact(row)) {
                    for ((((aj, bj), &xv), &gv), &m) in
                        a.iter_mut().zip(b.iter_mut()).zip(xr).zip(gr).zip(&mean_f)
                    {
                        *aj += gv;
                        *bj += gv * (xv - m);
                    }
                }
                (a, b)
            },
        )
    });
    let mut out = vec![(0.0f64, 0.0f64); c];
    for (a, b) in &parts {
        for (o, ((ac, bc), sc)) in out.iter_mut().zip(
            a.chunks_exact(s)
                .zip(b.chunks_exact(s))
                .zip(shift.chunks_exact(s)),
        ) {
            for ((&av, &bv), &sh) in ac.iter().zip(bc).zip(sc) {
                // Σ g·(x − m) = Σ g·(x − m_F) + (m_F − m)·Σ g.
                o.0 += av.widen();
                o.1 += bv.widen() + sh * av.widen();
            }
        }
    }
    Ok(out)
}

/// Gradients of a batch-norm call.
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelGrads<F> {
    /// Gradient of the input, shaped like it.
    pub dx: Vec<F>,
    /// Gradient of `weight`: `Σ dy · x̂` per channel.
    pub dweight: Vec<F>,
    /// Gradient of `bias`: `Σ dy` per channel.
    pub dbias: Vec<F>,
}

/// Batch-norm backward in training (batch statistics), the fused formula
///
/// `dx = (n·dx̂ − Σdx̂ − x̂·Σ(dx̂·x̂)) / (n·sqrt(var + eps))`, `dx̂ = γ·dy`,
/// `dγ = Σ x̂·dy`, `dβ = Σ dy` (sums per channel over `N·S` values):
/// one pass for the two sums, a second for `dx`.
///
/// `mean` and `invstd` are the values of the forward pass.
///
/// # Errors
/// [`NormError::Tensor`] when a slice length does not match `layout`.
pub fn batch_norm_backward_train<F: Float>(
    x: &[F],
    dy: &[F],
    layout: ChannelLayout,
    mean: &[f64],
    invstd: &[f64],
    weight: Option<&[F]>,
    par: Par,
) -> Result<ChannelGrads<F>, NormError> {
    layout.check("batch_norm_backward", "invstd", invstd.len(), true)?;
    if let Some(w) = weight {
        layout.check("batch_norm_backward", "weight", w.len(), true)?;
    }
    let ChannelLayout { n, c, s } = layout;
    // Small planes whose sums take one block of samples on one thread
    // (see `small_rows_per_task`): the same arithmetic, column block by
    // column block. (Decided by the layout alone, so `par` never changes
    // the bits.)
    let blocked = s < PLANE_MIN
        && n <= SMALL_MAX_ROWS
        && n.saturating_mul(c * s) < CHANNEL_PAR_MIN
        && !x.is_empty();
    let (dx, sums) = if blocked {
        layout.check("batch_norm_backward", "x", x.len(), false)?;
        layout.check("batch_norm_backward", "grad_output", dy.len(), false)?;
        layout.check("batch_norm_backward", "mean", mean.len(), true)?;
        let k = column_block_channels(n, s);
        backward_train_blocked(x, dy, layout, mean, invstd, weight, k)
    } else {
        let sums = channel_grad_sums(x, dy, layout, mean, par)?;
        let coeffs: Vec<[F; 4]> = (0..c)
            .map(|ch| backward_coeffs(ch, sums[ch], layout, mean, invstd, weight))
            .collect();
        let dx = channel_zip(par, layout, &coeffs, [x, dy], |k, [x, g]| dx_of(k, x, g));
        (dx, sums)
    };
    Ok(ChannelGrads {
        dx,
        dweight: sums
            .iter()
            .zip(invstd)
            .map(|(&(_, b), &is)| F::cast(b * is))
            .collect(),
        dbias: sums.iter().map(|&(a, _)| F::cast(a)).collect(),
    })
}

/// The per-channel coefficients `[mean, k_dy, k_x, k_0]` of the training
/// backward, so that `dx = k_dy·dy − k_x·(x − mean) − k_0` ([`dx_of`]),
/// from the channel's sums `(Σ dy, Σ dy·(x − mean))`.
fn backward_coeffs<F: Float>(
    ch: usize,
    (sdy, sdyx): (f64, f64),
    layout: ChannelLayout,
    mean: &[f64],
    invstd: &[f64],
    weight: Option<&[F]>,
) -> [F; 4] {
    let count = layout.per_channel() as f64;
    let w = weight.map_or(1.0, |w| w[ch].widen());
    let k_dy = w * invstd[ch];
    let mean_dy_xhat = sdyx * invstd[ch] / count;
    [
        F::cast(mean[ch]),
        F::cast(k_dy),
        F::cast(k_dy * invstd[ch] * mean_dy_xhat),
        F::cast(k_dy * sdy / count),
    ]
}

/// One input gradient of the training backward from its channel's
/// [`backward_coeffs`].
#[inline(always)]
fn dx_of<F: Float>(k: &[F; 4], x: F, g: F) -> F {
    k[1] * g - k[2] * (x - k[0]) - k[3]
}

/// Values per input in a column block of [`backward_train_blocked`].
const COLUMN_BLOCK: usize = 1 << 17;

/// Channels per column block for `n` samples of `s` values per channel.
fn column_block_channels(n: usize, s: usize) -> usize {
    (COLUMN_BLOCK / (n * s).max(1)).max(1)
}

/// The training backward of small planes in one block of samples (the
/// sequential case of [`channel_grad_sums`]), a few channels at a time:
/// their two sums over all samples, then their input gradients while
/// their columns of `x` and `dy` are still in the cache, so memory sees
/// one read of `x` and `dy` instead of two. Every value is computed as in
/// [`channel_grad_sums`] and [`channel_zip`] (sums per position over the
/// samples in order, finished per channel in `f64`), so the results are
/// the same bits. Returns `dx` and the per-channel sums.
fn backward_train_blocked<F: Float>(
    x: &[F],
    dy: &[F],
    layout: ChannelLayout,
    mean: &[f64],
    invstd: &[f64],
    weight: Option<&[F]>,
    block_channels: usize,
) -> (Vec<F>, Vec<(f64, f64)>) {
    let ChannelLayout { n, c, s } = layout;
    let row = c * s;
    let mean_f: Vec<F> = along_row(mean.iter().map(|&m| F::cast(m)), s);
    let shift: Vec<f64> = along_row(mean.iter().map(|&m| F::cast(m).widen() - m), s);
    let mut sums = vec![(0.0f64, 0.0f64); c];
    let mut dx: Vec<F> = Vec::with_capacity(n * row);
    let out = &mut dx.spare_capacity_mut()[..n * row];
    wide(
        #[inline(always)]
        || {
            let width = block_channels * s;
            let (mut a, mut b) = (vec![F::zero(); width], vec![F::zero(); width]);
            // The coefficients of the block's positions, one array each.
            let mut ks: [Vec<F>; 4] = std::array::from_fn(|_| Vec::with_capacity(width));
            for c0 in (0..c).step_by(block_channels) {
                let c1 = (c0 + block_channels).min(c);
                let (p0, w) = (c0 * s, (c1 - c0) * s);
                let (a, b) = (&mut a[..w], &mut b[..w]);
                a.fill(F::zero());
                b.fill(F::zero());
                let m = &mean_f[p0..p0 + w];
                // Samples in order for every position, four per pass over
                // the accumulators (as in `channel_grad_sums`).
                let quads = n / QUAD * QUAD;
                for r0 in (0..quads).step_by(QUAD) {
                    let xr: [&[F]; QUAD] = std::array::from_fn(|k| &x[(r0 + k) * row + p0..][..w]);
                    let gr: [&[F]; QUAD] = std::array::from_fn(|k| &dy[(r0 + k) * row + p0..][..w]);
                    for e in 0..w {
                        let mv = m[e];
                        let (mut av, mut bv) = (a[e], b[e]);
                        for k in 0..QUAD {
                            let gv = gr[k][e];
                            av += gv;
                            bv += gv * (xr[k][e] - mv);
                        }
                        (a[e], b[e]) = (av, bv);
                    }
                }
                for r in quads..n {
                    let (xr, gr) = (&x[r * row + p0..][..w], &dy[r * row + p0..][..w]);
                    for e in 0..w {
                        let gv = gr[e];
                        a[e] += gv;
                        b[e] += gv * (xr[e] - m[e]);
                    }
                }
                for k in &mut ks {
                    k.clear();
                }
                for ch in c0..c1 {
                    let p = (ch - c0) * s..(ch - c0 + 1) * s;
                    let o = &mut sums[ch];
                    let sh = &shift[ch * s..(ch + 1) * s];
                    for ((&av, &bv), &sh) in a[p.clone()].iter().zip(&b[p]).zip(sh) {
                        // Σ g·(x − m) = Σ g·(x − m_F) + (m_F − m)·Σ g.
                        o.0 += av.widen();
                        o.1 += bv.widen() + sh * av.widen();
                    }
                    let k = backward_coeffs(ch, *o, layout, mean, invstd, weight);
                    for (kv, &v) in ks.iter_mut().zip(&k) {
                        kv.extend(std::iter::repeat_n(v, s));
                    }
                }
                let [k0, k1, k2, k3] = ks.each_ref().map(|v| &v[..w]);
                for r in 0..n {
                    let (xr, gr) = (&x[r * row + p0..][..w], &dy[r * row + p0..][..w]);
                    let dr = &mut out[r * row + p0..][..w];
                    for e in 0..w {
                        let k = [k0[e], k1[e], k2[e], k3[e]];
                        dr[e].write(dx_of(&k, xr[e], gr[e]));
                    }
                }
            }
        },
    );
    // SAFETY: the column blocks partition the columns `0..row` and every
    // row of each block was written above, so all `n·row` values are set.
    unsafe { dx.set_len(n * row) };
    (dx, sums)
}

/// Batch-norm backward in eval (fixed running statistics): the affine map
/// `dx = dy · γ · invstd`, `dγ = Σ dy·(x − mean)·invstd`, `dβ = Σ dy`.
/// The per-channel sums are only computed when `param_grads` is true
/// (otherwise `dweight`/`dbias` are empty).
///
/// # Errors
/// [`NormError::Tensor`] when a slice length does not match `layout`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_backward_eval<F: Float>(
    x: &[F],
    dy: &[F],
    layout: ChannelLayout,
    mean: &[f64],
    invstd: &[f64],
    weight: Option<&[F]>,
    param_grads: bool,
    par: Par,
) -> Result<ChannelGrads<F>, NormError> {
    let op = "batch_norm_backward";
    layout.check(op, "grad_output", dy.len(), false)?;
    layout.check(op, "invstd", invstd.len(), true)?;
    if let Some(w) = weight {
        layout.check(op, "weight", w.len(), true)?;
    }
    let coeffs: Vec<[F; 1]> = (0..layout.c)
        .map(|ch| [F::cast(weight.map_or(1.0, |w| w[ch].widen()) * invstd[ch])])
        .collect();
    let dx = channel_zip(par, layout, &coeffs, [dy], |k, [g]| k[0] * g);
    let (dweight, dbias) = if param_grads {
        let sums = channel_grad_sums(x, dy, layout, mean, par)?;
        (
            sums.iter()
                .zip(invstd)
                .map(|(&(_, b), &is)| F::cast(b * is))
                .collect(),
            sums.iter().map(|&(a, _)| F::cast(a)).collect(),
        )
    } else {
        (Vec::new(), Vec::new())
    };
    Ok(ChannelGrads { dx, dweight, dbias })
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_tensor::Rng;

    /// The column-blocked training backward gives the bits of the two
    /// passes it replaces (sums over all channels, then `dx`), for any
    /// block width, with weights or without, in f32 and f64, on values
    /// with a large offset (where the rounded mean's correction matters).
    #[test]
    fn blocked_backward_equals_the_two_passes_bitwise() {
        let mut rng = Rng::new(41);
        for &(n, c, s) in &[
            (2, 1, 1),
            (3, 5, 1),
            (7, 9, 2),
            (16, 33, 3),
            (5, 64, 15),
            (40, 12, 1),
        ] {
            let layout = ChannelLayout { n, c, s };
            let len = n * c * s;
            let x: Vec<f64> = (0..len).map(|_| 1e4 + rng.normal()).collect();
            let dy: Vec<f64> = (0..len).map(|_| rng.normal()).collect();
            let mean: Vec<f64> = (0..c).map(|_| 1e4 + 0.1 * rng.normal()).collect();
            let invstd: Vec<f64> = (0..c).map(|_| 0.5 + rng.uniform()).collect();
            let w: Vec<f64> = (0..c).map(|_| rng.normal()).collect();
            for weight in [None, Some(&w[..])] {
                check(&x, &dy, layout, &mean, &invstd, weight);
                let (x32, dy32): (Vec<f32>, Vec<f32>) = (
                    x.iter().map(|&v| v as f32).collect(),
                    dy.iter().map(|&v| v as f32).collect(),
                );
                let w32: Option<Vec<f32>> = weight.map(|w| w.iter().map(|&v| v as f32).collect());
                check(&x32, &dy32, layout, &mean, &invstd, w32.as_deref());
            }
        }
    }

    fn check<F: Float>(
        x: &[F],
        dy: &[F],
        layout: ChannelLayout,
        mean: &[f64],
        invstd: &[f64],
        weight: Option<&[F]>,
    ) {
        let sums = channel_grad_sums(x, dy, layout, mean, Par::Seq).unwrap();
        let coeffs: Vec<[F; 4]> = (0..layout.c)
            .map(|ch| backward_coeffs(ch, sums[ch], layout, mean, invstd, weight))
            .collect();
        let dx = channel_zip(Par::Seq, layout, &coeffs, [x, dy], |k, [x, g]| {
            dx_of(k, x, g)
        });
        let bits = |v: &[F]| {
            v.iter()
                .map(|x| x.to_f64().unwrap().to_bits())
                .collect::<Vec<_>>()
        };
        for k in [1, 2, 3, layout.c] {
            let (bdx, bsums) = backward_train_blocked(x, dy, layout, mean, invstd, weight, k);
            assert_eq!(bits(&bdx), bits(&dx), "{layout:?} block {k}");
            assert_eq!(bsums, sums, "{layout:?} block {k}");
        }
        // The public entry takes the blocked path for these layouts.
        let g = batch_norm_backward_train(x, dy, layout, mean, invstd, weight, Par::Rayon).unwrap();
        assert_eq!(bits(&g.dx), bits(&dx));
    }
}
