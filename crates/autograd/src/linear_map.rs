//! Ops whose backward is another recorded linear op.
//!
//! Many ops have a vector-Jacobian product that is a fixed linear map `A`
//! of the output gradient: padding (a gather whose adjoint is a
//! scatter-add), `im2col` (whose adjoint is `col2im`), pooling (the
//! gradient goes back through saved argmax indices or window weights). A
//! linear map's own vector-Jacobian product is its adjoint `Aᵀ`, and the
//! adjoint's is `A` again. So if the gradient is computed by recording `Aᵀ`
//! as an op on the graph, and that op's backward records `A`, derivatives
//! of every order follow without further code.
//!
//! An op describes its map once as a [`LinearMap`] (the two kernels), then
//! either records `A x` itself with [`apply_linear`] (linear ops) or gives
//! its own forward value a [`LinearBackward`] (ops such as max pooling,
//! whose gradient is linear in the output gradient once the forward has
//! fixed the argmax).

use std::sync::Arc;

use core_tensor::{Float, Tensor};

use crate::{Backward, BackwardCtx, Result, Var};

/// A linear map `A` between tensors and its adjoint `Aᵀ`, as kernels:
/// `⟨A x, y⟩ = ⟨x, Aᵀ y⟩` for all `x` and `y` of the right shapes.
pub trait LinearMap<F: Float>: Send + Sync + 'static {
    /// The name of the op that applies `A` (for errors and reports).
    fn name(&self) -> &'static str;
    /// The name of the op that applies `Aᵀ`.
    fn adjoint_name(&self) -> &'static str;
    /// `A x`.
    ///
    /// # Errors
    /// When `x` does not have the shape the map expects, or the result
    /// does not fit.
    fn apply(&self, x: &Tensor<F>) -> Result<Tensor<F>>;
    /// `Aᵀ y`.
    ///
    /// # Errors
    /// As for [`LinearMap::apply`].
    fn apply_adjoint(&self, y: &Tensor<F>) -> Result<Tensor<F>>;
}

/// Which side of a map a recorded op applies.
#[derive(Clone, Copy)]
enum Side {
    Forward,
    Adjoint,
}

/// The recorded op `A x` or `Aᵀ y`: its backward applies the other side.
struct LinearOp<M> {
    map: Arc<M>,
    side: Side,
}

impl<F: Float, M: LinearMap<F>> Backward<F> for LinearOp<M> {
    fn name(&self) -> &'static str {
        match self.side {
            Side::Forward => self.map.name(),
            Side::Adjoint => self.map.adjoint_name(),
        }
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        if !ctx.needs_grad[0] {
            return Ok(vec![None]);
        }
        let other = match self.side {
            Side::Forward => Side::Adjoint,
            Side::Adjoint => Side::Forward,
        };
        Ok(vec![Some(record(ctx.grad_output, &self.map, other)?)])
    }
}

fn record<F: Float, M: LinearMap<F>>(x: &Var<F>, map: &Arc<M>, side: Side) -> Result<Var<F>> {
    let value = match side {
        Side::Forward => map.apply(&x.value())?,
        Side::Adjoint => map.apply_adjoint(&x.value())?,
    };
    Ok(Var::from_op(
        value,
        vec![x.clone()],
        LinearOp {
            map: Arc::clone(map),
            side,
        },
    ))
}

/// `A x`, recorded: its gradient is `Aᵀ g`, recorded in turn, so the op is
/// differentiable to any order.
///
/// ```
/// use std::sync::Arc;
/// use autograd::{LinearMap, Result, Var, apply_linear};
/// use core_tensor::Tensor;
///
/// /// `y = [x0 + x1, x1]`; `Aᵀ g = [g0, g0 + g1]`.
/// struct Shear;
/// impl LinearMap<f64> for Shear {
///     fn name(&self) -> &'static str { "shear" }
///     fn adjoint_name(&self) -> &'static str { "shear_adjoint" }
///     fn apply(&self, x: &Tensor<f64>) -> Result<Tensor<f64>> {
///         let x = x.as_slice();
///         Ok(Tensor::from_vec(&[2], vec![x[0] + x[1], x[1]])?)
///     }
///     fn apply_adjoint(&self, g: &Tensor<f64>) -> Result<Tensor<f64>> {
///         let g = g.as_slice();
///         Ok(Tensor::from_vec(&[2], vec![g[0], g[0] + g[1]])?)
///     }
/// }
///
/// let x = Var::leaf(Tensor::from_vec(&[2], vec![1.0, 2.0])?);
/// let y = apply_linear(&x, &Arc::new(Shear))?;
/// assert_eq!(y.value().as_slice(), &[3.0, 2.0]);
/// y.sum_all().backward()?;
/// assert_eq!(x.grad().unwrap().as_slice(), &[1.0, 2.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// Whatever [`LinearMap::apply`] reports.
pub fn apply_linear<F: Float, M: LinearMap<F>>(x: &Var<F>, map: &Arc<M>) -> Result<Var<F>> {
    record(x, map, Side::Forward)
}

/// `Aᵀ y`, recorded: its gradient is `A g`, recorded in turn.
///
/// # Errors
/// Whatever [`LinearMap::apply_adjoint`] reports.
pub fn apply_linear_adjoint<F: Float, M: LinearMap<F>>(y: &Var<F>, map: &Arc<M>) -> Result<Var<F>> {
    record(y, map, Side::Adjoint)
}

/// The backward of a one-input op whose vector-Jacobian product is `Aᵀ g`
/// for a linear map `A` fixed by the forward pass (max pooling with its
/// argmax, for instance; `A` is then the op's Jacobian with the argmax
/// held fixed). The gradient is recorded with [`apply_linear_adjoint`], so
/// higher derivatives follow.
///
/// ```
/// use std::sync::Arc;
/// use autograd::{LinearBackward, LinearMap, Result, Var};
/// use core_tensor::Tensor;
///
/// /// Picks element `at` of a vector of `n`; the adjoint puts `g` back there.
/// struct Pick { at: usize, n: usize }
/// impl LinearMap<f64> for Pick {
///     fn name(&self) -> &'static str { "pick" }
///     fn adjoint_name(&self) -> &'static str { "pick_adjoint" }
///     fn apply(&self, x: &Tensor<f64>) -> Result<Tensor<f64>> {
///         Ok(Tensor::from_vec(&[1], vec![x.as_slice()[self.at]])?)
///     }
///     fn apply_adjoint(&self, g: &Tensor<f64>) -> Result<Tensor<f64>> {
///         let mut v = vec![0.0; self.n];
///         v[self.at] = g.as_slice()[0];
///         Ok(Tensor::from_vec(&[self.n], v)?)
///     }
/// }
///
/// // A max over a vector: nonlinear, but its gradient is the linear `Pick`
/// // of the argmax found by the forward pass.
/// let x = Var::leaf(Tensor::from_vec(&[3], vec![1.0, 4.0, 2.0])?);
/// let value = Tensor::from_vec(&[1], vec![4.0])?;
/// let pick = Arc::new(Pick { at: 1, n: 3 });
/// let y = Var::from_op(value, vec![x.clone()], LinearBackward::new("max", pick));
/// y.sum_all().backward()?;
/// assert_eq!(x.grad().unwrap().as_slice(), &[0.0, 1.0, 0.0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LinearBackward<M> {
    name: &'static str,
    map: Arc<M>,
}

impl<M> LinearBackward<M> {
    /// The backward of the op `name`, whose gradient is `Aᵀ g` for `map`.
    pub fn new(name: &'static str, map: Arc<M>) -> Self {
        LinearBackward { name, map }
    }
}

impl<F: Float, M: LinearMap<F>> Backward<F> for LinearBackward<M> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn backward(&self, ctx: &BackwardCtx<'_, F>) -> Result<Vec<Option<Var<F>>>> {
        Ok(vec![if ctx.needs_grad[0] {
            Some(apply_linear_adjoint(ctx.grad_output, &self.map)?)
        } else {
            None
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GradcheckOptions, grad, gradcheck, gradgradcheck};

    /// A dense `m × n` matrix as a linear map on vectors.
    struct Dense {
        m: usize,
        n: usize,
        a: Vec<f64>,
    }

    impl LinearMap<f64> for Dense {
        fn name(&self) -> &'static str {
            "dense"
        }
        fn adjoint_name(&self) -> &'static str {
            "dense_adjoint"
        }
        fn apply(&self, x: &Tensor<f64>) -> Result<Tensor<f64>> {
            let x = x.as_slice();
            let y = (0..self.m)
                .map(|i| (0..self.n).map(|j| self.a[i * self.n + j] * x[j]).sum())
                .collect();
            Ok(Tensor::from_vec(&[self.m], y)?)
        }
        fn apply_adjoint(&self, g: &Tensor<f64>) -> Result<Tensor<f64>> {
            let g = g.as_slice();
            let x = (0..self.n)
                .map(|j| (0..self.m).map(|i| self.a[i * self.n + j] * g[i]).sum())
                .collect();
            Ok(Tensor::from_vec(&[self.n], x)?)
        }
    }

    fn dense() -> Arc<Dense> {
        // A = [[1, 2, 0], [0, -1, 3]].
        Arc::new(Dense {
            m: 2,
            n: 3,
            a: vec![1.0, 2.0, 0.0, 0.0, -1.0, 3.0],
        })
    }

    /// `Σ (A x) ⊙ (A x)`: first and second derivatives through the
    /// recorded map and its recorded adjoint, against finite differences.
    #[test]
    fn recorded_map_passes_first_and_second_order_checks() {
        let map = dense();
        let f = |v: &[Var<f64>]| {
            let y = apply_linear(&v[0], &map)?;
            Ok(vec![y.mul(&y)?.sum_all()])
        };
        let x = Tensor::from_vec(&[3], vec![0.3, -1.2, 0.7]).unwrap();
        let opts = GradcheckOptions::default();
        assert!(
            gradcheck(&f, std::slice::from_ref(&x), &opts)
                .unwrap()
                .passed
        );
        assert!(gradgradcheck(&f, &[x], &opts).unwrap().passed);
    }

    /// The gradient of `⟨A x, g⟩` is `Aᵀ g`, and differentiating `⟨Aᵀ g, v⟩`
    /// with respect to `g` gives `A v`: the adjoint's backward is the map.
    #[test]
    fn adjoint_of_the_adjoint_is_the_map() {
        let map = dense();
        let g = Var::leaf(Tensor::from_vec(&[2], vec![1.0, 2.0]).unwrap());
        let dx = apply_linear_adjoint(&g, &map).unwrap();
        // Aᵀ [1, 2] = [1, 0, 6].
        assert_eq!(dx.value().as_slice(), &[1.0, 0.0, 6.0]);
        let v = Var::constant(Tensor::from_vec(&[3], vec![1.0, 1.0, 1.0]).unwrap());
        let s = dx.mul(&v).unwrap().sum_all();
        let dg = grad(&[s], &[g], &[Var::constant(Tensor::scalar(1.0))], false).unwrap();
        // A [1, 1, 1] = [3, 2].
        assert_eq!(dg[0].as_ref().unwrap().value().as_slice(), &[3.0, 2.0]);
    }

    /// A nonlinear op with a linear backward: only the inputs that need a
    /// gradient get one, and it is `Aᵀ g`.
    #[test]
    fn linear_backward_gives_the_adjoint_of_the_output_gradient() {
        let x = Var::leaf(Tensor::from_vec(&[3], vec![0.5, 1.0, 2.0]).unwrap());
        let value = Tensor::from_vec(&[2], vec![9.0, 9.0]).unwrap();
        let y = Var::from_op(value, vec![x.clone()], LinearBackward::new("op", dense()));
        let g = Var::constant(Tensor::from_vec(&[2], vec![1.0, -1.0]).unwrap());
        y.mul(&g).unwrap().sum_all().backward().unwrap();
        // Aᵀ [1, -1] = [1, 3, -3].
        assert_eq!(x.grad().unwrap().as_slice(), &[1.0, 3.0, -3.0]);
    }
}
