//! Adam and AdamW.

use autograd::Var;
use core_tensor::{Float, Tensor};

use super::{Optimizer, check_hyper, value_and_grad};
use crate::Result;

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

    fn validate(&self, module: &'static str) -> Result<()> {
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

struct Moments<F> {
    step: u64,
    m: Vec<F>,
    v: Vec<F>,
    /// The running maximum of `v` (AMSGrad only; empty otherwise).
    v_max: Vec<F>,
}

struct AdamCore<F: Float> {
    params: Vec<Var<F>>,
    options: AdamOptions,
    state: Vec<Option<Moments<F>>>,
    decoupled: bool,
}

impl<F: Float> AdamCore<F> {
    fn step(&mut self) -> Result<()> {
        let o = self.options;
        let (lr, wd, eps) = (F::cast(o.lr), F::cast(o.weight_decay), F::cast(o.eps));
        let (b1, b2) = (F::cast(o.betas.0), F::cast(o.betas.1));
        for (p, st) in self.params.iter().zip(&mut self.state) {
            let Some((value, grad)) = value_and_grad(p) else {
                continue;
            };
            let mut x: Vec<F> = value.as_slice().to_vec();
            let mut g: Vec<F> = grad.as_slice().to_vec();
            if o.weight_decay != 0.0 {
                if self.decoupled {
                    x.iter_mut().for_each(|v| *v *= F::one() - lr * wd);
                } else {
                    g.iter_mut().zip(&x).for_each(|(g, &v)| *g += wd * v);
                }
            }
            let s = st.get_or_insert_with(|| Moments {
                step: 0,
                m: vec![F::zero(); g.len()],
                v: vec![F::zero(); g.len()],
                v_max: if o.amsgrad {
                    vec![F::zero(); g.len()]
                } else {
                    Vec::new()
                },
            });
            s.step += 1;
            let t = s.step as i32;
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
            /// An optimizer over `params`.
            ///
            /// # Errors
            /// [`crate::NnError::InvalidConfig`] for a negative learning
            /// rate, eps or weight decay, or betas outside `[0, 1)`.
            pub fn new(params: Vec<Var<F>>, options: AdamOptions) -> Result<Self> {
                options.validate($label)?;
                let n = params.len();
                Ok(Self {
                    core: AdamCore {
                        params,
                        options,
                        state: (0..n).map(|_| None).collect(),
                        decoupled: $decoupled,
                    },
                })
            }
        }

        impl<F: Float> Optimizer<F> for $name<F> {
            fn step(&mut self) -> Result<()> {
                self.core.step()
            }

            fn zero_grad(&self) {
                self.core.params.iter().for_each(Var::zero_grad);
            }

            fn lr(&self) -> f64 {
                self.core.options.lr
            }

            fn set_lr(&mut self, lr: f64) {
                self.core.options.lr = lr;
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
