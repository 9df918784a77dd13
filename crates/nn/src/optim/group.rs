//! Parameter groups: each with its own hyper-parameters, as PyTorch's
//! `param_groups`.

use std::collections::{BTreeMap, HashSet};

use autograd::Var;
use core_tensor::Float;

use super::state::{GroupState, OptimizerState, ParamState};
use crate::{NnError, Result};

/// Parameters that share hyper-parameters (one entry of PyTorch's
/// `param_groups`), e.g. a backbone with a small learning rate beside a
/// head with a large one:
///
/// ```
/// use core_tensor::Rng;
/// use nn::optim::ParamGroup;
/// use nn::{Linear, Module, Optimizer, Sgd, SgdOptions};
/// let mut rng = Rng::new(0);
/// let (body, head) = (Linear::<f64>::new(4, 4, true, &mut rng)?, Linear::new(4, 2, true, &mut rng)?);
/// let opt = Sgd::with_groups(vec![
///     ParamGroup::new(body.parameters(), SgdOptions::new(0.01)),
///     ParamGroup::new(head.parameters(), SgdOptions::new(0.1).weight_decay(1e-4)),
/// ])?;
/// assert_eq!((opt.group_lr(0), opt.group_lr(1)), (Some(0.01), Some(0.1)));
/// # Ok::<(), nn::NnError>(())
/// ```
#[derive(Clone, Debug)]
pub struct ParamGroup<F: Float, O> {
    /// The parameters of the group.
    pub params: Vec<Var<F>>,
    /// Their hyper-parameters.
    pub options: O,
}

impl<F: Float, O> ParamGroup<F, O> {
    /// A group of `params` with `options`.
    pub fn new(params: Vec<Var<F>>, options: O) -> Self {
        Self { params, options }
    }
}

/// What the shared group code needs to know about an optimizer's options.
pub(crate) trait Hyper: Copy {
    fn lr(&self) -> f64;
    fn set_lr(&mut self, lr: f64);
    fn momentum(&self) -> f64;
    fn set_momentum(&mut self, m: f64);
    /// The hyper-parameters by PyTorch's names (`betas` as `beta1`,
    /// `beta2`; booleans as 0 / 1).
    fn to_map(&self) -> Vec<(&'static str, f64)>;
    /// Options from such a map; every key of [`Hyper::to_map`] is required.
    fn from_map(map: &BTreeMap<String, f64>, module: &'static str) -> Result<Self>;
    fn validate(&self, module: &'static str) -> Result<()>;
}

/// Looks a required hyper-parameter up in a saved group.
pub(crate) fn hyper(map: &BTreeMap<String, f64>, module: &'static str, key: &str) -> Result<f64> {
    map.get(key).copied().ok_or_else(|| NnError::StateMismatch {
        module,
        reason: format!("a parameter group lacks `{key}`"),
    })
}

pub(crate) struct Group<F: Float, O> {
    pub(crate) params: Vec<Var<F>>,
    pub(crate) options: O,
    pub(crate) initial_lr: f64,
}

/// The groups of one optimizer and a per-parameter state `S`, indexed by
/// the parameter's position across the groups (PyTorch's state-dict ids).
pub(crate) struct Groups<F: Float, O, S> {
    pub(crate) module: &'static str,
    pub(crate) groups: Vec<Group<F, O>>,
    pub(crate) state: Vec<Option<S>>,
}

impl<F: Float, O: Hyper, S> Groups<F, O, S> {
    pub(crate) fn new(module: &'static str, groups: Vec<ParamGroup<F, O>>) -> Result<Self> {
        let mut seen = HashSet::new();
        for g in &groups {
            g.options.validate(module)?;
            if let Some(p) = g.params.iter().find(|p| !seen.insert(p.id())) {
                return Err(NnError::config(
                    module,
                    "params",
                    format!(
                        "a parameter (id {}) appears more than once in the parameter groups",
                        p.id()
                    ),
                ));
            }
        }
        let n = seen.len();
        Ok(Self {
            module,
            groups: groups
                .into_iter()
                .map(|g| Group {
                    initial_lr: g.options.lr(),
                    params: g.params,
                    options: g.options,
                })
                .collect(),
            state: (0..n).map(|_| None).collect(),
        })
    }

    /// Every parameter with its group's options and its state slot.
    pub(crate) fn each(&mut self) -> impl Iterator<Item = (&Var<F>, &O, &mut Option<S>)> {
        let mut slots = self.state.iter_mut();
        self.groups
            .iter()
            .flat_map(move |g| {
                let o = &g.options;
                g.params
                    .iter()
                    .map(move |p| (p, o))
                    .collect::<Vec<_>>()
                    .into_iter()
            })
            .map(move |(p, o)| (p, o, slots.next().expect("one slot per parameter")))
    }

    fn shapes(&self) -> Vec<Vec<usize>> {
        self.groups
            .iter()
            .flat_map(|g| g.params.iter().map(Var::shape))
            .collect()
    }

    pub(crate) fn zero_grad(&self) {
        self.groups
            .iter()
            .flat_map(|g| &g.params)
            .for_each(Var::zero_grad);
    }

    pub(crate) fn lr(&self, g: usize) -> Option<f64> {
        self.groups.get(g).map(|g| g.options.lr())
    }

    pub(crate) fn set_lr(&mut self, g: usize, lr: f64) {
        if let Some(g) = self.groups.get_mut(g) {
            g.options.set_lr(lr);
        }
    }

    pub(crate) fn initial_lr(&self, g: usize) -> Option<f64> {
        self.groups.get(g).map(|g| g.initial_lr)
    }

    pub(crate) fn momentum(&self, g: usize) -> Option<f64> {
        self.groups.get(g).map(|g| g.options.momentum())
    }

    pub(crate) fn set_momentum(&mut self, g: usize, m: f64) {
        if let Some(g) = self.groups.get_mut(g) {
            g.options.set_momentum(m);
        }
    }

    /// The state dict, with `save` turning one parameter's state into
    /// step count and named buffers.
    pub(crate) fn state_dict(
        &self,
        save: impl Fn(&S, &[usize]) -> ParamState<F>,
    ) -> OptimizerState<F> {
        let shapes = self.shapes();
        let mut next = 0;
        let param_groups = self
            .groups
            .iter()
            .map(|g| {
                let params: Vec<usize> = (next..next + g.params.len()).collect();
                next += g.params.len();
                let mut hyper: BTreeMap<String, f64> = g
                    .options
                    .to_map()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect();
                hyper.insert("initial_lr".into(), g.initial_lr);
                GroupState { params, hyper }
            })
            .collect();
        let state = self
            .state
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (i, save(s, &shapes[i]))))
            .collect();
        OptimizerState {
            optimizer: self.module.to_string(),
            param_groups,
            state,
        }
    }

    /// Checks `saved` against these groups, converts every parameter state
    /// with `load` (given the parameter's element count and shape), and
    /// only then replaces options and states.
    pub(crate) fn load_state_dict(
        &mut self,
        saved: &OptimizerState<F>,
        load: impl Fn(usize, &ParamState<F>, &[usize]) -> Result<S>,
    ) -> Result<()> {
        let module = self.module;
        let mismatch = |reason: String| NnError::StateMismatch { module, reason };
        if saved.optimizer != module {
            return Err(mismatch(format!(
                "the state dict is of a `{}` optimizer, not `{module}`",
                saved.optimizer
            )));
        }
        if saved.param_groups.len() != self.groups.len() {
            return Err(mismatch(format!(
                "the state dict has {} parameter groups, this optimizer {}",
                saved.param_groups.len(),
                self.groups.len()
            )));
        }
        let mut options = Vec::new();
        let mut next = 0;
        for (k, (g, s)) in self.groups.iter().zip(&saved.param_groups).enumerate() {
            let want: Vec<usize> = (next..next + g.params.len()).collect();
            next += g.params.len();
            if s.params != want {
                return Err(mismatch(format!(
                    "parameter group {k} holds {} parameters in the state dict ({:?}), \
                     {} here ({want:?})",
                    s.params.len(),
                    s.params,
                    g.params.len()
                )));
            }
            let o = O::from_map(&s.hyper, module)?;
            o.validate(module)?;
            options.push((o, hyper(&s.hyper, module, "initial_lr")?));
        }
        let shapes = self.shapes();
        let mut state: Vec<Option<S>> = (0..shapes.len()).map(|_| None).collect();
        for (&i, ps) in &saved.state {
            let shape = shapes.get(i).ok_or_else(|| {
                mismatch(format!(
                    "the state dict has a state for parameter {i}, this optimizer has {} parameters",
                    shapes.len()
                ))
            })?;
            for (name, t) in &ps.buffers {
                if t.shape() != shape.as_slice() {
                    return Err(mismatch(format!(
                        "`{name}` of parameter {i} has shape {:?}, the parameter {shape:?}",
                        t.shape()
                    )));
                }
            }
            state[i] = Some(load(i, ps, shape)?);
        }
        for (g, (o, initial)) in self.groups.iter_mut().zip(options) {
            g.options = o;
            g.initial_lr = initial;
        }
        self.state = state;
        Ok(())
    }
}

/// A named buffer of a saved parameter state, or a typed error.
pub(crate) fn buffer<F: Float>(
    ps: &ParamState<F>,
    module: &'static str,
    name: &str,
) -> Result<Vec<F>> {
    ps.buffers
        .get(name)
        .map(|t| t.as_slice().to_vec())
        .ok_or_else(|| NnError::StateMismatch {
            module,
            reason: format!("a parameter state lacks `{name}`"),
        })
}
