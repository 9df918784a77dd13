//! Freezing leaves with `Var::requires_grad_`: no gradient for a frozen
//! leaf, and no backward work for the parts of the graph that lead only to
//! frozen leaves.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use autograd::{AutogradError, Backward, BackwardCtx, Result, Var};
use core_tensor::Tensor;

/// `y = 3x`, counting how often its backward runs and for which inputs.
struct Counted {
    calls: Arc<AtomicUsize>,
}

impl Backward<f64> for Counted {
    fn name(&self) -> &'static str {
        "counted"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, f64>) -> Result<Vec<Option<Var<f64>>>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(vec![
            ctx.needs_grad[0].then(|| ctx.grad_output.mul_scalar(3.0)),
        ])
    }
}

fn counted(x: &Var<f64>, calls: &Arc<AtomicUsize>) -> Var<f64> {
    let value = x.value().map(|v| 3.0 * v);
    Var::from_op(
        value,
        vec![x.clone()],
        Counted {
            calls: Arc::clone(calls),
        },
    )
}

fn t(v: &[f64]) -> Tensor<f64> {
    Tensor::from_vec(&[v.len()], v.to_vec()).unwrap()
}

#[test]
fn a_frozen_leaf_gets_no_grad_and_its_branch_is_not_run() {
    let calls = Arc::new(AtomicUsize::new(0));
    let frozen = Var::leaf(t(&[1.0, 2.0]));
    let trained = Var::leaf(t(&[4.0, 5.0]));
    // The graph is recorded while both require grad, then one is frozen.
    let a = counted(&frozen, &calls);
    let loss = a.mul(&trained).unwrap().sum_all();
    frozen.requires_grad_(false).unwrap();
    loss.backward().unwrap();
    assert!(frozen.grad().is_none());
    // d/d trained of sum(3·frozen·trained) = 3·frozen.
    assert_eq!(trained.grad().unwrap().as_slice(), &[3.0, 6.0]);
    assert_eq!(calls.load(Ordering::SeqCst), 0, "the frozen branch ran");
}

#[test]
fn the_branch_runs_again_once_unfrozen() {
    let calls = Arc::new(AtomicUsize::new(0));
    let w = Var::leaf(t(&[1.0, 2.0]));
    w.requires_grad_(false).unwrap();
    // Recorded while frozen: the op has no trainable input, so no node.
    let y = counted(&w, &calls);
    assert!(!y.requires_grad());
    assert!(y.is_leaf());
    w.requires_grad_(true).unwrap();
    let y = counted(&w, &calls);
    y.sum_all().backward().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(w.grad().unwrap().as_slice(), &[3.0, 3.0]);
}

#[test]
fn shared_inputs_still_get_gradients_through_a_frozen_neighbour() {
    // y = x·w with w frozen: x (trainable) still gets w as its gradient.
    let x = Var::leaf(t(&[1.0, -2.0]));
    let w = Var::leaf(t(&[0.5, 4.0]));
    w.requires_grad_(false).unwrap();
    x.mul(&w).unwrap().sum_all().backward().unwrap();
    assert_eq!(x.grad().unwrap().as_slice(), &[0.5, 4.0]);
    assert!(w.grad().is_none());
}

#[test]
fn grad_of_a_frozen_target_is_none_and_constants_can_be_unfrozen() {
    let c = Var::constant(t(&[2.0]));
    assert!(!c.requires_grad());
    c.requires_grad_(true).unwrap();
    let y = c.mul(&c).unwrap();
    y.backward().unwrap();
    assert_eq!(c.grad().unwrap().as_slice(), &[4.0]);
}

#[test]
fn only_leaves_can_switch() {
    let x = Var::leaf(t(&[1.0]));
    let y = x.mul_scalar(2.0);
    let e = y.requires_grad_(false).unwrap_err();
    assert!(matches!(
        e,
        AutogradError::InvalidUpdate {
            op: "requires_grad_",
            ..
        }
    ));
    assert!(e.to_string().contains("only leaves"), "{e}");
    assert!(y.requires_grad());
}
