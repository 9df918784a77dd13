//! Stochastic gradient descent with momentum, dampening, Nesterov and
//! weight decay.

use autograd::Var;
use core_tensor::{Float, Tensor};

use super::{Optimizer, check_hyper, value_and_grad};
use crate::{NnError, Result};

/// `torch.optim.SGD` settings (defaults: no momentum, no dampening, no
/// weight decay, not Nesterov).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdOptions {
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor.
    pub momentum: f64,
    /// Dampening of the momentum.
    pub dampening: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Nesterov momentum (needs `momentum > 0` and `dampening == 0`).
    pub nesterov: bool,
}

impl SgdOptions {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: f64) -> Self {
        Self {
            lr,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }

    /// Sets the momentum.
    pub fn momentum(mut self, m: f64) -> Self {
        self.momentum = m;
        self
    }

    /// Sets the dampening.
    pub fn dampening(mut self, d: f64) -> Self {
        self.dampening = d;
        self
    }

    /// Sets the weight decay.
    pub fn weight_decay(mut self, w: f64) -> Self {
        self.weight_decay = w;
        self
    }

    /// Switches Nesterov momentum on or off.
    pub fn nesterov(mut self, n: bool) -> Self {
        self.nesterov = n;
        self
    }
}

/// `torch.optim.SGD`. Per parameter `p` with gradient `g`:
///
/// ```text
/// g ← g + weight_decay·p
/// if momentum ≠ 0:
///     b ← g                                   (first step)
///     b ← momentum·b + (1 − dampening)·g      (later steps)
///     g ← g + momentum·b  if nesterov, else b
/// p ← p − lr·g
/// ```
pub struct Sgd<F: Float> {
    params: Vec<Var<F>>,
    options: SgdOptions,
    buffers: Vec<Option<Vec<F>>>,
}

impl<F: Float> Sgd<F> {
    /// An optimizer over `params`.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for a negative or non-finite learning
    /// rate, momentum or weight decay, or Nesterov without momentum or with
    /// dampening.
    pub fn new(params: Vec<Var<F>>, options: SgdOptions) -> Result<Self> {
        check_hyper("SGD", "lr", options.lr, options.lr >= 0.0)?;
        check_hyper("SGD", "momentum", options.momentum, options.momentum >= 0.0)?;
        check_hyper(
            "SGD",
            "weight_decay",
            options.weight_decay,
            options.weight_decay >= 0.0,
        )?;
        check_hyper("SGD", "dampening", options.dampening, true)?;
        if options.nesterov && (options.momentum <= 0.0 || options.dampening != 0.0) {
            return Err(NnError::config(
                "SGD",
                "nesterov",
                "Nesterov momentum requires a momentum and zero dampening",
            ));
        }
        let n = params.len();
        Ok(Self {
            params,
            options,
            buffers: vec![None; n],
        })
    }
}

impl<F: Float> Optimizer<F> for Sgd<F> {
    fn step(&mut self) -> Result<()> {
        let o = self.options;
        let (lr, mom, damp, wd) = (
            F::cast(o.lr),
            F::cast(o.momentum),
            F::cast(o.dampening),
            F::cast(o.weight_decay),
        );
        for (p, buf) in self.params.iter().zip(&mut self.buffers) {
            let Some((value, grad)) = value_and_grad(p) else {
                continue;
            };
            let pv = value.as_slice();
            let mut d: Vec<F> = grad.as_slice().to_vec();
            if o.weight_decay != 0.0 {
                d.iter_mut().zip(pv).for_each(|(g, &x)| *g += wd * x);
            }
            if o.momentum != 0.0 {
                match buf {
                    None => *buf = Some(d.clone()),
                    Some(b) => b
                        .iter_mut()
                        .zip(&d)
                        .for_each(|(b, &g)| *b = *b * mom + (F::one() - damp) * g),
                }
                let b = buf.as_ref().expect("set above");
                if o.nesterov {
                    d.iter_mut().zip(b).for_each(|(g, &b)| *g += mom * b);
                } else {
                    d.copy_from_slice(b);
                }
            }
            let new: Vec<F> = pv.iter().zip(&d).map(|(&x, &g)| x - lr * g).collect();
            p.set_value(Tensor::from_vec(value.shape(), new)?)?;
        }
        Ok(())
    }

    fn zero_grad(&self) {
        self.params.iter().for_each(Var::zero_grad);
    }

    fn lr(&self) -> f64 {
        self.options.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.options.lr = lr;
    }
}
