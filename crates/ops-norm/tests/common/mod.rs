//! Helpers shared by the integration tests: tolerance comparison, seeded
//! data, and reference norms composed from `autograd` basic ops.
#![allow(dead_code)]

use autograd::{Result, Tensor, Var};
use core_tensor::{Float, Rng};

/// Asserts `|got − want| <= atol + rtol·|want|` elementwise (NaN must match
/// NaN), reporting the worst element and its index.
pub(crate) fn assert_close(got: &[f64], want: &[f64], rtol: f64, atol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let mut worst: Option<(usize, f64)> = None;
    for (i, (&a, &b)) in got.iter().zip(want).enumerate() {
        let excess = if a.is_nan() || b.is_nan() {
            if a.is_nan() && b.is_nan() {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        } else {
            (a - b).abs() - (atol + rtol * b.abs())
        };
        if excess > 0.0 && worst.is_none_or(|(_, e)| excess > e) {
            worst = Some((i, excess));
        }
    }
    if let Some((i, _)) = worst {
        panic!(
            "{what}: element {i}: got {} want {} (rtol {rtol}, atol {atol})",
            got[i], want[i]
        );
    }
}

/// Values of a tensor widened to f64.
pub(crate) fn vals<F: Float>(t: &Tensor<F>) -> Vec<f64> {
    t.to_f64_vec()
}

/// A tensor of uniform values in `[lo, hi)`.
pub(crate) fn uniform<F: Float>(rng: &mut Rng, shape: &[usize], lo: f64, hi: f64) -> Tensor<F> {
    let n: usize = shape.iter().product();
    Tensor::from_vec(
        shape,
        (0..n).map(|_| F::cast(rng.uniform_in(lo, hi))).collect(),
    )
    .expect("shape and data agree")
}

fn bshape(rank: usize, c: usize) -> Vec<usize> {
    let mut s = vec![1; rank];
    s[1] = c;
    s
}

fn affine(
    y: Var<f64>,
    w: Option<&Var<f64>>,
    b: Option<&Var<f64>>,
    shape: &[usize],
) -> Result<Var<f64>> {
    let y = match w {
        Some(w) => y.mul(&w.reshape(shape)?)?,
        None => y,
    };
    match b {
        Some(b) => y.add(&b.reshape(shape)?),
        None => Ok(y),
    }
}

fn standardize(x: &Var<f64>, axes: &[isize], eps: f64) -> Result<Var<f64>> {
    let d = x.sub(&x.mean(axes, true)?)?;
    let var = d.mul(&d)?.mean(axes, true)?;
    d.div(&var.add_scalar(eps).sqrt())
}

/// Batch norm with batch statistics, composed from basic ops.
pub(crate) fn ref_batch_train(
    x: &Var<f64>,
    w: Option<&Var<f64>>,
    b: Option<&Var<f64>>,
    eps: f64,
) -> Result<Var<f64>> {
    let rank = x.ndim();
    let axes: Vec<isize> = std::iter::once(0).chain(2..rank as isize).collect();
    affine(
        standardize(x, &axes, eps)?,
        w,
        b,
        &bshape(rank, x.shape()[1]),
    )
}

/// Batch norm with fixed statistics, composed from basic ops.
pub(crate) fn ref_batch_eval(
    x: &Var<f64>,
    w: Option<&Var<f64>>,
    b: Option<&Var<f64>>,
    rm: &Tensor<f64>,
    rv: &Tensor<f64>,
    eps: f64,
) -> Result<Var<f64>> {
    let s = bshape(x.ndim(), x.shape()[1]);
    let m = Var::constant(rm.reshape(&s)?);
    let inv = Var::constant(rv.map(|v| 1.0 / (v + eps).sqrt()).reshape(&s)?);
    affine(x.sub(&m)?.mul(&inv)?, w, b, &s)
}

/// Instance norm with input statistics, composed from basic ops.
pub(crate) fn ref_instance(
    x: &Var<f64>,
    w: Option<&Var<f64>>,
    b: Option<&Var<f64>>,
    eps: f64,
) -> Result<Var<f64>> {
    let rank = x.ndim();
    let axes: Vec<isize> = (2..rank as isize).collect();
    affine(
        standardize(x, &axes, eps)?,
        w,
        b,
        &bshape(rank, x.shape()[1]),
    )
}

/// Layer norm over the last `k` axes, composed from basic ops.
pub(crate) fn ref_layer(
    x: &Var<f64>,
    k: usize,
    w: Option<&Var<f64>>,
    b: Option<&Var<f64>>,
    eps: f64,
) -> Result<Var<f64>> {
    let rank = x.ndim() as isize;
    let axes: Vec<isize> = (rank - k as isize..rank).collect();
    let shape = x.shape();
    affine(standardize(x, &axes, eps)?, w, b, &shape[shape.len() - k..])
}

/// Group norm, composed from basic ops.
pub(crate) fn ref_group(
    x: &Var<f64>,
    groups: usize,
    w: Option<&Var<f64>>,
    b: Option<&Var<f64>>,
    eps: f64,
) -> Result<Var<f64>> {
    let shape = x.shape();
    let rest: usize = shape[1..].iter().product::<usize>() / groups;
    let xr = x.reshape(&[shape[0], groups, rest])?;
    let y = standardize(&xr, &[2], eps)?.reshape(&shape)?;
    affine(y, w, b, &bshape(shape.len(), shape[1]))
}

/// RMS norm over the last `k` axes, composed from basic ops.
pub(crate) fn ref_rms(x: &Var<f64>, k: usize, w: Option<&Var<f64>>, eps: f64) -> Result<Var<f64>> {
    let rank = x.ndim() as isize;
    let axes: Vec<isize> = (rank - k as isize..rank).collect();
    let ms = x.mul(x)?.mean(&axes, true)?;
    let y = x.mul(&ms.add_scalar(eps).pow(-0.5))?;
    let shape = x.shape();
    affine(y, w, None, &shape[shape.len() - k..])
}

/// Local response norm composed channel by channel: each channel's window
/// sum of squares from single-channel slices of `x²` (channels outside the
/// input skipped, the divisor kept at `size`), joined back along axis 1.
pub(crate) fn ref_lrn(
    x: &Var<f64>,
    size: usize,
    alpha: f64,
    beta: f64,
    k: f64,
) -> Result<Var<f64>> {
    let c = x.shape()[1] as isize;
    let sq = x.mul(x)?;
    let mut scales = Vec::new();
    for ch in 0..c {
        let lo = (ch - (size / 2) as isize).max(0);
        let hi = (ch + ((size - 1) / 2) as isize).min(c - 1);
        let mut sum = sq.narrow(1, lo as usize, 1)?;
        for other in lo + 1..=hi {
            sum = sum.add(&sq.narrow(1, other as usize, 1)?)?;
        }
        scales.push(sum.mul_scalar(alpha / size as f64).add_scalar(k));
    }
    x.div(&Var::concat(&scales, 1)?.pow(beta))
}
