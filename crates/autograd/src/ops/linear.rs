//! The affine map of a linear layer, `y = x·Wᵀ + b` (`F.linear`), as one
//! matrix product with the bias written first, and a backward of two
//! products over strided views (no transposed copies).

use core_tensor::alloc::vec_with_capacity;
use core_tensor::gemm::{MatMut, MatRef, gemm};
use core_tensor::{Float, Par, Tensor};

use crate::{AutogradError, Backward, BackwardCtx, Result, Var};

/// `y = x·Wᵀ + b` for `x` `(m, in)` (row-major), `w` `(out, in)` and an
/// optional `b` `(out)`: `y` `(m, out)`.
fn forward_kernel<F: Float>(
    x: &[F],
    w: &[F],
    b: Option<&[F]>,
    m: usize,
    inf: usize,
    outf: usize,
) -> Vec<F> {
    let mut y = vec_with_capacity(m * outf);
    match b {
        Some(b) => (0..m).for_each(|_| y.extend_from_slice(b)),
        None => y.resize(m * outf, F::zero()),
    }
    let beta = if b.is_some() { F::one() } else { F::zero() };
    gemm(
        F::one(),
        MatRef::row_major(x, m, inf),
        MatRef::row_major(w, outf, inf).t(),
        beta,
        MatMut::row_major(&mut y, m, outf),
        Par::Rayon,
    );
    y
}

/// Column sums of the `(m, cols)` matrix `g`, added row after row (a fixed
/// order, so the result does not depend on the threads).
fn column_sums<F: Float>(g: &[F], m: usize, cols: usize) -> Vec<F> {
    let mut s = vec_with_capacity(cols);
    s.resize(cols, F::zero());
    for row in g.chunks_exact(cols.max(1)).take(m) {
        s.iter_mut().zip(row).for_each(|(a, &v)| *a += v);
    }
    s
}

struct LinearBackward {
    /// `x`'s shape (`(*, in)`).
    x_shape: Vec<usize>,
}

impl<F: Float> Backward<F> for LinearBackward {
    fn name(&self) -> &'static str {
        "linear"
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        let (x, w) = (&ctx.inputs[0], &ctx.inputs[1]);
        let ws = w.shape();
        let (outf, inf) = (ws[0], ws[1]);
        let m = ctx.grad_output.len() / outf.max(1);
        let has_bias = ctx.inputs.len() > 2;
        if ctx.create_graph {
            // The same gradients from differentiable ops.
            let g2 = ctx.grad_output.reshape(&[m, outf])?;
            let gx = match ctx.needs_grad[0] {
                true => Some(g2.matmul(w)?.reshape(&self.x_shape)?),
                false => None,
            };
            let gw = match ctx.needs_grad[1] {
                true => Some(g2.transpose(0, 1)?.matmul(&x.reshape(&[m, inf])?)?),
                false => None,
            };
            let mut out = vec![gx, gw];
            if has_bias {
                out.push(match ctx.needs_grad[2] {
                    true => Some(g2.sum(&[0], false)?),
                    false => None,
                });
            }
            return Ok(out);
        }
        let g = ctx.grad_output.value();
        let gs = g.as_slice();
        let mut out = Vec::with_capacity(ctx.inputs.len());
        // dX = dY · W: (m, out) x (out, in).
        out.push(if ctx.needs_grad[0] {
            let wv = w.value();
            let mut dx = vec_with_capacity(m * inf);
            dx.resize(m * inf, F::zero());
            gemm(
                F::one(),
                MatRef::row_major(gs, m, outf),
                MatRef::row_major(wv.as_slice(), outf, inf),
                F::zero(),
                MatMut::row_major(&mut dx, m, inf),
                Par::Rayon,
            );
            Some(Var::constant(Tensor::from_vec(&self.x_shape, dx)?))
        } else {
            None
        });
        // dW = dYᵀ · X: (out, m) x (m, in).
        out.push(if ctx.needs_grad[1] {
            let xv = x.value();
            let mut dw = vec_with_capacity(outf * inf);
            dw.resize(outf * inf, F::zero());
            gemm(
                F::one(),
                MatRef::row_major(gs, m, outf).t(),
                MatRef::row_major(xv.as_slice(), m, inf),
                F::zero(),
                MatMut::row_major(&mut dw, outf, inf),
                Par::Rayon,
            );
            Some(Var::constant(Tensor::from_vec(&ws, dw)?))
        } else {
            None
        });
        if has_bias {
            out.push(if ctx.needs_grad[2] {
                Some(Var::constant(Tensor::from_vec(
                    &[outf],
                    column_sums(gs, m, outf),
                )?))
            } else {
                None
            });
        }
        Ok(out)
    }
}

impl<F: Float> Var<F> {
    /// `self · weightᵀ + bias` over the last axis: PyTorch's
    /// `F.linear(x, weight, bias)` for `x` `(*, in)`, `weight` `(out, in)`
    /// and `bias` `(out)`, giving `(*, out)`. One matrix product (the bias
    /// is its starting value); the backward multiplies by `weight` and by
    /// `x` through strided views.
    ///
    /// ```
    /// use autograd::Var;
    /// use core_tensor::Tensor;
    /// let x = Var::leaf(Tensor::from_vec(&[2, 3], vec![1.0f64, 2., 3., 4., 5., 6.])?);
    /// let w = Var::leaf(Tensor::from_vec(&[2, 3], vec![1.0, 0., 0., 0., 1., 1.])?);
    /// let b = Var::leaf(Tensor::from_vec(&[2], vec![0.5, -0.5])?);
    /// let y = x.linear(&w, Some(&b))?;
    /// assert_eq!(y.value().as_slice(), &[1.5, 4.5, 4.5, 10.5]);
    /// y.sum_all().backward()?;
    /// assert_eq!(w.grad().unwrap().as_slice(), &[5.0, 7.0, 9.0, 5.0, 7.0, 9.0]);
    /// assert_eq!(b.grad().unwrap().as_slice(), &[2.0, 2.0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`AutogradError::WrongRank`] for a `self` of rank 0 or a weight not
    /// of rank 2; [`AutogradError::ShapeMismatch`] when the last axis of
    /// `self` is not the weight's second, or the bias is not `(out)`.
    pub fn linear(&self, weight: &Var<F>, bias: Option<&Var<F>>) -> Result<Var<F>> {
        let xs = self.shape();
        let ws = weight.shape();
        if ws.len() != 2 {
            return Err(AutogradError::WrongRank {
                op: "linear",
                expected: "a weight of rank 2",
                got: ws.len(),
                shape: ws,
            });
        }
        let (outf, inf) = (ws[0], ws[1]);
        let Some(&last) = xs.last() else {
            return Err(AutogradError::WrongRank {
                op: "linear",
                expected: "an input of rank >= 1",
                got: 0,
                shape: xs,
            });
        };
        if last != inf {
            return Err(AutogradError::ShapeMismatch {
                op: "linear",
                lhs: xs,
                rhs: ws,
                reason: "the last axis of the input must equal the weight's second axis",
            });
        }
        if let Some(b) = bias
            && b.shape() != [outf]
        {
            return Err(AutogradError::ShapeMismatch {
                op: "linear",
                lhs: ws,
                rhs: b.shape(),
                reason: "the bias must have one entry per output feature",
            });
        }
        let m = self.len() / inf.max(1);
        let m = if inf == 0 {
            xs[..xs.len() - 1].iter().product()
        } else {
            m
        };
        let (xv, wv) = (self.value(), weight.value());
        let bv = bias.map(Var::value);
        let y = forward_kernel(
            xv.as_slice(),
            wv.as_slice(),
            bv.as_ref().map(Tensor::as_slice),
            m,
            inf,
            outf,
        );
        let mut y_shape = xs.clone();
        *y_shape.last_mut().expect("rank >= 1") = outf;
        let mut inputs = vec![self.clone(), weight.clone()];
        inputs.extend(bias.cloned());
        Ok(Var::from_op(
            Tensor::from_vec(&y_shape, y)?,
            inputs,
            LinearBackward { x_shape: xs },
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_tensor::Rng;
    use core_tensor::testing::assert_close;

    fn rand(shape: &[usize], rng: &mut Rng) -> Tensor<f64> {
        let n = shape.iter().product();
        Tensor::from_f64s(shape, &rng.uniform_vec(n, -1.0, 1.0)).unwrap()
    }

    #[test]
    fn matches_matmul_with_a_transposed_weight() {
        let mut rng = Rng::new(5);
        for (xs, outf) in [
            (vec![4, 3], 5),
            (vec![2, 3, 7], 2),
            (vec![7], 3),
            (vec![130, 70], 90),
        ] {
            let inf = *xs.last().unwrap();
            let x = Var::leaf(rand(&xs, &mut rng));
            let w = Var::leaf(rand(&[outf, inf], &mut rng));
            let b = Var::leaf(rand(&[outf], &mut rng));
            let g = rand(
                &[xs[..xs.len() - 1].iter().product::<usize>(), outf],
                &mut rng,
            );
            let y = x.linear(&w, Some(&b)).unwrap();
            let mut ys = xs.clone();
            *ys.last_mut().unwrap() = outf;
            assert_eq!(y.shape(), ys);
            y.backward_with(&g.reshape(&ys).unwrap(), Default::default())
                .unwrap();
            let (gx, gw, gb) = (x.grad().unwrap(), w.grad().unwrap(), b.grad().unwrap());
            // The composed reference.
            let (x2, w2, b2) = (
                Var::leaf(x.value()),
                Var::leaf(w.value()),
                Var::leaf(b.value()),
            );
            let m = g.shape()[0];
            let r = x2
                .reshape(&[m, inf])
                .unwrap()
                .matmul(&w2.transpose(0, 1).unwrap())
                .unwrap()
                .add(&b2)
                .unwrap();
            assert_close(y.value().as_slice(), r.value().as_slice(), 1e-14, 1e-14);
            r.backward_with(&g, Default::default()).unwrap();
            assert_close(gx.as_slice(), x2.grad().unwrap().as_slice(), 1e-14, 1e-14);
            assert_close(gw.as_slice(), w2.grad().unwrap().as_slice(), 1e-14, 1e-14);
            assert_close(gb.as_slice(), b2.grad().unwrap().as_slice(), 1e-14, 1e-14);
        }
    }

    #[test]
    fn second_order_through_the_composed_backward() {
        // d/dx of sum((x·Wᵀ)²) = 2 (x·Wᵀ)·W; its gradient w.r.t. W checks the
        // recorded backward.
        let mut rng = Rng::new(2);
        let inputs = [
            rand(&[3, 4], &mut rng),
            rand(&[2, 4], &mut rng),
            rand(&[2], &mut rng),
        ];
        let f = |v: &[Var<f64>]| Ok(vec![v[0].linear(&v[1], Some(&v[2]))?.pow(2.0)]);
        let opts = crate::GradcheckOptions::default();
        let first = crate::gradcheck(&f, &inputs, &opts).unwrap();
        assert!(first.passed, "{first}");
        let second = crate::gradgradcheck(&f, &inputs, &opts).unwrap();
        assert!(second.passed, "{second}");
    }

    #[test]
    fn bad_shapes_are_typed_errors() {
        let x = Var::constant(Tensor::<f64>::zeros(&[2, 3]));
        let w = Var::constant(Tensor::<f64>::zeros(&[4, 3]));
        assert!(matches!(
            x.linear(&Var::constant(Tensor::zeros(&[4, 2])), None),
            Err(AutogradError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            x.linear(&Var::constant(Tensor::zeros(&[12])), None),
            Err(AutogradError::WrongRank { .. })
        ));
        assert!(matches!(
            x.linear(&w, Some(&Var::constant(Tensor::zeros(&[3])))),
            Err(AutogradError::ShapeMismatch { .. })
        ));
        assert!(matches!(
            Var::constant(Tensor::scalar(1.0f64)).linear(&w, None),
            Err(AutogradError::WrongRank { .. })
        ));
        // Empty batches and features are fine.
        assert_eq!(
            Var::constant(Tensor::<f64>::zeros(&[0, 3]))
                .linear(&w, None)
                .unwrap()
                .shape(),
            vec![0, 4]
        );
        let e = Var::constant(Tensor::<f64>::zeros(&[2, 0]));
        let y = e
            .linear(
                &Var::constant(Tensor::zeros(&[4, 0])),
                Some(&Var::constant(Tensor::ones(&[4]))),
            )
            .unwrap();
        assert_eq!(y.value().as_slice(), &[1.0; 8]);
    }
}
