//! Matrix multiplication, 2-d and batched with broadcast batch axes, on
//! [`core_tensor::gemm`]; the backward multiplies by the other operand
//! through swapped strides (no transposed copies).

use core_tensor::alloc::vec_filled;
use core_tensor::gemm::{MatMut, MatRef, gemm};
use core_tensor::{Float, Par, Tensor, shape::broadcast_shapes};

use super::util::sum_to_shape;
use crate::{AutogradError, Backward, BackwardCtx, Result, Var};

struct MatmulBackward;
impl<F: Float> Backward<F> for MatmulBackward {
    fn name(&self) -> &'static str {
        "matmul"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        let (g, a, b) = (ctx.grad_output, &ctx.inputs[0], &ctx.inputs[1]);
        // C = A B  =>  dA = dC Bᵀ, dB = Aᵀ dC, summed over broadcast batch axes.
        if ctx.create_graph {
            let ga = ctx.needs_grad[0]
                .then(|| g.matmul(&b.transpose(-1, -2)?)?.sum_to(&a.shape()))
                .transpose()?;
            let gb = ctx.needs_grad[1]
                .then(|| a.transpose(-1, -2)?.matmul(g)?.sum_to(&b.shape()))
                .transpose()?;
            return Ok(vec![ga, gb]);
        }
        let gv = g.value();
        let ga = if ctx.needs_grad[0] {
            let full = product(&gv, false, &b.value(), true)?;
            Some(Var::constant(sum_to_shape(&full, &a.shape())))
        } else {
            None
        };
        let gb = if ctx.needs_grad[1] {
            let full = product(&a.value(), true, &gv, false)?;
            Some(Var::constant(sum_to_shape(&full, &b.shape())))
        } else {
            None
        };
        Ok(vec![ga, gb])
    }
}

/// The rows and columns of the last two axes of `s`, swapped if `t`.
fn mat_dims(s: &[usize], t: bool) -> (usize, usize) {
    let (r, c) = (s[s.len() - 2], s[s.len() - 1]);
    if t { (c, r) } else { (r, c) }
}

/// Offsets (in matrices) of every batch of `shape`'s batch axes inside the
/// broadcast batch shape `batch`: a broadcast axis contributes nothing.
fn batch_offsets(shape: &[usize], batch: &[usize]) -> Vec<usize> {
    let own = &shape[..shape.len() - 2];
    let lead = batch.len() - own.len();
    let mut strides = vec![0; batch.len()];
    let mut acc = 1;
    for i in (0..own.len()).rev() {
        strides[lead + i] = if own[i] == 1 { 0 } else { acc };
        acc *= own[i];
    }
    let total: usize = batch.iter().product();
    (0..total)
        .map(|mut idx| {
            let mut off = 0;
            for i in (0..batch.len()).rev() {
                off += (idx % batch[i]) * strides[i];
                idx /= batch[i];
            }
            off
        })
        .collect()
}

/// Matrix `off` of `data` (stored `rows x cols`, or `cols x rows` and
/// read transposed when `t`).
fn operand<F>(data: &[F], off: usize, rows: usize, cols: usize, t: bool) -> MatRef<'_, F> {
    let block = &data[off * rows * cols..];
    if t {
        MatRef::row_major(block, cols, rows).t()
    } else {
        MatRef::row_major(block, rows, cols)
    }
}

/// `op(A) op(B)` over the last two axes with broadcast batch axes, where
/// `op` transposes when its flag is set: shape `(*batch, rows, cols)`.
fn product<F: Float>(a: &Tensor<F>, ta: bool, b: &Tensor<F>, tb: bool) -> Result<Tensor<F>> {
    let (sa, sb) = (a.shape(), b.shape());
    for (s, name) in [(sa, "lhs"), (sb, "rhs")] {
        if s.len() < 2 {
            return Err(AutogradError::WrongRank {
                op: "matmul",
                expected: if name == "lhs" {
                    "lhs of rank >= 2"
                } else {
                    "rhs of rank >= 2"
                },
                got: s.len(),
                shape: s.to_vec(),
            });
        }
    }
    let (n, k) = mat_dims(sa, ta);
    let (k2, m) = mat_dims(sb, tb);
    if k != k2 {
        return Err(AutogradError::ShapeMismatch {
            op: "matmul",
            lhs: sa.to_vec(),
            rhs: sb.to_vec(),
            reason: "the last axis of lhs must equal the second-to-last axis of rhs",
        });
    }
    let batch = broadcast_shapes("matmul", &sa[..sa.len() - 2], &sb[..sb.len() - 2])?;
    let (oa, ob) = (batch_offsets(sa, &batch), batch_offsets(sb, &batch));
    let mut out_shape = batch;
    out_shape.extend([n, m]);
    let mut out = vec_filled(oa.len() * n * m, F::zero());
    let (da, db) = (a.as_slice(), b.as_slice());
    if n * m > 0 {
        // One product per batch; many small ones run side by side, a single
        // one splits itself (both by size alone).
        let batches = oa.len();
        let (outer, inner) = if batches > 1 && batches * n * m * k > (1 << 16) {
            (Par::Rayon, Par::Seq)
        } else {
            (Par::Seq, Par::Rayon)
        };
        outer.for_each_chunk_mut(&mut out, n * m, |i, c| {
            gemm(
                F::one(),
                operand(da, oa[i], n, k, ta),
                operand(db, ob[i], k, m, tb),
                F::zero(),
                MatMut::row_major(c, n, m),
                inner,
            );
        });
    }
    Ok(Tensor::from_vec(&out_shape, out)?)
}

impl<F: Float> Var<F> {
    /// Matrix product over the last two axes, with NumPy broadcasting of the
    /// leading (batch) axes, like `torch.matmul` for inputs of rank >= 2.
    ///
    /// # Errors
    /// [`AutogradError::WrongRank`] for rank < 2,
    /// [`AutogradError::ShapeMismatch`] when the inner sizes differ or the
    /// batch axes do not broadcast.
    pub fn matmul(&self, other: &Var<F>) -> Result<Var<F>> {
        let v = product(&self.value(), false, &other.value(), false)?;
        Ok(Var::from_op(
            v,
            vec![self.clone(), other.clone()],
            MatmulBackward,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_tensor::testing::assert_close;

    #[test]
    fn two_d_product_and_grads() {
        let a = Var::leaf(Tensor::from_vec(&[2, 3], vec![1., 2., 3., 4., 5., 6.]).unwrap());
        let b = Var::leaf(Tensor::from_vec(&[3, 2], vec![7., 8., 9., 10., 11., 12.]).unwrap());
        let c = a.matmul(&b).unwrap();
        assert_close(c.value().as_slice(), &[58., 64., 139., 154.], 1e-15, 0.0);
        c.sum_all().backward().unwrap();
        assert_close(
            a.grad().unwrap().as_slice(),
            &[15., 19., 23., 15., 19., 23.],
            1e-15,
            0.0,
        );
        assert_close(
            b.grad().unwrap().as_slice(),
            &[5., 5., 7., 7., 9., 9.],
            1e-15,
            0.0,
        );
    }

    #[test]
    fn batched_with_broadcast() {
        let a = Var::leaf(Tensor::from_vec(&[2, 1, 2], vec![1., 2., 3., 4.]).unwrap());
        let b = Var::leaf(Tensor::from_vec(&[2, 1], vec![10., 100.]).unwrap());
        let c = a.matmul(&b).unwrap();
        assert_eq!(c.shape(), vec![2, 1, 1]);
        assert_close(c.value().as_slice(), &[210., 430.], 1e-15, 0.0);
        c.sum_all().backward().unwrap();
        assert_close(b.grad().unwrap().as_slice(), &[4., 6.], 1e-15, 0.0);
    }

    #[test]
    fn mismatched_inner_sizes_are_errors() {
        let a = Var::constant(Tensor::<f64>::zeros(&[2, 3]));
        let b = Var::constant(Tensor::<f64>::zeros(&[2, 3]));
        assert!(a.matmul(&b).is_err());
        let v = Var::constant(Tensor::<f64>::zeros(&[3]));
        assert!(v.matmul(&b).is_err());
    }
}
