//! Stochastic gradient descent with momentum, dampening, Nesterov and
//! weight decay.

use std::collections::BTreeMap;

use autograd::Var;
use core_tensor::{Float, Tensor};

use super::group::{Groups, Hyper, ParamGroup, buffer, hyper};
use super::state::{OptimizerState, ParamState};
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

impl Hyper for SgdOptions {
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn momentum(&self) -> f64 {
        self.momentum
    }
    fn set_momentum(&mut self, m: f64) {
        self.momentum = m;
    }
    fn to_map(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("lr", self.lr),
            ("momentum", self.momentum),
            ("dampening", self.dampening),
            ("weight_decay", self.weight_decay),
            ("nesterov", f64::from(u8::from(self.nesterov))),
        ]
    }
    fn from_map(map: &BTreeMap<String, f64>, module: &'static str) -> Result<Self> {
        Ok(Self {
            lr: hyper(map, module, "lr")?,
            momentum: hyper(map, module, "momentum")?,
            dampening: hyper(map, module, "dampening")?,
            weight_decay: hyper(map, module, "weight_decay")?,
            nesterov: hyper(map, module, "nesterov")? != 0.0,
        })
    }
    fn validate(&self, module: &'static str) -> Result<()> {
        check_hyper(module, "lr", self.lr, self.lr >= 0.0)?;
        check_hyper(module, "momentum", self.momentum, self.momentum >= 0.0)?;
        check_hyper(
            module,
            "weight_decay",
            self.weight_decay,
            self.weight_decay >= 0.0,
        )?;
        check_hyper(module, "dampening", self.dampening, true)?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(NnError::config(
                module,
                "nesterov",
                "Nesterov momentum requires a momentum and zero dampening",
            ));
        }
        Ok(())
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
///
/// The state of a parameter is its `momentum_buffer` `b`.
pub struct Sgd<F: Float> {
    groups: Groups<F, SgdOptions, Vec<F>>,
}

impl<F: Float> Sgd<F> {
    /// An optimizer over `params`, one group.
    ///
    /// # Errors
    /// [`NnError::InvalidConfig`] for a negative or non-finite learning
    /// rate, momentum or weight decay, or Nesterov without momentum or with
    /// dampening.
    pub fn new(params: Vec<Var<F>>, options: SgdOptions) -> Result<Self> {
        Self::with_groups(vec![ParamGroup::new(params, options)])
    }

    /// An optimizer over parameter groups, each with its own options
    /// (`torch.optim.SGD([{"params": ..., "lr": ...}, ...])`).
    ///
    /// # Errors
    /// As [`Sgd::new`] for any group, and [`NnError::InvalidConfig`] when a
    /// parameter appears twice.
    pub fn with_groups(groups: Vec<ParamGroup<F, SgdOptions>>) -> Result<Self> {
        Ok(Self {
            groups: Groups::new("SGD", groups)?,
        })
    }

    /// The options of group `group`.
    pub fn options(&self, group: usize) -> Option<SgdOptions> {
        self.groups.groups.get(group).map(|g| g.options)
    }
}

impl<F: Float> Optimizer<F> for Sgd<F> {
    fn step(&mut self) -> Result<()> {
        for (p, o, buf) in self.groups.each() {
            let (lr, mom, damp, wd) = (
                F::cast(o.lr),
                F::cast(o.momentum),
                F::cast(o.dampening),
                F::cast(o.weight_decay),
            );
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
        self.groups.zero_grad();
    }

    fn name(&self) -> &'static str {
        "SGD"
    }

    fn num_groups(&self) -> usize {
        self.groups.groups.len()
    }

    fn group_lr(&self, group: usize) -> Option<f64> {
        self.groups.lr(group)
    }

    fn set_group_lr(&mut self, group: usize, lr: f64) {
        self.groups.set_lr(group, lr);
    }

    fn initial_lr(&self, group: usize) -> Option<f64> {
        self.groups.initial_lr(group)
    }

    fn group_momentum(&self, group: usize) -> Option<f64> {
        self.groups.momentum(group)
    }

    fn set_group_momentum(&mut self, group: usize, momentum: f64) {
        self.groups.set_momentum(group, momentum);
    }

    fn state_dict(&self) -> OptimizerState<F> {
        self.groups.state_dict(|b, shape| ParamState {
            step: None,
            buffers: BTreeMap::from([(
                "momentum_buffer".to_string(),
                Tensor::from_vec(shape, b.clone()).expect("the buffer has the parameter's size"),
            )]),
        })
    }

    fn load_state_dict(&mut self, state: &OptimizerState<F>) -> Result<()> {
        self.groups
            .load_state_dict(state, |_, ps, _| buffer(ps, "SGD", "momentum_buffer"))
    }
}
