//! Local response normalization (`torch.nn.functional.local_response_norm`).

use std::sync::Arc;

use autograd::{Backward, BackwardCtx, Result as AResult, Tensor, Var};
use core_tensor::{Float, Par};

use crate::NormError;
use crate::kernels::lrn::{LrnParams, LrnSaved, lrn_backward, lrn_forward};
use crate::second_order::{Composite, finish};

const OP: &str = "local_response_norm";

/// Local response normalization across channels, for an input `(N, C, *)`
/// of rank at least 3:
///
/// `y[n, c] = x[n, c] / (k + α / size · Σ_{c'} x[n, c']²)^β`,
///
/// the sum running over `c' = c − ⌊size/2⌋ ..= c + ⌊(size−1)/2⌋`, with
/// channels outside the input counting as zeros (so the divisor is always
/// `size`). PyTorch: `F.local_response_norm(x, size, alpha=1e-4,
/// beta=0.75, k=1.0)`; `alpha`, `beta` and `k` are taken as they are, as in
/// PyTorch (`k = 0` on an all-zero window gives NaN). Backward is a fused
/// kernel; second derivatives are supported.
///
/// # Errors
/// [`NormError::WrongRank`] for rank < 3, [`NormError::InvalidParam`] for
/// `size == 0`.
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// // One pixel, two channels 3 and 4, window 2: channel 0 sees {pad, 3},
/// // channel 1 sees {3, 4}.
/// let x = Var::leaf(Tensor::from_vec(&[1, 2, 1], vec![3.0f64, 4.0])?);
/// let y = ops_norm::local_response_norm(&x, 2, 1.0, 0.5, 1.0)?;
/// let want = [3.0 / (1.0 + 9.0 / 2.0f64).sqrt(), 4.0 / (1.0 + 25.0 / 2.0f64).sqrt()];
/// for (a, b) in y.value().as_slice().iter().zip(want) { assert!((a - b).abs() < 1e-15); }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn local_response_norm<F: Float>(
    x: &Var<F>,
    size: usize,
    alpha: f64,
    beta: f64,
    k: f64,
) -> Result<Var<F>, NormError> {
    let shape = x.shape();
    if shape.len() < 3 {
        return Err(NormError::WrongRank {
            op: OP,
            min: 3,
            layout: "N, C, *",
            shape,
        });
    }
    if size == 0 {
        return Err(NormError::InvalidParam {
            op: OP,
            param: "size",
            value: size.to_string(),
            allowed: "at least 1 (channels in a window)",
        });
    }
    let p = LrnParams {
        n: shape[0],
        c: shape[1],
        s: shape[2..].iter().product(),
        size,
        alpha,
        beta,
        k,
    };
    let xv = x.value();
    let (y, saved) = lrn_forward(xv.as_slice(), p, Par::Rayon);
    let y = Tensor::from_vec(&shape, y)?;
    let backward = LrnBackward {
        x: xv,
        saved,
        p,
        composite: lrn_composite(p),
    };
    Ok(Var::from_op(y, vec![x.clone()], backward))
}

/// The same function written with `autograd` ops (for second derivatives):
/// the squares moved to a trailing channel axis, zero-padded, summed over
/// `size` shifted windows.
fn lrn_composite<F: Float>(p: LrnParams) -> Composite<F> {
    Arc::new(move |v: &[Var<F>]| {
        let x = &v[0];
        let shape = x.shape();
        let sq = x
            .mul(x)?
            .reshape(&[p.n, p.c, p.s])?
            .permute(&[0, 2, 1])?
            .pad(&[[p.size / 2, (p.size - 1) / 2]], 0.0)?;
        let mut sum = sq.narrow(-1, 0, p.c)?;
        for t in 1..p.size {
            sum = sum.add(&sq.narrow(-1, t, p.c)?)?;
        }
        let scale = sum
            .permute(&[0, 2, 1])?
            .reshape(&shape)?
            .mul_scalar(p.alpha / p.size as f64)
            .add_scalar(p.k);
        x.div(&scale.pow(p.beta))
    })
}

struct LrnBackward<F: Float> {
    x: Tensor<F>,
    saved: LrnSaved<F>,
    p: LrnParams,
    composite: Composite<F>,
}

impl<F: Float> Backward<F> for LrnBackward<F> {
    fn name(&self) -> &'static str {
        OP
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> AResult<Vec<Option<Var<F>>>> {
        let g = ctx.grad_output.value();
        let dx = lrn_backward(
            self.x.as_slice(),
            g.as_slice(),
            &self.saved,
            self.p,
            Par::Rayon,
        );
        let dx = Tensor::from_vec(self.x.shape(), dx)?;
        Ok(finish(ctx, OP, vec![Some(dx)], &self.composite))
    }
}
