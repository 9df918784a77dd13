//! Gradient hooks: `Var::register_hook` and
//! `Var::register_post_accumulate_grad_hook` — when they fire, in what
//! order, what a replacement changes, removal, leaves against
//! intermediates, `grad()`, errors, and higher orders left intact.
//!
//! Expected values follow PyTorch 2.x, checked with:
//! ```python
//! x = torch.tensor([1., 2.], requires_grad=True)
//! x.register_hook(lambda g: g * 10)
//! torch.autograd.grad((x * x).sum(), x)      # (tensor([20., 40.]),)
//! x3 = torch.tensor([1.], requires_grad=True)
//! h = x3.register_hook(lambda g: print('h1', g) or g * 2)
//! x3.register_hook(lambda g: print('h2', g))
//! x3.register_post_accumulate_grad_hook(lambda t: print('post', t.grad))
//! (x3 * 3).sum().backward()                  # h1 [3.], h2 [6.], post [6.]
//! h.remove(); x3.grad = None
//! (x3 * 3).sum().backward()                  # h2 [3.], post [3.]
//! ```
// `&[x.clone()]` reads better than `std::slice::from_ref(&x)` in tests.
#![allow(clippy::cloned_ref_to_slice_refs)]

use std::sync::{Arc, Mutex};

use autograd::{AutogradError, BackwardOptions, Var, grad};
use core_tensor::Tensor;
use core_tensor::testing::assert_close;
use proptest::prelude::*;

fn leaf(v: &[f64]) -> Var<f64> {
    Var::leaf(Tensor::from_vec(&[v.len()], v.to_vec()).unwrap())
}

fn ones(n: usize) -> Var<f64> {
    Var::constant(Tensor::ones(&[n]))
}

type Log = Arc<Mutex<Vec<(String, Vec<f64>)>>>;

fn new_log() -> Log {
    Arc::new(Mutex::new(Vec::new()))
}

fn entries(log: &Log) -> Vec<(String, Vec<f64>)> {
    log.lock().unwrap().clone()
}

/// A hook that records `(name, gradient)` and keeps the gradient.
fn recorder(
    log: &Log,
    name: &str,
) -> impl Fn(&Var<f64>) -> autograd::Result<Option<Var<f64>>> + Send + Sync + 'static {
    let log = Arc::clone(log);
    let name = name.to_string();
    move |g| {
        log.lock()
            .unwrap()
            .push((name.clone(), g.value().as_slice().to_vec()));
        Ok(None)
    }
}

#[test]
fn hooks_on_one_leaf_run_in_registration_order_then_post_accumulate() {
    let log = new_log();
    let x = leaf(&[1.0]);
    let h1 = x
        .register_hook({
            let log = Arc::clone(&log);
            move |g| {
                log.lock()
                    .unwrap()
                    .push(("h1".into(), g.value().as_slice().to_vec()));
                Ok(Some(g.mul_scalar(2.0)))
            }
        })
        .unwrap();
    x.register_hook(recorder(&log, "h2")).unwrap();
    x.register_post_accumulate_grad_hook({
        let log = Arc::clone(&log);
        move |leaf| {
            log.lock()
                .unwrap()
                .push(("post".into(), leaf.grad().unwrap().as_slice().to_vec()));
            Ok(())
        }
    })
    .unwrap();
    x.mul_scalar(3.0).sum_all().backward().unwrap();
    assert_eq!(
        entries(&log),
        vec![
            ("h1".into(), vec![3.0]),
            ("h2".into(), vec![6.0]),
            ("post".into(), vec![6.0])
        ]
    );
    assert_eq!(x.grad().unwrap().as_slice(), &[6.0]);

    h1.remove();
    log.lock().unwrap().clear();
    x.zero_grad();
    x.mul_scalar(3.0).sum_all().backward().unwrap();
    assert_eq!(
        entries(&log),
        vec![("h2".into(), vec![3.0]), ("post".into(), vec![3.0])]
    );
    assert_eq!(x.grad().unwrap().as_slice(), &[3.0]);
}

#[test]
fn intermediate_hooks_fire_from_the_output_towards_the_leaves_once_complete() {
    // z = y * y + y with y = 2x: y is used twice, its hook must see the
    // summed gradient 2y + 1 once, before x's hook sees 2 (2y + 1).
    let log = new_log();
    let x = leaf(&[1.0, -0.5]);
    let y = x.mul_scalar(2.0);
    let z = y.mul(&y).unwrap().add(&y).unwrap();
    x.register_hook(recorder(&log, "x")).unwrap();
    y.register_hook(recorder(&log, "y")).unwrap();
    z.register_hook(recorder(&log, "z")).unwrap();
    z.sum_all().backward().unwrap();
    assert_eq!(
        entries(&log),
        vec![
            ("z".into(), vec![1.0, 1.0]),
            ("y".into(), vec![5.0, -1.0]),
            ("x".into(), vec![10.0, -2.0]),
        ]
    );
}

#[test]
fn a_replacement_on_an_intermediate_changes_what_flows_to_the_leaves() {
    // y = x^2, loss = sum(3 y); the hook doubles dL/dy, so dL/dx = 2 * 3 * 2x.
    let x = leaf(&[1.0, 2.0]);
    let y = x.mul(&x).unwrap();
    y.register_hook(|g| Ok(Some(g.mul_scalar(2.0)))).unwrap();
    y.mul_scalar(3.0).sum_all().backward().unwrap();
    assert_eq!(x.grad().unwrap().as_slice(), &[12.0, 24.0]);
}

#[test]
fn leaf_hook_sees_this_pass_and_post_accumulate_sees_the_sum() {
    let log = new_log();
    let w = leaf(&[2.0]);
    w.register_hook(recorder(&log, "pre")).unwrap();
    w.register_post_accumulate_grad_hook({
        let log = Arc::clone(&log);
        move |leaf| {
            log.lock()
                .unwrap()
                .push(("post".into(), leaf.grad().unwrap().as_slice().to_vec()));
            Ok(())
        }
    })
    .unwrap();
    w.mul_scalar(5.0).sum_all().backward().unwrap();
    w.mul_scalar(5.0).sum_all().backward().unwrap();
    assert_eq!(
        entries(&log),
        vec![
            ("pre".into(), vec![5.0]),
            ("post".into(), vec![5.0]),
            ("pre".into(), vec![5.0]),
            ("post".into(), vec![10.0]),
        ]
    );
}

#[test]
fn grad_returns_the_hooked_gradient_and_skips_post_accumulate_hooks() {
    let x = leaf(&[1.0, 2.0]);
    x.register_hook(|g| Ok(Some(g.mul_scalar(10.0)))).unwrap();
    let fired = Arc::new(Mutex::new(0usize));
    x.register_post_accumulate_grad_hook({
        let fired = Arc::clone(&fired);
        move |_| {
            *fired.lock().unwrap() += 1;
            Ok(())
        }
    })
    .unwrap();
    let y = x.mul(&x).unwrap().sum_all();
    let g = grad(
        &[y],
        &[x.clone()],
        &[Var::constant(Tensor::scalar(1.0))],
        false,
    )
    .unwrap();
    assert_eq!(g[0].as_ref().unwrap().value().as_slice(), &[20.0, 40.0]);
    assert_eq!(*fired.lock().unwrap(), 0);
    assert!(x.grad().is_none());
}

#[test]
fn hooks_that_keep_the_gradient_leave_second_derivatives_intact() {
    // f = x^3 through an intermediate y = x^2 carrying a hook: f' = 3x^2,
    // f'' = 6x, with and without the hook.
    let count = Arc::new(Mutex::new(0usize));
    let x = leaf(&[0.5, -1.5]);
    let y = x.mul(&x).unwrap();
    y.register_hook({
        let count = Arc::clone(&count);
        move |_| {
            *count.lock().unwrap() += 1;
            Ok(None)
        }
    })
    .unwrap();
    x.register_hook(|g| Ok(Some(g.clone()))).unwrap();
    let f = y.mul(&x).unwrap();
    let d1 = grad(&[f], &[x.clone()], &[ones(2)], true).unwrap()[0]
        .clone()
        .unwrap();
    assert_close(d1.value().as_slice(), &[0.75, 6.75], 1e-15, 1e-15);
    let d2 = grad(&[d1], &[x.clone()], &[ones(2)], false).unwrap()[0]
        .clone()
        .unwrap();
    assert_close(d2.value().as_slice(), &[3.0, -9.0], 1e-15, 1e-15);
    // Once per pass: d1 = 2x * x + y is built from y, so the second pass
    // computes y's gradient too.
    assert_eq!(*count.lock().unwrap(), 2);
}

#[test]
fn a_differentiable_replacement_is_differentiated_in_the_second_order() {
    // Hook on x replaces g by g * x, so d1 = 2x * x = 2x^2 and d(d1)/dx = 4x.
    let x = leaf(&[1.5]);
    let xc = x.clone();
    x.register_hook(move |g| Ok(Some(g.mul(&xc)?))).unwrap();
    let y = x.mul(&x).unwrap();
    let d1 = grad(&[y], &[x.clone()], &[ones(1)], true).unwrap()[0]
        .clone()
        .unwrap();
    assert_close(d1.value().as_slice(), &[4.5], 1e-15, 1e-15);
    // The hook still fires in the second pass: d(2x^2)/dx = 4x, times x.
    let d2 = grad(&[d1], &[x.clone()], &[ones(1)], false).unwrap()[0]
        .clone()
        .unwrap();
    assert_close(d2.value().as_slice(), &[9.0], 1e-15, 1e-15);
}

#[test]
fn hooks_on_values_without_grad_and_post_hooks_on_non_leaves_are_errors() {
    let c = Var::constant(Tensor::<f64>::ones(&[2]));
    assert!(matches!(
        c.register_hook(|_| Ok(None)),
        Err(AutogradError::DoesNotRequireGrad { .. })
    ));
    assert!(matches!(
        c.register_post_accumulate_grad_hook(|_| Ok(())),
        Err(AutogradError::DoesNotRequireGrad { .. })
    ));
    let x = leaf(&[1.0]);
    let y = x.mul_scalar(2.0);
    let err = y
        .register_post_accumulate_grad_hook(|_| Ok(()))
        .unwrap_err();
    assert!(
        matches!(err, AutogradError::InvalidArgument { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("leaves"), "{err}");
}

#[test]
fn a_replacement_of_another_shape_is_a_typed_error() {
    let x = leaf(&[1.0, 2.0]);
    x.register_hook(|_| Ok(Some(Var::constant(Tensor::ones(&[3])))))
        .unwrap();
    let err = x.mul_scalar(2.0).sum_all().backward().unwrap_err();
    assert!(
        matches!(
            err,
            AutogradError::ShapeMismatch {
                op: "register_hook",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_hook_error_aborts_the_backward_pass() {
    let x = leaf(&[1.0]);
    let y = x.mul_scalar(2.0);
    y.register_hook(|_| {
        Err(AutogradError::InvalidArgument {
            op: "test hook",
            param: "gradient",
            reason: "refused".into(),
        })
    })
    .unwrap();
    let err = y.sum_all().backward().unwrap_err();
    assert!(err.to_string().contains("refused"), "{err}");
    assert!(x.grad().is_none(), "the pass stopped before reaching x");
}

#[test]
fn removing_after_the_var_is_dropped_or_twice_is_harmless() {
    let x = leaf(&[1.0]);
    let a = x.register_hook(|_| Ok(None)).unwrap();
    let b = x.register_post_accumulate_grad_hook(|_| Ok(())).unwrap();
    a.remove();
    drop(x);
    b.remove();
}

#[test]
fn a_hook_may_register_another_hook_while_running() {
    // The new hook takes effect from the next pass on.
    let x = leaf(&[1.0]);
    let xc = x.clone();
    let done = Arc::new(Mutex::new(false));
    x.register_hook({
        let done = Arc::clone(&done);
        move |_| {
            let mut d = done.lock().unwrap();
            if !*d {
                *d = true;
                xc.register_hook(|g| Ok(Some(g.mul_scalar(3.0))))?;
            }
            Ok(None)
        }
    })
    .unwrap();
    x.mul_scalar(2.0).sum_all().backward().unwrap();
    assert_eq!(x.grad().unwrap().as_slice(), &[2.0]);
    x.zero_grad();
    x.mul_scalar(2.0).sum_all().backward().unwrap();
    assert_eq!(x.grad().unwrap().as_slice(), &[6.0]);
}

#[test]
fn backward_with_retain_graph_fires_hooks_each_pass() {
    let log = new_log();
    let x = leaf(&[1.0]);
    let y = x.mul_scalar(4.0);
    y.register_hook(recorder(&log, "y")).unwrap();
    let retain = BackwardOptions {
        retain_graph: true,
        create_graph: false,
    };
    y.backward_with(&Tensor::ones(&[1]), retain).unwrap();
    y.backward_with(&Tensor::from_vec(&[1], vec![0.5]).unwrap(), retain)
        .unwrap();
    assert_eq!(
        entries(&log),
        vec![("y".into(), vec![1.0]), ("y".into(), vec![0.5])]
    );
    assert_eq!(x.grad().unwrap().as_slice(), &[6.0]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// A hook scaling a leaf's gradient by `s` scales `.grad` by `s`; a hook
    /// returning the gradient unchanged changes nothing; over random shapes.
    #[test]
    fn scaling_hooks_scale_and_identity_hooks_preserve(
        shape in prop::collection::vec(1usize..4, 1..4),
        s in -3.0f64..3.0,
        seed in 0u64..1000,
    ) {
        let n: usize = shape.iter().product();
        let vals: Vec<f64> = (0..n)
            .map(|i| ((i as u64 * 7919 + seed) % 97) as f64 / 24.0 - 2.0)
            .collect();
        let make = || Var::leaf(Tensor::from_vec(&shape, vals.clone()).unwrap());
        let loss = |x: &Var<f64>| x.mul(x).unwrap().tanh().sum_all();

        let plain = make();
        loss(&plain).backward().unwrap();
        let g = plain.grad().unwrap();

        let scaled = make();
        scaled.register_hook(move |g| Ok(Some(g.mul_scalar(s)))).unwrap();
        loss(&scaled).backward().unwrap();
        let want: Vec<f64> = g.as_slice().iter().map(|v| v * s).collect();
        assert_close(scaled.grad().unwrap().as_slice(), &want, 1e-15, 1e-15);

        let same = make();
        let y = same.mul(&same).unwrap();
        y.register_hook(|g| Ok(Some(g.clone()))).unwrap();
        y.tanh().sum_all().backward().unwrap();
        prop_assert_eq!(same.grad().unwrap().to_vec(), g.to_vec());
    }
}
