//! Matrix multiplication, 2-d and batched with broadcast batch axes.

use core_tensor::{Float, Tensor, shape::broadcast_shapes};
use ndarray::{IxDyn, linalg::general_mat_mul};
use rayon::prelude::*;

use crate::{AutogradError, Backward, BackwardCtx, Result, Var};

struct MatmulBackward;
impl<F: Float> Backward<F> for MatmulBackward {
    fn name(&self) -> &'static str {
        "matmul"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        let (g, a, b) = (ctx.grad_output, &ctx.inputs[0], &ctx.inputs[1]);
        // C = A B  =>  dA = dC B^T, dB = A^T dC, summed over broadcast batch axes.
        let ga = if ctx.needs_grad[0] {
            Some(g.matmul(&b.transpose(-1, -2)?)?.sum_to(&a.shape())?)
        } else {
            None
        };
        let gb = if ctx.needs_grad[1] {
            Some(a.transpose(-1, -2)?.matmul(g)?.sum_to(&b.shape())?)
        } else {
            None
        };
        Ok(vec![ga, gb])
    }
}

fn matmul_forward<F: Float>(a: &Tensor<F>, b: &Tensor<F>) -> Result<Tensor<F>> {
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
    let (n, k) = (sa[sa.len() - 2], sa[sa.len() - 1]);
    let (k2, m) = (sb[sb.len() - 2], sb[sb.len() - 1]);
    if k != k2 {
        return Err(AutogradError::ShapeMismatch {
            op: "matmul",
            lhs: sa.to_vec(),
            rhs: sb.to_vec(),
            reason: "the last axis of lhs must equal the second-to-last axis of rhs",
        });
    }
    let batch = broadcast_shapes("matmul", &sa[..sa.len() - 2], &sb[..sb.len() - 2])?;
    let mut a_shape = batch.clone();
    a_shape.extend([n, k]);
    let mut b_shape = batch.clone();
    b_shape.extend([k, m]);
    let a_view = a.view();
    let b_view = b.view();
    let a_b = a_view
        .broadcast(IxDyn(&a_shape))
        .expect("batch shapes were checked");
    let b_b = b_view
        .broadcast(IxDyn(&b_shape))
        .expect("batch shapes were checked");
    let nb: usize = batch.iter().product();
    let a3 = a_b.to_shape((nb, n, k)).expect("same element count");
    let b3 = b_b.to_shape((nb, k, m)).expect("same element count");
    let mut out_shape = batch;
    out_shape.extend([n, m]);
    let mut out = vec![F::zero(); nb * n * m];
    let work = |(i, chunk): (usize, &mut [F])| {
        let mut c =
            ndarray::ArrayViewMut::from_shape((n, m), chunk).expect("chunk has n*m elements");
        let ai = a3.index_axis(ndarray::Axis(0), i);
        let bi = b3.index_axis(ndarray::Axis(0), i);
        general_mat_mul(F::one(), &ai, &bi, F::zero(), &mut c);
    };
    if n * m > 0 {
        if nb > 1 && nb * n * m * k > (1 << 16) {
            out.par_chunks_mut(n * m).enumerate().for_each(work);
        } else {
            out.chunks_mut(n * m).enumerate().for_each(work);
        }
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
        let v = matmul_forward(&self.value(), &other.value())?;
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
