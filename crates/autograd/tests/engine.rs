//! Engine semantics: accumulation, call counts, needs_grad, grad modes,
//! detach, freed graphs, `grad()`, higher orders, deep graphs, set_value.
// `&[x.clone()]` reads better than `std::slice::from_ref(&x)` in tests.
#![allow(clippy::cloned_ref_to_slice_refs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use autograd::{
    AutogradError, Backward, BackwardCtx, BackwardOptions, Result, Var, enable_grad, grad,
    is_grad_enabled, no_grad,
};
use core_tensor::Tensor;
use core_tensor::testing::assert_close;

fn leaf(v: &[f64]) -> Var<f64> {
    Var::leaf(Tensor::from_vec(&[v.len()], v.to_vec()).unwrap())
}

fn ones(n: usize) -> Var<f64> {
    Var::constant(Tensor::ones(&[n]))
}

/// y = 3x, counting backward calls and asserting on `needs_grad`.
struct Counted {
    calls: Arc<AtomicUsize>,
    /// For each input: whether its gradient may be requested.
    allowed: Vec<bool>,
}

impl Backward<f64> for Counted {
    fn name(&self) -> &'static str {
        "counted"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, f64>) -> Result<Vec<Option<Var<f64>>>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(ctx
            .needs_grad
            .iter()
            .zip(&self.allowed)
            .map(|(&need, &allowed)| {
                assert!(
                    allowed || !need,
                    "the engine asked for the gradient of an input that does not require grad"
                );
                need.then(|| ctx.grad_output.mul_scalar(3.0))
            })
            .collect())
    }
}

/// `3 * sum(inputs)` elementwise, as a custom op.
fn counted(inputs: &[Var<f64>], calls: &Arc<AtomicUsize>) -> Var<f64> {
    let mut v = inputs[0].value().to_vec();
    for x in &inputs[1..] {
        for (a, b) in v.iter_mut().zip(x.value().as_slice()) {
            *a += b;
        }
    }
    let value = Tensor::from_vec(&inputs[0].shape(), v.iter().map(|a| 3.0 * a).collect()).unwrap();
    let allowed = inputs.iter().map(Var::requires_grad).collect();
    Var::from_op(
        value,
        inputs.to_vec(),
        Counted {
            calls: calls.clone(),
            allowed,
        },
    )
}

#[test]
fn shared_inputs_accumulate() {
    // y = x*x + x  =>  dy/dx = 2x + 1
    let x = leaf(&[1.5, -2.0]);
    let y = x.mul(&x).unwrap().add(&x).unwrap().sum_all();
    y.backward().unwrap();
    assert_close(x.grad().unwrap().as_slice(), &[4.0, -3.0], 1e-15, 0.0);
}

#[test]
fn leaf_grads_accumulate_until_zero_grad() {
    let x = leaf(&[1.0, 2.0]);
    for k in 1..=3 {
        x.mul_scalar(2.0).sum_all().backward().unwrap();
        assert_close(
            x.grad().unwrap().as_slice(),
            &[2.0 * k as f64, 2.0 * k as f64],
            1e-15,
            0.0,
        );
    }
    x.zero_grad();
    assert!(x.grad().is_none());
    x.mul_scalar(5.0).sum_all().backward().unwrap();
    assert_close(x.grad().unwrap().as_slice(), &[5.0, 5.0], 1e-15, 0.0);
}

#[test]
fn each_grad_fn_runs_once_per_backward() {
    // A diamond: c is used by two branches that meet again.
    let calls = Arc::new(AtomicUsize::new(0));
    let x = leaf(&[1.0, 2.0]);
    let c = counted(&[x.clone()], &calls);
    let y = c
        .exp()
        .add(&c.mul(&c).unwrap())
        .unwrap()
        .add(&c)
        .unwrap()
        .sum_all();
    y.backward().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // dy/dx = 3 (exp(c) + 2c + 1), c = 3x
    let want: Vec<f64> = [1.0f64, 2.0]
        .iter()
        .map(|&v| 3.0 * ((3.0 * v).exp() + 6.0 * v + 1.0))
        .collect();
    assert_close(x.grad().unwrap().as_slice(), &want, 1e-12, 0.0);
}

#[test]
fn inputs_that_do_not_require_grad_are_not_asked_for() {
    let calls = Arc::new(AtomicUsize::new(0));
    let x = leaf(&[1.0, 2.0]);
    let k = Var::constant(Tensor::from_vec(&[2], vec![5.0, 6.0]).unwrap());
    let y = counted(&[k.clone(), x.clone(), k], &calls);
    y.sum_all().backward().unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_close(x.grad().unwrap().as_slice(), &[3.0, 3.0], 1e-15, 0.0);
}

#[test]
fn branches_not_leading_to_requested_inputs_are_skipped() {
    // grad() w.r.t. a only: the op on b alone must not run.
    let calls = Arc::new(AtomicUsize::new(0));
    let a = leaf(&[1.0]);
    let b = leaf(&[2.0]);
    let y = a
        .mul_scalar(2.0)
        .add(&counted(&[b.clone()], &calls))
        .unwrap();
    let g = grad(&[y], &[a.clone()], &[ones(1)], false).unwrap();
    assert_close(
        g[0].as_ref().unwrap().value().as_slice(),
        &[2.0],
        1e-15,
        0.0,
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    assert!(
        a.grad().is_none() && b.grad().is_none(),
        "grad() must not touch .grad"
    );
}

#[test]
fn no_grad_nests_and_restores() {
    assert!(is_grad_enabled());
    let x = leaf(&[1.0]);
    {
        let _outer = no_grad();
        assert!(!is_grad_enabled());
        {
            let _inner = enable_grad();
            assert!(is_grad_enabled());
            assert!(x.mul_scalar(2.0).requires_grad());
            {
                let _again = no_grad();
                assert!(!x.mul_scalar(2.0).requires_grad());
            }
            assert!(is_grad_enabled());
        }
        assert!(!is_grad_enabled());
        let y = x.mul_scalar(2.0);
        assert!(!y.requires_grad() && y.is_leaf());
    }
    assert!(is_grad_enabled());
    // Grad mode is per thread.
    let _off = no_grad();
    std::thread::spawn(|| assert!(is_grad_enabled()))
        .join()
        .unwrap();
}

#[test]
fn detach_cuts_the_graph() {
    let x = leaf(&[2.0]);
    let d = x.mul(&x).unwrap().detach();
    assert!(!d.requires_grad() && d.is_leaf());
    assert_close(d.value().as_slice(), &[4.0], 1e-15, 0.0);
    // y = x * detach(x^2): dy/dx = x^2 only.
    x.mul(&d).unwrap().sum_all().backward().unwrap();
    assert_close(x.grad().unwrap().as_slice(), &[4.0], 1e-15, 0.0);
}

#[test]
fn second_backward_through_a_freed_graph_is_an_error() {
    let x = leaf(&[3.0]);
    let y = x.exp().sum_all();
    y.backward().unwrap();
    let err = y.backward().unwrap_err();
    assert!(matches!(err, AutogradError::GraphFreed { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("backward through the graph a second time"),
        "{err}"
    );
    assert!(err.to_string().contains("retain_graph = true"), "{err}");
}

#[test]
fn retain_graph_allows_a_second_pass_that_accumulates() {
    let x = leaf(&[0.5, 1.0]);
    let y = x.exp().mul_scalar(2.0).sum_all();
    let keep = BackwardOptions {
        retain_graph: true,
        create_graph: false,
    };
    y.backward_with(&Tensor::ones(&[]), keep).unwrap();
    let once = x.grad().unwrap().to_vec();
    y.backward_with(&Tensor::ones(&[]), keep).unwrap();
    let twice = x.grad().unwrap().to_vec();
    assert_close(
        &twice,
        &once.iter().map(|g| 2.0 * g).collect::<Vec<_>>(),
        1e-15,
        0.0,
    );
    assert_close(&once, &[2.0 * 0.5f64.exp(), 2.0 * 1.0f64.exp()], 1e-15, 0.0);
    // The third pass, without retain_graph, still works and then frees.
    y.backward().unwrap();
    assert!(y.backward().is_err());
}

#[test]
fn backward_on_non_scalar_needs_a_gradient() {
    let x = leaf(&[1.0, 2.0]);
    let y = x.mul_scalar(2.0);
    let err = y.backward().unwrap_err();
    assert!(matches!(err, AutogradError::NonScalarOutput { ref shape } if shape == &[2]));
    assert_eq!(
        err.to_string(),
        "backward: grad can be implicitly created only for outputs with one element, got shape [2]; pass a gradient with backward_with"
    );
    y.backward_with(
        &Tensor::from_vec(&[2], vec![1.0, -1.0]).unwrap(),
        BackwardOptions::default(),
    )
    .unwrap();
    assert_close(x.grad().unwrap().as_slice(), &[2.0, -2.0], 1e-15, 0.0);
    let err = y
        .backward_with(&Tensor::ones(&[3]), BackwardOptions::default())
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("the output gradient must have the output's shape"),
        "{err}"
    );
    let c = Var::constant(Tensor::<f64>::ones(&[]));
    assert_eq!(
        c.backward().unwrap_err().to_string(),
        "backward: the tensor does not require grad and has no grad_fn"
    );
}

#[test]
fn grad_with_respect_to_non_leaf_inputs() {
    // y = sum(h^2), h = 2x: dy/dh = 2h, dy/dx = 8x.
    let x = leaf(&[1.0, -3.0]);
    let h = x.mul_scalar(2.0);
    let y = h.mul(&h).unwrap().sum_all();
    let one = Var::constant(Tensor::ones(&[]));
    let g = grad(&[y], &[h.clone(), x.clone()], &[one], false).unwrap();
    assert_close(
        g[0].as_ref().unwrap().value().as_slice(),
        &[4.0, -12.0],
        1e-15,
        0.0,
    );
    assert_close(
        g[1].as_ref().unwrap().value().as_slice(),
        &[8.0, -24.0],
        1e-15,
        0.0,
    );
    // An input that does not influence the output gets None.
    let z = leaf(&[1.0]);
    let y = x.sum_all();
    let g = grad(&[y], &[z], &[Var::constant(Tensor::ones(&[]))], false).unwrap();
    assert!(g[0].is_none());
}

#[test]
fn grad_checks_its_arguments() {
    let x = leaf(&[1.0, 2.0]);
    let y = x.mul_scalar(2.0);
    let err = grad(&[y.clone()], &[x.clone()], &[], false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "grad: backward returned 0 gradients for 1 inputs"
    );
    let err = grad(&[y], &[x], &[ones(3)], false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "grad: shapes [2] and [3] are incompatible: each grad_output must have its output's shape"
    );
}

/// n-th derivative of a scalar function at the points `xs`, by repeated
/// `grad(create_graph = true)`.
fn nth_derivative(f: impl Fn(&Var<f64>) -> Var<f64>, xs: &[f64], n: usize) -> Vec<f64> {
    let x = leaf(xs);
    let mut y = f(&x);
    for _ in 0..n {
        y = grad(&[y], &[x.clone()], &[ones(xs.len())], true).unwrap()[0]
            .clone()
            .unwrap();
    }
    y.value().to_vec()
}

#[test]
fn higher_derivatives_of_known_functions() {
    let xs = [0.3, -1.2, 2.0];
    let cube = |x: &Var<f64>| x.mul(x).unwrap().mul(x).unwrap();
    let d1: Vec<f64> = xs.iter().map(|x| 3.0 * x * x).collect();
    let d2: Vec<f64> = xs.iter().map(|x| 6.0 * x).collect();
    assert_close(&nth_derivative(cube, &xs, 1), &d1, 1e-14, 0.0);
    assert_close(&nth_derivative(cube, &xs, 2), &d2, 1e-14, 0.0);
    assert_close(&nth_derivative(cube, &xs, 3), &[6.0; 3], 1e-14, 0.0);
    assert_close(
        &nth_derivative(|x| x.pow(3.0), &xs, 3),
        &[6.0; 3],
        1e-12,
        0.0,
    );

    // (x e^x)^(n) = (x + n) e^x
    let xex = |x: &Var<f64>| x.exp().mul(x).unwrap();
    for n in 1..=3 {
        let want: Vec<f64> = xs.iter().map(|x| (x + n as f64) * x.exp()).collect();
        assert_close(&nth_derivative(xex, &xs, n), &want, 1e-13, 0.0);
    }

    // tanh' = 1 - t^2, tanh'' = -2t(1 - t^2), tanh''' = -2(1 - t^2)(1 - 3t^2)
    let t: Vec<f64> = xs.iter().map(|x: &f64| x.tanh()).collect();
    let want1: Vec<f64> = t.iter().map(|t| 1.0 - t * t).collect();
    let want2: Vec<f64> = t.iter().map(|t| -2.0 * t * (1.0 - t * t)).collect();
    let want3: Vec<f64> = t
        .iter()
        .map(|t| -2.0 * (1.0 - t * t) * (1.0 - 3.0 * t * t))
        .collect();
    assert_close(&nth_derivative(|x| x.tanh(), &xs, 1), &want1, 1e-13, 1e-15);
    assert_close(&nth_derivative(|x| x.tanh(), &xs, 2), &want2, 1e-13, 1e-15);
    assert_close(&nth_derivative(|x| x.tanh(), &xs, 3), &want3, 1e-13, 1e-15);

    // sigmoid'' = s(1-s)(1-2s)
    let s: Vec<f64> = xs.iter().map(|x| 1.0 / (1.0 + (-x).exp())).collect();
    let want: Vec<f64> = s.iter().map(|s| s * (1.0 - s) * (1.0 - 2.0 * s)).collect();
    assert_close(
        &nth_derivative(|x| x.sigmoid(), &xs, 2),
        &want,
        1e-13,
        1e-15,
    );
}

#[test]
fn create_graph_backward_leaves_differentiable_grads() {
    // backward(create_graph) stores a grad with a graph; differentiating
    // sum(grad) again gives the second derivative.
    let x = leaf(&[0.5, 2.0]);
    let y = x.pow(3.0).sum_all();
    y.backward_with(
        &Tensor::ones(&[]),
        BackwardOptions {
            retain_graph: false,
            create_graph: true,
        },
    )
    .unwrap();
    let g = x.grad_var().unwrap();
    assert!(g.requires_grad());
    assert_close(g.value().as_slice(), &[0.75, 12.0], 1e-15, 0.0);
    let h = grad(
        &[g.sum_all()],
        &[x.clone()],
        &[Var::constant(Tensor::ones(&[]))],
        false,
    )
    .unwrap();
    assert_close(
        h[0].as_ref().unwrap().value().as_slice(),
        &[3.0, 12.0],
        1e-15,
        0.0,
    );
    // Without create_graph the stored grad is a constant.
    let z = leaf(&[1.0]);
    z.exp().sum_all().backward().unwrap();
    assert!(!z.grad_var().unwrap().requires_grad());
}

#[test]
fn deep_graphs_do_not_overflow_the_stack() {
    // 100k chained ops: building, backward with and without retain, and
    // dropping an unused chain must not recurse per node.
    const N: usize = 100_000;
    let x = leaf(&[1.0]);
    let mut y = x.clone();
    for _ in 0..N {
        y = y.add_scalar(1e-3).mul_scalar(1.0);
    }
    y.sum_all()
        .backward_with(
            &Tensor::ones(&[]),
            BackwardOptions {
                retain_graph: true,
                create_graph: false,
            },
        )
        .unwrap();
    assert_close(x.grad().unwrap().as_slice(), &[1.0], 1e-15, 0.0);
    assert_close(y.value().as_slice(), &[1.0 + N as f64 * 1e-3], 1e-9, 0.0);
    drop(y);

    let mut z = x.clone();
    for _ in 0..N {
        z = z.mul_scalar(1.0);
    }
    drop(z); // never differentiated
}

#[test]
fn set_value_updates_leaves_in_place() {
    let w = leaf(&[1.0, 2.0]);
    let id = w.id();
    w.set_value(Tensor::from_vec(&[2], vec![3.0, 4.0]).unwrap())
        .unwrap();
    assert_eq!((w.id(), w.value().to_vec()), (id, vec![3.0, 4.0]));
    // New computations see the new value.
    w.mul(&w).unwrap().sum_all().backward().unwrap();
    assert_close(w.grad().unwrap().as_slice(), &[6.0, 8.0], 1e-15, 0.0);
    let err = w.set_value(Tensor::zeros(&[3])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "set_value: new shape [3] differs from the leaf's shape [2]"
    );
    let y = w.mul_scalar(2.0);
    let err = y.set_value(Tensor::zeros(&[2])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "set_value: only leaves can be updated in place, this value comes from `mul_scalar`"
    );
    // The version counts updates.
    assert_eq!(w.version(), 1);
    // Constants are leaves too and can be updated.
    let c = Var::constant(Tensor::<f64>::zeros(&[1]));
    c.set_value(Tensor::ones(&[1])).unwrap();
    assert_close(c.value().as_slice(), &[1.0], 1e-15, 0.0);
}

/// A backward that returns the wrong number or shape of gradients.
struct Broken(usize);
impl Backward<f64> for Broken {
    fn name(&self) -> &'static str {
        "broken"
    }
    fn backward(&self, ctx: &BackwardCtx<'_, f64>) -> Result<Vec<Option<Var<f64>>>> {
        match self.0 {
            0 => Ok(vec![]),
            _ => Ok(vec![Some(ctx.grad_output.sum_all())]),
        }
    }
}

#[test]
fn malformed_backward_results_are_typed_errors() {
    let x = leaf(&[1.0, 2.0]);
    let y = Var::from_op(x.value(), vec![x.clone()], Broken(0));
    let err = y.sum_all().backward().unwrap_err();
    assert_eq!(
        err.to_string(),
        "broken: backward returned 0 gradients for 1 inputs"
    );
    let y = Var::from_op(x.value(), vec![x.clone()], Broken(1));
    let err = y.sum_all().backward().unwrap_err();
    assert_eq!(
        err.to_string(),
        "broken: gradient for input 0 has shape [], expected [2]"
    );
}

#[test]
fn from_op_records_only_when_needed() {
    let c = Var::constant(Tensor::<f64>::ones(&[1]));
    let y = c.exp();
    assert!(!y.requires_grad() && y.is_leaf() && y.op_name() == "constant");
    let x = leaf(&[1.0]);
    let y = x.exp();
    assert!(y.requires_grad() && !y.is_leaf() && y.op_name() == "exp");
}

#[test]
fn backward_after_set_value_on_a_saved_input_is_an_error() {
    // y = w * w saves w; updating w before backward would make the
    // gradient use the new value, so the engine refuses, like PyTorch.
    let w = leaf(&[1.0, 2.0]);
    let y = w.mul(&w).unwrap().sum_all();
    w.set_value(Tensor::from_vec(&[2], vec![5.0, 5.0]).unwrap())
        .unwrap();
    let err = y.backward().unwrap_err();
    assert!(
        matches!(
            err,
            AutogradError::ModifiedByUpdate {
                op: "mul",
                input: 0,
                recorded: 0,
                current: 1
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("mul: input 0 was modified by set_value after the op was recorded"),
        "{err}"
    );
    // The usual loop (forward, backward, update, new forward) is unaffected.
    for _ in 0..3 {
        w.zero_grad();
        let y = w.mul(&w).unwrap().sum_all();
        y.backward().unwrap();
        let g = w.grad().unwrap();
        let next: Vec<f64> = w
            .value()
            .as_slice()
            .iter()
            .zip(g.as_slice())
            .map(|(v, g)| v - 0.1 * g)
            .collect();
        w.set_value(Tensor::from_vec(&[2], next).unwrap()).unwrap();
    }
    assert_close(w.value().as_slice(), &[5.0 * 0.8f64.powi(3); 2], 1e-12, 0.0);
}
