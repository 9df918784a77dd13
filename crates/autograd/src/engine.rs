//! The backward pass: reverse topological traversal, one call per node,
//! gradient accumulation, optional graph of the gradients.

use std::collections::{HashMap, HashSet};

use core_tensor::Float;

use crate::backward::BackwardCtx;
use crate::grad_mode::{enable_grad, no_grad};
use crate::var::Var;
use crate::{AutogradError, Result};

/// Options of a backward pass (`torch.autograd.backward`'s flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackwardOptions {
    /// Keep the saved state so the graph can be traversed again. A pass
    /// with `create_graph` always retains.
    pub retain_graph: bool,
    /// Record the backward computation itself, so the gradients are `Var`s
    /// that can be differentiated again.
    pub create_graph: bool,
}

/// Computes the gradients of `outputs` with respect to `inputs`, like
/// `torch.autograd.grad(outputs, inputs, grad_outputs, create_graph)`.
///
/// `grad_outputs[i]` is the gradient fed to `outputs[i]` (same shape).
/// Returns one entry per input: `None` when the input does not influence any
/// output. Leaf `.grad` fields are left untouched. The graph is retained
/// when `create_graph` is true and freed otherwise.
///
/// ```
/// use autograd::{grad, Var};
/// use core_tensor::Tensor;
/// let x = Var::leaf(Tensor::from_vec(&[1], vec![3.0f64])?);
/// let y = x.mul(&x)?.mul(&x)?;                       // x^3
/// let one = Var::constant(Tensor::ones(&[1]));
/// let dy = grad(&[y], &[x.clone()], &[one.clone()], true)?[0].clone().unwrap();
/// assert_eq!(dy.value().as_slice(), &[27.0]);        // 3x^2
/// let d2y = grad(&[dy], &[x], &[one], false)?[0].clone().unwrap();
/// assert_eq!(d2y.value().as_slice(), &[18.0]);       // 6x
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`AutogradError::BackwardArity`] when the lists differ in length,
/// [`AutogradError::ShapeMismatch`] for a gradient of the wrong shape,
/// [`AutogradError::GraphFreed`] and any op's error.
pub fn grad<F: Float>(
    outputs: &[Var<F>],
    inputs: &[Var<F>],
    grad_outputs: &[Var<F>],
    create_graph: bool,
) -> Result<Vec<Option<Var<F>>>> {
    if outputs.len() != grad_outputs.len() {
        return Err(AutogradError::BackwardArity {
            op: "grad",
            expected: outputs.len(),
            got: grad_outputs.len(),
        });
    }
    for (o, g) in outputs.iter().zip(grad_outputs) {
        if o.shape() != g.shape() {
            return Err(AutogradError::ShapeMismatch {
                op: "grad",
                lhs: o.shape(),
                rhs: g.shape(),
                reason: "each grad_output must have its output's shape",
            });
        }
    }
    let options = BackwardOptions {
        retain_graph: create_graph,
        create_graph,
    };
    let found = run_backward(outputs, grad_outputs, Some(inputs), options)?;
    Ok(found)
}

/// The engine. With `targets`, returns their gradients and leaves `.grad`
/// alone; without, accumulates into every leaf that requires grad.
pub(crate) fn run_backward<F: Float>(
    roots: &[Var<F>],
    seeds: &[Var<F>],
    targets: Option<&[Var<F>]>,
    options: BackwardOptions,
) -> Result<Vec<Option<Var<F>>>> {
    let retain = options.retain_graph || options.create_graph;
    let order = topological_order(roots)?;

    // Which nodes lead to something we want a gradient for: a target, or
    // (without targets) a leaf that requires grad now. A node whose inputs
    // lead only to frozen leaves is never run.
    let target_ids: Option<HashSet<usize>> = targets.map(|t| t.iter().map(Var::id).collect());
    let mut needed: HashSet<usize> = HashSet::new();
    for (var, inputs) in &order {
        let is_needed = match &target_ids {
            Some(ids) => ids.contains(&var.id()) || inputs.iter().any(|i| needed.contains(&i.id())),
            None if var.is_leaf() => var.requires_grad(),
            None => inputs.iter().any(|i| needed.contains(&i.id())),
        };
        if is_needed {
            needed.insert(var.id());
        }
    }

    let _mode = if options.create_graph {
        enable_grad()
    } else {
        no_grad()
    };
    let mut grads: HashMap<usize, Var<F>> = HashMap::new();
    for (root, seed) in roots.iter().zip(seeds) {
        if root.requires_grad() {
            accumulate(&mut grads, root.id(), seed.clone())?;
        }
    }
    let mut captured: HashMap<usize, Var<F>> = HashMap::new();

    for (var, inputs) in order.iter().rev() {
        let Some(g) = grads.remove(&var.id()) else {
            continue;
        };
        // The gradient of `var` is complete here: every consumer came before.
        let g = var.run_grad_hooks(g)?;
        if target_ids
            .as_ref()
            .is_some_and(|ids| ids.contains(&var.id()))
        {
            captured.insert(var.id(), g.clone());
        }
        let Some(node_cell) = &var.inner.node else {
            if targets.is_none() {
                let mut slot = var.inner.grad.lock().expect("grad lock poisoned");
                let g = if options.create_graph { g } else { g.detach() };
                *slot = Some(match slot.take() {
                    Some(old) => old.add(&g)?,
                    None => g,
                });
                drop(slot);
                var.run_post_accumulate_hooks()?;
            }
            continue;
        };
        let needs: Vec<bool> = inputs
            .iter()
            .map(|i| i.requires_grad() && needed.contains(&i.id()))
            .collect();
        if !needs.iter().any(|&b| b) {
            continue;
        }
        let node = node_cell.lock().expect("node lock poisoned");
        let node = node
            .as_ref()
            .ok_or(AutogradError::GraphFreed { op: var.op_name() })?;
        if let Some((k, input)) = inputs
            .iter()
            .enumerate()
            .find(|(k, input)| input.version() != node.versions[*k])
        {
            return Err(AutogradError::ModifiedByUpdate {
                op: var.op_name(),
                input: k,
                recorded: node.versions[k],
                current: input.version(),
            });
        }
        let ctx = BackwardCtx {
            grad_output: &g,
            output: var,
            inputs,
            needs_grad: &needs,
            create_graph: options.create_graph,
        };
        let op = node.backward.name();
        let input_grads = node.backward.backward(&ctx)?;
        if input_grads.len() != inputs.len() {
            return Err(AutogradError::BackwardArity {
                op,
                expected: inputs.len(),
                got: input_grads.len(),
            });
        }
        for (k, (input, ig)) in inputs.iter().zip(input_grads).enumerate() {
            let Some(ig) = ig else { continue };
            if !needs[k] {
                continue;
            }
            if ig.shape() != input.shape() {
                return Err(AutogradError::GradShape {
                    op,
                    input: k,
                    expected: input.shape(),
                    got: ig.shape(),
                });
            }
            accumulate(&mut grads, input.id(), ig)?;
        }
    }

    if !retain {
        for (var, _) in &order {
            if let Some(cell) = &var.inner.node {
                cell.lock().expect("node lock poisoned").take();
            }
        }
    }

    Ok(targets
        .map(|t| t.iter().map(|v| captured.get(&v.id()).cloned()).collect())
        .unwrap_or_default())
}

fn accumulate<F: Float>(grads: &mut HashMap<usize, Var<F>>, id: usize, g: Var<F>) -> Result<()> {
    let merged = match grads.remove(&id) {
        Some(old) => old.add(&g)?,
        None => g,
    };
    grads.insert(id, merged);
    Ok(())
}

/// Nodes with their inputs, inputs before consumers.
type Order<F> = Vec<(Var<F>, Vec<Var<F>>)>;

/// Post-order (inputs before consumers) of every node reachable from the
/// roots through values that require grad, with each node's inputs. An
/// explicit stack keeps deep graphs (long training loops) off the call stack.
fn topological_order<F: Float>(roots: &[Var<F>]) -> Result<Order<F>> {
    let mut order = Vec::new();
    let mut visited: HashSet<usize> = HashSet::new();
    let mut stack: Vec<(Var<F>, Vec<Var<F>>, usize)> = Vec::new();
    for root in roots {
        if !root.requires_grad() || !visited.insert(root.id()) {
            continue;
        }
        stack.push((root.clone(), inputs_of(root)?, 0));
        while let Some((var, inputs, next)) = stack.last_mut() {
            if *next < inputs.len() {
                let child = inputs[*next].clone();
                *next += 1;
                if child.requires_grad() && visited.insert(child.id()) {
                    let child_inputs = inputs_of(&child)?;
                    stack.push((child, child_inputs, 0));
                }
            } else {
                let var = var.clone();
                let inputs = std::mem::take(inputs);
                stack.pop();
                order.push((var, inputs));
            }
        }
    }
    Ok(order)
}

fn inputs_of<F: Float>(var: &Var<F>) -> Result<Vec<Var<F>>> {
    match &var.inner.node {
        None => Ok(Vec::new()),
        Some(cell) => {
            let node = cell.lock().expect("node lock poisoned");
            let node = node
                .as_ref()
                .ok_or(AutogradError::GraphFreed { op: var.op_name() })?;
            Ok(node.inputs.clone())
        }
    }
}
