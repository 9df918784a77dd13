//! `Lp` normalization along an axis (`torch.nn.functional.normalize`).

use std::sync::Arc;

use autograd::{Backward, BackwardCtx, Result as AResult, Tensor, Var};
use core_tensor::{Float, Par};

use crate::NormError;
use crate::kernels::lp::{LpLayout, LpSaved, lp_normalize_backward, lp_normalize_forward};
use crate::second_order::{Composite, finish};

const OP: &str = "normalize";

/// Divides every vector along `dim` by its `p`-norm, kept at least `eps`:
///
/// `y = x / max(‖x‖_p, eps)`, `‖x‖_p = (Σ |x_i|^p)^(1/p)`,
///
/// with PyTorch's norms for the special exponents: `p = 0` counts the
/// non-zero entries, `p = ∞` (`-∞`) takes the largest (smallest)
/// magnitude. PyTorch: `F.normalize(x, p=2.0, dim=1, eps=1e-12)`. `dim`
/// may be negative (`-1` is the last axis); a 0-d input is a single entry
/// (`dim` 0 or -1). Backward is a fused kernel (no gradient flows through
/// a norm clamped to `eps`, as with PyTorch's `clamp_min`); second
/// derivatives are supported (for `p = ±∞` away from ties between the
/// largest, or smallest, magnitudes).
///
/// ```
/// use autograd::Var;
/// use core_tensor::Tensor;
/// let x = Var::leaf(Tensor::from_vec(&[2, 2], vec![3.0f64, 4.0, 0.0, 0.0])?);
/// let y = ops_norm::normalize(&x, 2.0, 1, 1e-12)?;
/// assert_eq!(y.value().as_slice(), &[0.6, 0.8, 0.0, 0.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`NormError::InvalidParam`] for a `dim` outside `[-rank, rank - 1]`
/// (`[-1, 0]` for a 0-d input) or a NaN `p`.
pub fn normalize<F: Float>(x: &Var<F>, p: f64, dim: isize, eps: f64) -> Result<Var<F>, NormError> {
    let shape = x.shape();
    let rank = shape.len().max(1) as isize;
    if !(-rank..rank).contains(&dim) {
        return Err(NormError::InvalidParam {
            op: OP,
            param: "dim",
            value: dim.to_string(),
            allowed: "in [-rank, rank - 1] (dimension out of range)",
        });
    }
    if p.is_nan() {
        return Err(NormError::InvalidParam {
            op: OP,
            param: "p",
            value: p.to_string(),
            allowed: "a number (any real, 0 or ±inf)",
        });
    }
    let axis = dim.rem_euclid(rank) as usize;
    let sizes = if shape.is_empty() {
        vec![1]
    } else {
        shape.clone()
    };
    let l = LpLayout {
        outer: sizes[..axis].iter().product(),
        len: sizes[axis],
        inner: sizes[axis + 1..].iter().product(),
        p,
        eps,
    };
    let xv = x.value();
    let (y, saved) = lp_normalize_forward(xv.as_slice(), l, Par::Rayon);
    let y = Tensor::from_vec(&shape, y)?;
    let backward = NormalizeBackward {
        x: xv,
        saved,
        l,
        composite: composite(axis, sizes, p, eps),
    };
    Ok(Var::from_op(y, vec![x.clone()], backward))
}

/// The same function with `autograd` ops (for second derivatives): the
/// norm as `(Σ|x|^p)^(1/p)`, the largest (smallest) `|x|` for `p = ±∞`
/// (through `max_axis`, whose gradient goes to one maximum: exact away
/// from ties), the constant count of non-zero entries for `p = 0`, then
/// clamped as `relu(n − eps) + eps`.
fn composite<F: Float>(axis: usize, sizes: Vec<usize>, p: f64, eps: f64) -> Composite<F> {
    Arc::new(move |v: &[Var<F>]| {
        let x = &v[0];
        let shape = x.shape();
        let xs = x.reshape(&sizes)?;
        let ax = [axis as isize];
        let norm = if p == f64::INFINITY {
            xs.abs().max_axis(axis as isize, true)?
        } else if p == f64::NEG_INFINITY {
            xs.abs().neg().max_axis(axis as isize, true)?.neg()
        } else if p == 0.0 {
            // The count of non-zero entries: piecewise constant, its
            // derivative is 0.
            let count = xs
                .value()
                .map(|&v| if v != F::zero() { F::one() } else { F::zero() });
            Var::constant(count).sum(&ax, true)?
        } else {
            xs.abs().pow(p).sum(&ax, true)?.pow(1.0 / p)
        };
        let divisor = norm.add_scalar(-eps).relu().add_scalar(eps);
        xs.div(&divisor)?.reshape(&shape)
    })
}

struct NormalizeBackward<F: Float> {
    x: Tensor<F>,
    saved: LpSaved<F>,
    l: LpLayout,
    composite: Composite<F>,
}

impl<F: Float> Backward<F> for NormalizeBackward<F> {
    fn name(&self) -> &'static str {
        OP
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> AResult<Vec<Option<Var<F>>>> {
        let g = ctx.grad_output.value();
        let dx = lp_normalize_backward(
            self.x.as_slice(),
            g.as_slice(),
            &self.saved,
            self.l,
            Par::Rayon,
        );
        let dx = Tensor::from_vec(self.x.shape(), dx)?;
        Ok(finish(ctx, OP, vec![Some(dx)], &self.composite))
    }
}
