//! Adam and AdamW.

use std::collections::BTreeMap;

use autograd::Var;
use core_tensor::{Float, Tensor};

use super::group::{Groups, Hyper, ParamGroup, buffer, hyper};
use super::state::{OptimizerState, ParamState};
use super::{Optimizer, check_hyper, value_and_grad};
use crate::{NnError, Result};

/// Settings of `torch.optim.Adam` / `AdamW`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamOptions {
    /// Learning rate (default 1e-3).
    pub lr: f64,
    /// `(β1, β2)` (default `(0.9, 0.999)`).
    pub betas: (f64, f64),
    /// Term added to the denominator (default 1e-8).
    pub eps: f64,
    /// Weight decay: an L2 term in the gradient for Adam (default 0), a
    /// decoupled decay for AdamW (default 1e-2).
    pub weight_decay: f64,
    /// AMSGrad (default false): divide by the running maximum of `v`
    /// instead of `v` itself, so the per-element step size never grows.
    pub amsgrad: bool,
}

impl AdamOptions {
    /// Adam's defaults with learning rate `lr`.
    pub fn adam(lr: f64) -> Self {
        Self {
            lr,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
        }
    }

    /// AdamW's defaults with learning rate `lr` (weight decay 1e-2).
    pub fn adamw(lr: f64) -> Self {
        Self {
            weight_decay: 1e-2,
            ..Self::adam(lr)
        }
    }

    /// Sets the weight decay.
    pub fn weight_decay(mut self, w: f64) -> Self {
        self.weight_decay = w;
        self
    }

    /// Sets `(β1, β2)`.
    pub fn betas(mut self, b1: f64, b2: f64) -> Self {
        self.betas = (b1, b2);
        self
    }

    /// Sets `eps`.
    pub fn eps(mut self, eps: f64) -> Self {
        self.eps = eps;
        self
    }

    /// Turns AMSGrad on or off (`amsgrad=`).
    pub fn amsgrad(mut self, on: bool) -> Self {
        self.amsgrad = on;
        self
    }

    fn validate_options(&self, module: &'static str) -> Result<()> {
        check_hyper(module, "lr", self.lr, self.lr >= 0.0)?;
        check_hyper(module, "eps", self.eps, self.eps >= 0.0)?;
        check_hyper(
            module,
            "beta1",
            self.betas.0,
            (0.0..1.0).contains(&self.betas.0),
        )?;
        check_hyper(
            module,
            "beta2",
            self.betas.1,
            (0.0..1.0).contains(&self.betas.1),
        )?;
        check_hyper(
            module,
            "weight_decay",
            self.weight_decay,
            self.weight_decay >= 0.0,
        )
    }
}

impl Hyper for AdamOptions {
    fn lr(&self) -> f64 {
        self.lr
    }
    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }
    fn momentum(&self) -> f64 {
        self.betas.0
    }
    fn set_momentum(&mut self, m: f64) {
        self.betas.0 = m;
    }
    fn to_map(&self) -> Vec<(&'static str, f64)> {
        vec![
            ("lr", self.lr),
            ("beta1", self.betas.0),
            ("beta2", self.betas.1),
            ("eps", self.eps),
            ("weight_decay", self.weight_decay),
            ("amsgrad", f64::from(u8::from(self.amsgrad))),
        ]
    }
    fn from_map(map: &BTreeMap<String, f64>, module: &'static str) -> Result<Self> {
        Ok(Self {
            lr: hyper(map, module, "lr")?,
            betas: (hyper(map, module, "beta1")?, hyper(map, module, "beta2")?),
            eps: hyper(map, module, "eps")?,
            weight_decay: hyper(map, module, "weight_decay")?,
            amsgrad: hyper(map, module, "amsgrad")? != 0.0,
        })
    }
    fn validate(&self, module: &'static str) -> Result<()> {
        self.validate_options(module)
    }
}

/// The state of one parameter: `step`, `exp_avg`, `exp_avg_sq` and
/// (AMSGrad only) `max_exp_avg_sq`.
struct Moments<F> {
    step: u64,
    m: Vec<F>,
    v: Vec<F>,
    /// The running maximum of `v` (AMSGrad only; empty otherwise).
    v_max: Vec<F>,
}

impl<F: Float> Moments<F> {
    fn save(&self, shape: &[usize]) -> ParamState<F> {
        let t = |v: &Vec<F>| {
            Tensor::from_vec(shape, v.clone()).expect("the moments have the parameter's size")
        };
        let mut buffers = BTreeMap::from([
            ("exp_avg".to_string(), t(&self.m)),
            ("exp_avg_sq".to_string(), t(&self.v)),
        ]);
        if !self.v_max.is_empty() {
            buffers.insert("max_exp_avg_sq".to_string(), t(&self.v_max));
        }
        ParamState {
            step: Some(self.step),
            buffers,
        }
    }

    fn load(ps: &ParamState<F>, module: &'static str, amsgrad: bool) -> Result<Self> {
        let step = ps.step.ok_or_else(|| NnError::StateMismatch {
            module,
            reason: "a parameter state lacks `step`".into(),
        })?;
        Ok(Self {
            step,
            m: buffer(ps, module, "exp_avg")?,
            v: buffer(ps, module, "exp_avg_sq")?,
            // Required for AMSGrad; kept when present otherwise.
            v_max: if amsgrad || ps.buffers.contains_key("max_exp_avg_sq") {
                buffer(ps, module, "max_exp_avg_sq")?
            } else {
                Vec::new()
            },
        })
    }
}

struct AdamCore<F: Float> {
    groups: Groups<F, AdamOptions, Moments<F>>,
    decoupled: bool,
}

impl<F: Float> AdamCore<F> {
    fn step(&mut self) -> Result<()> {
        let decoupled = self.decoupled;
        for (p, o, st) in self.groups.each() {
            let o = *o;
            let (lr, wd, eps) = (F::cast(o.lr), F::cast(o.weight_decay), F::cast(o.eps));
            let (b1, b2) = (F::cast(o.betas.0), F::cast(o.betas.1));
            let Some((value, grad)) = value_and_grad(p) else {
                continue;
            };
            let mut x: Vec<F> = value.as_slice().to_vec();
            let mut g: Vec<F> = grad.as_slice().to_vec();
            if o.weight_decay != 0.0 {
                if decoupled {
                    x.iter_mut().for_each(|v| *v *= F::one() - lr * wd);
                } else {
                    g.iter_mut().zip(&x).for_each(|(g, &v)| *g += wd * v);
                }
            }
            let s = st.get_or_insert_with(|| Moments {
                step: 0,
                m: vec![F::zero(); g.len()],
                v: vec![F::zero(); g.len()],
                v_max: Vec::new(),
            });
            if o.amsgrad && s.v_max.is_empty() {
                s.v_max = vec![F::zero(); g.len()];
            }
            s.step = s.step.saturating_add(1);
            let t = i32::try_from(s.step).unwrap_or(i32::MAX);
            let bc1 = F::one() - b1.powi(t);
            let bc2_sqrt = (F::one() - b2.powi(t)).sqrt();
            let step_size = lr / bc1;
            for i in 0..g.len() {
                // exp_avg.lerp_(grad, 1 - β1); exp_avg_sq.mul_(β2).addcmul_(g, g, 1 - β2)
                let m = s.m[i];
                s.m[i] = m + (F::one() - b1) * (g[i] - m);
                s.v[i] = s.v[i] * b2 + (F::one() - b2) * g[i] * g[i];
                let v = if o.amsgrad {
                    // torch.maximum (a NaN wins, as there).
                    let (seen, now) = (s.v_max[i], s.v[i]);
                    s.v_max[i] = if now.is_nan() || now > seen {
                        now
                    } else {
                        seen
                    };
                    s.v_max[i]
                } else {
                    s.v[i]
                };
                let denom = v.sqrt() / bc2_sqrt + eps;
                x[i] -= step_size * s.m[i] / denom;
            }
            p.set_value(Tensor::from_vec(value.shape(), x)?)?;
        }
        Ok(())
    }
}

macro_rules! adam_like {
    ($(#[$doc:meta])* $name:ident, $label:literal, $decoupled:expr) => {
        $(#[$doc])*
        pub struct $name<F: Float> {
            core: AdamCore<F>,
        }

        impl<F: Float> $name<F> {
            /// An optimizer over `params`, one group.
            ///
            /// # Errors
            /// [`crate::NnError::InvalidConfig`] for a negative learning
            /// rate, eps or weight decay, or betas outside `[0, 1)`.
            pub fn new(params: Vec<Var<F>>, options: AdamOptions) -> Result<Self> {
                Self::with_groups(vec![ParamGroup::new(params, options)])
            }

            /// An optimizer over parameter groups, each with its own
            /// options (PyTorch's `param_groups`).
            ///
            /// # Errors
            /// As `new` for any group, and [`crate::NnError::InvalidConfig`]
            /// when a parameter appears twice.
            pub fn with_groups(groups: Vec<ParamGroup<F, AdamOptions>>) -> Result<Self> {
                Ok(Self {
                    core: AdamCore {
                        groups: Groups::new($label, groups)?,
                        decoupled: $decoupled,
                    },
                })
            }

            /// The options of group `group`.
            pub fn options(&self, group: usize) -> Option<AdamOptions> {
                self.core.groups.groups.get(group).map(|g| g.options)
            }
        }

        impl<F: Float> Optimizer<F> for $name<F> {
            fn step(&mut self) -> Result<()> {
                self.core.step()
            }

            fn zero_grad(&self) {
                self.core.groups.zero_grad();
            }

            fn name(&self) -> &'static str {
                $label
            }

            fn num_groups(&self) -> usize {
                self.core.groups.groups.len()
            }

            fn group_lr(&self, group: usize) -> Option<f64> {
                self.core.groups.lr(group)
            }

            fn set_group_lr(&mut self, group: usize, lr: f64) {
                self.core.groups.set_lr(group, lr);
            }

            fn initial_lr(&self, group: usize) -> Option<f64> {
                self.core.groups.initial_lr(group)
            }

            fn group_momentum(&self, group: usize) -> Option<f64> {
                self.core.groups.momentum(group)
            }

            fn set_group_momentum(&mut self, group: usize, momentum: f64) {
                self.core.groups.set_momentum(group, momentum);
            }

            fn state_dict(&self) -> OptimizerState<F> {
                self.core.groups.state_dict(Moments::save)
            }

            fn load_state_dict(&mut self, state: &OptimizerState<F>) -> Result<()> {
                let amsgrad: Vec<bool> = state
                    .param_groups
                    .iter()
                    .flat_map(|g| {
                        let on = g.hyper.get("amsgrad").is_some_and(|&a| a != 0.0);
                        g.params.iter().map(move |_| on)
                    })
                    .collect();
                self.core.groups.load_state_dict(state, |i, ps, _| {
                    Moments::load(ps, $label, amsgrad.get(i).copied().unwrap_or(false))
                })
            }
        }
    };
}

adam_like!(
    /// `torch.optim.Adam`. Per parameter, at step `t`:
    ///
    /// ```text
    /// g ← g + weight_decay·p
    /// m ← β1·m + (1−β1)·g,   v ← β2·v + (1−β2)·g²
    /// p ← p − lr/(1−β1ᵗ) · m / (sqrt(v)/sqrt(1−β2ᵗ) + eps)
    /// ```
    ///
    /// With `amsgrad`, `v̂ ← max(v̂, v)` takes the place of `v` in the last
    /// line.
    Adam,
    "Adam",
    false
);
adam_like!(
    /// `torch.optim.AdamW`: Adam (with its `amsgrad` option) with decoupled weight decay,
    /// `p ← p·(1 − lr·weight_decay)` before the Adam update (whose gradient
    /// has no L2 term).
    AdamW,
    "AdamW",
    true
);
