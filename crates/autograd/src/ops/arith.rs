//! Elementwise arithmetic with NumPy broadcasting.

use core_tensor::alloc::vec_with_capacity;
use core_tensor::{Float, Tensor, shape::broadcast_shapes};
use ndarray::{ArrayViewMutD, IxDyn, Zip};

use super::util::{map_elements, zip_elements};

use crate::{Backward, BackwardCtx, Result, Var};

/// `f` elementwise over `a` and `b` broadcast to one shape (NumPy's rule);
/// tensors of one shape take the parallel contiguous path.
fn broadcast_pair<F: Float>(
    op: &'static str,
    a: &Tensor<F>,
    b: &Tensor<F>,
    f: impl Fn(F, F) -> F + Sync + Send,
) -> Result<Tensor<F>> {
    if a.shape() == b.shape() {
        return Ok(Tensor::from_vec(
            a.shape(),
            zip_elements(a.as_slice(), b.as_slice(), f),
        )?);
    }
    let shape = broadcast_shapes(op, a.shape(), b.shape())?;
    let dim = IxDyn(&shape);
    let (av, bv) = (a.view(), b.view());
    let (Some(ab), Some(bb)) = (av.broadcast(dim.clone()), bv.broadcast(dim.clone())) else {
        unreachable!("broadcast_shapes accepted the shapes");
    };
    let n = ab.len();
    let mut out: Vec<F> = vec_with_capacity(n);
    let dst = ArrayViewMutD::from_shape(dim, &mut out.spare_capacity_mut()[..n])
        .expect("the buffer holds the broadcast shape");
    Zip::from(dst).and(&ab).and(&bb).for_each(|o, &x, &y| {
        o.write(f(x, y));
    });
    // SAFETY: the zip visited every element of `dst`, which covers exactly
    // the first `n` slots.
    unsafe { out.set_len(n) };
    Ok(Tensor::from_vec(&shape, out)?)
}

struct AddBackward;
impl<F: Float> Backward<F> for AddBackward {
    fn name(&self) -> &'static str {
        "add"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        let g = ctx.grad_output;
        let ga = ctx.needs_grad[0]
            .then(|| g.sum_to(&ctx.inputs[0].shape()))
            .transpose()?;
        let gb = ctx.needs_grad[1]
            .then(|| g.sum_to(&ctx.inputs[1].shape()))
            .transpose()?;
        Ok(vec![ga, gb])
    }
}

struct SubBackward;
impl<F: Float> Backward<F> for SubBackward {
    fn name(&self) -> &'static str {
        "sub"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        let g = ctx.grad_output;
        let ga = ctx.needs_grad[0]
            .then(|| g.sum_to(&ctx.inputs[0].shape()))
            .transpose()?;
        let gb = ctx.needs_grad[1]
            .then(|| g.neg().sum_to(&ctx.inputs[1].shape()))
            .transpose()?;
        Ok(vec![ga, gb])
    }
}

struct MulBackward;
impl<F: Float> Backward<F> for MulBackward {
    fn name(&self) -> &'static str {
        "mul"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        let (g, a, b) = (ctx.grad_output, &ctx.inputs[0], &ctx.inputs[1]);
        let ga = ctx.needs_grad[0]
            .then(|| g.mul(b)?.sum_to(&a.shape()))
            .transpose()?;
        let gb = ctx.needs_grad[1]
            .then(|| g.mul(a)?.sum_to(&b.shape()))
            .transpose()?;
        Ok(vec![ga, gb])
    }
}

struct DivBackward;
impl<F: Float> Backward<F> for DivBackward {
    fn name(&self) -> &'static str {
        "div"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        let (g, a, b) = (ctx.grad_output, &ctx.inputs[0], &ctx.inputs[1]);
        let ga = ctx.needs_grad[0]
            .then(|| g.div(b)?.sum_to(&a.shape()))
            .transpose()?;
        // d(a/b)/db = -a / b^2
        let gb = ctx.needs_grad[1]
            .then(|| g.mul(a)?.div(&b.mul(b)?)?.neg().sum_to(&b.shape()))
            .transpose()?;
        Ok(vec![ga, gb])
    }
}

struct ScaleBackward(f64);
impl<F: Float> Backward<F> for ScaleBackward {
    fn name(&self) -> &'static str {
        "mul_scalar"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        Ok(vec![Some(ctx.grad_output.mul_scalar(self.0))])
    }
}

struct ShiftBackward;
impl<F: Float> Backward<F> for ShiftBackward {
    fn name(&self) -> &'static str {
        "add_scalar"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        Ok(vec![Some(ctx.grad_output.clone())])
    }
}

impl<F: Float> Var<F> {
    /// `self + other` with NumPy broadcasting (`torch.add`).
    ///
    /// # Errors
    /// [`AutogradError::Tensor`](crate::AutogradError::Tensor) when the shapes do not broadcast.
    pub fn add(&self, other: &Var<F>) -> Result<Var<F>> {
        let v = broadcast_pair("add", &self.value(), &other.value(), |a, b| a + b)?;
        Ok(Var::from_op(
            v,
            vec![self.clone(), other.clone()],
            AddBackward,
        ))
    }

    /// `self - other` with broadcasting.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    pub fn sub(&self, other: &Var<F>) -> Result<Var<F>> {
        let v = broadcast_pair("sub", &self.value(), &other.value(), |a, b| a - b)?;
        Ok(Var::from_op(
            v,
            vec![self.clone(), other.clone()],
            SubBackward,
        ))
    }

    /// `self * other` elementwise with broadcasting.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    pub fn mul(&self, other: &Var<F>) -> Result<Var<F>> {
        let v = broadcast_pair("mul", &self.value(), &other.value(), |a, b| a * b)?;
        Ok(Var::from_op(
            v,
            vec![self.clone(), other.clone()],
            MulBackward,
        ))
    }

    /// `self / other` elementwise with broadcasting.
    ///
    /// # Errors
    /// When the shapes do not broadcast.
    pub fn div(&self, other: &Var<F>) -> Result<Var<F>> {
        let v = broadcast_pair("div", &self.value(), &other.value(), |a, b| a / b)?;
        Ok(Var::from_op(
            v,
            vec![self.clone(), other.clone()],
            DivBackward,
        ))
    }

    /// `self * s` for a scalar `s` (rounded into `F`).
    pub fn mul_scalar(&self, s: f64) -> Var<F> {
        let c = F::cast(s);
        Var::from_op(
            Tensor::from_vec(
                &self.shape(),
                map_elements(self.value().as_slice(), |x| x * c),
            )
            .expect("same shape"),
            vec![self.clone()],
            ScaleBackward(s),
        )
    }

    /// `self + s` for a scalar `s`.
    pub fn add_scalar(&self, s: f64) -> Var<F> {
        let c = F::cast(s);
        Var::from_op(
            Tensor::from_vec(
                &self.shape(),
                map_elements(self.value().as_slice(), |x| x + c),
            )
            .expect("same shape"),
            vec![self.clone()],
            ShiftBackward,
        )
    }

    /// `-self`.
    pub fn neg(&self) -> Var<F> {
        self.mul_scalar(-1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_tensor::Tensor;
    use core_tensor::testing::assert_close;

    fn t(shape: &[usize], v: &[f64]) -> Tensor<f64> {
        Tensor::from_vec(shape, v.to_vec()).unwrap()
    }

    #[test]
    fn broadcasting_values_and_grads() {
        let a = Var::leaf(t(&[2, 3], &[1., 2., 3., 4., 5., 6.]));
        let b = Var::leaf(t(&[3], &[10., 20., 30.]));
        let y = a.mul(&b).unwrap();
        assert_close(
            y.value().as_slice(),
            &[10., 40., 90., 40., 100., 180.],
            1e-15,
            0.0,
        );
        y.sum_all().backward().unwrap();
        assert_close(
            a.grad().unwrap().as_slice(),
            &[10., 20., 30., 10., 20., 30.],
            1e-15,
            0.0,
        );
        assert_close(b.grad().unwrap().as_slice(), &[5., 7., 9.], 1e-15, 0.0);
    }

    #[test]
    fn div_and_sub_grads() {
        let a = Var::leaf(t(&[2], &[1., 4.]));
        let b = Var::leaf(t(&[2], &[2., 8.]));
        a.div(&b)
            .unwrap()
            .sub(&b)
            .unwrap()
            .sum_all()
            .backward()
            .unwrap();
        assert_close(a.grad().unwrap().as_slice(), &[0.5, 0.125], 1e-15, 0.0);
        // d/db (a/b - b) = -a/b^2 - 1
        assert_close(b.grad().unwrap().as_slice(), &[-1.25, -1.0625], 1e-15, 0.0);
    }

    #[test]
    fn incompatible_shapes_are_errors() {
        let a = Var::constant(t(&[2], &[1., 2.]));
        let b = Var::constant(t(&[3], &[1., 2., 3.]));
        assert!(a.add(&b).is_err());
    }

    #[test]
    fn scalar_ops() {
        let a = Var::leaf(t(&[2], &[1., -2.]));
        let y = a.mul_scalar(3.0).add_scalar(1.0).neg();
        assert_close(y.value().as_slice(), &[-4., 5.], 1e-15, 0.0);
        y.sum_all().backward().unwrap();
        assert_close(a.grad().unwrap().as_slice(), &[-3., -3.], 1e-15, 0.0);
    }
}
