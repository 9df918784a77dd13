//! Optimizer state dicts and parameter groups: a restored optimizer
//! continues bit for bit; a state of another optimizer, group layout or
//! parameter shape is refused with a typed error and changes nothing.

use autograd::Var;
use core_tensor::{Rng, Tensor};
use nn::optim::{OptimizerState, ParamGroup};
use nn::prelude::*;
use nn::{AdamW, NnError};
use proptest::prelude::*;

fn params(seed: u64) -> Vec<Var<f64>> {
    let mut rng = Rng::new(seed);
    [vec![2, 3], vec![3], vec![4]]
        .into_iter()
        .map(|s: Vec<usize>| {
            let n = s.iter().product();
            Var::leaf(Tensor::from_vec(&s, rng.uniform_vec(n, -1.0, 1.0)).unwrap())
        })
        .collect()
}

/// `L = Σ_i Σ_j sin(k·p_ij)·p_ij` for the step number `k`, skipping the
/// last parameter on odd steps (so some parameters have fewer steps).
fn train(opt: &mut dyn Optimizer<f64>, ps: &[Var<f64>], from: usize, to: usize) {
    for k in from..to {
        opt.zero_grad();
        let mut loss: Option<Var<f64>> = None;
        for (i, p) in ps.iter().enumerate() {
            if i == ps.len() - 1 && k % 2 == 1 {
                continue;
            }
            let w = Var::constant(p.value().map(|v| (v * (k + 1) as f64).sin()));
            let term = p.mul(&w).unwrap().sum_all();
            loss = Some(match loss {
                None => term,
                Some(l) => l.add(&term).unwrap(),
            });
        }
        loss.unwrap().backward().unwrap();
        opt.step().unwrap();
    }
}

fn values(ps: &[Var<f64>]) -> Vec<Vec<u64>> {
    ps.iter()
        .map(|p| p.value().as_slice().iter().map(|v| v.to_bits()).collect())
        .collect()
}

type Build = fn(Vec<Var<f64>>) -> Box<dyn Optimizer<f64>>;

fn builders() -> Vec<(&'static str, Build)> {
    vec![
        ("SGD", |ps| {
            Box::new(Sgd::new(ps, SgdOptions::new(0.1).momentum(0.9).nesterov(true)).unwrap())
        }),
        ("SGD groups", |ps| {
            let (a, b) = ps.split_at(1);
            Box::new(
                Sgd::with_groups(vec![
                    ParamGroup::new(a.to_vec(), SgdOptions::new(0.05).momentum(0.5)),
                    ParamGroup::new(
                        b.to_vec(),
                        SgdOptions::new(0.2)
                            .momentum(0.9)
                            .dampening(0.1)
                            .weight_decay(0.01),
                    ),
                ])
                .unwrap(),
            )
        }),
        ("Adam", |ps| {
            Box::new(Adam::new(ps, AdamOptions::adam(0.01).weight_decay(0.1)).unwrap())
        }),
        ("Adam amsgrad", |ps| {
            Box::new(Adam::new(ps, AdamOptions::adam(0.01).amsgrad(true)).unwrap())
        }),
        ("AdamW groups", |ps| {
            let (a, b) = ps.split_at(2);
            Box::new(
                AdamW::with_groups(vec![
                    ParamGroup::new(a.to_vec(), AdamOptions::adamw(0.02)),
                    ParamGroup::new(b.to_vec(), AdamOptions::adamw(0.001).weight_decay(0.5)),
                ])
                .unwrap(),
            )
        }),
    ]
}

#[test]
fn a_restored_optimizer_continues_bit_for_bit() {
    for (name, build) in builders() {
        let whole = params(1);
        let mut opt = build(whole.clone());
        train(opt.as_mut(), &whole, 0, 7);

        let first = params(1);
        let mut opt = build(first.clone());
        train(opt.as_mut(), &first, 0, 4);
        // Through the safetensors layout, as a checkpoint stores it.
        let (tensors, meta) = opt.state_dict().to_parts("optimizer.");
        let state = OptimizerState::from_parts("optimizer.", &tensors, &meta).unwrap();
        assert_eq!(state, opt.state_dict(), "{name}");

        let second = params(2);
        for (s, f) in second.iter().zip(&first) {
            s.set_value(f.value()).unwrap();
        }
        let mut resumed = build(second.clone());
        resumed.load_state_dict(&state).unwrap();
        train(resumed.as_mut(), &second, 4, 7);
        assert_eq!(values(&second), values(&whole), "{name}");
    }
}

#[test]
fn state_dicts_use_pytorch_names() {
    let ps = params(1);
    let mut opt = Adam::new(ps.clone(), AdamOptions::adam(0.01).amsgrad(true)).unwrap();
    train(&mut opt, &ps, 0, 3);
    let s = opt.state_dict();
    assert_eq!(s.optimizer, "Adam");
    assert_eq!(s.param_groups.len(), 1);
    assert_eq!(s.param_groups[0].params, vec![0, 1, 2]);
    let keys: Vec<&str> = s.param_groups[0].hyper.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "amsgrad",
            "beta1",
            "beta2",
            "eps",
            "initial_lr",
            "lr",
            "weight_decay"
        ]
    );
    // The last parameter skipped step 1: two steps instead of three.
    assert_eq!(s.state[&0].step, Some(3));
    assert_eq!(s.state[&2].step, Some(2));
    let bufs: Vec<&str> = s.state[&0].buffers.keys().map(String::as_str).collect();
    assert_eq!(bufs, ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]);
    assert_eq!(s.state[&0].buffers["exp_avg"].shape(), &[2, 3]);

    let mut sgd = Sgd::new(ps.clone(), SgdOptions::new(0.1).momentum(0.9)).unwrap();
    train(&mut sgd, &ps, 1, 2); // an odd step: the last parameter gets no gradient
    let s = sgd.state_dict();
    assert_eq!(
        s.state[&1].buffers.keys().collect::<Vec<_>>(),
        ["momentum_buffer"]
    );
    assert_eq!(s.state[&1].step, None);
    assert!(
        !s.state.contains_key(&2),
        "a parameter without a step has no state"
    );
}

#[test]
fn mismatched_states_are_refused_and_change_nothing() {
    let ps = params(1);
    let mut adam = Adam::new(ps.clone(), AdamOptions::adam(0.01)).unwrap();
    train(&mut adam, &ps, 0, 2);
    let saved = adam.state_dict();

    // Another optimizer.
    let mut adamw = AdamW::new(ps.clone(), AdamOptions::adamw(0.01)).unwrap();
    let e = adamw.load_state_dict(&saved).unwrap_err();
    assert!(
        matches!(
            e,
            NnError::StateMismatch {
                module: "AdamW",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("`Adam` optimizer"), "{e}");
    let mut sgd = Sgd::new(ps.clone(), SgdOptions::new(0.1)).unwrap();
    assert!(sgd.load_state_dict(&saved).is_err());

    // Another parameter count.
    let mut fewer = Adam::new(ps[..2].to_vec(), AdamOptions::adam(0.5)).unwrap();
    let e = fewer.load_state_dict(&saved).unwrap_err();
    assert!(e.to_string().contains("holds 3 parameters"), "{e}");
    assert_eq!(fewer.lr(), 0.5, "unchanged after a refused load");

    // Another grouping.
    let mut grouped = Adam::with_groups(vec![
        ParamGroup::new(ps[..1].to_vec(), AdamOptions::adam(0.5)),
        ParamGroup::new(ps[1..].to_vec(), AdamOptions::adam(0.5)),
    ])
    .unwrap();
    let e = grouped.load_state_dict(&saved).unwrap_err();
    assert!(e.to_string().contains("1 parameter groups"), "{e}");

    // Another shape.
    let other: Vec<Var<f64>> = vec![
        Var::leaf(Tensor::zeros(&[3, 2])),
        ps[1].clone(),
        ps[2].clone(),
    ];
    let mut shaped = Adam::new(other, AdamOptions::adam(0.5)).unwrap();
    let e = shaped.load_state_dict(&saved).unwrap_err();
    assert!(
        e.to_string()
            .contains("has shape [2, 3], the parameter [3, 2]"),
        "{e}"
    );
    assert_eq!(shaped.lr(), 0.5);

    // A missing buffer; an invalid hyper-parameter.
    let mut broken = saved.clone();
    broken
        .state
        .get_mut(&0)
        .unwrap()
        .buffers
        .remove("exp_avg_sq");
    let mut fresh = Adam::new(ps.clone(), AdamOptions::adam(0.5)).unwrap();
    let e = fresh.load_state_dict(&broken).unwrap_err();
    assert!(e.to_string().contains("lacks `exp_avg_sq`"), "{e}");
    let mut broken = saved.clone();
    broken.param_groups[0].hyper.insert("beta1".into(), 1.5);
    assert!(matches!(
        fresh.load_state_dict(&broken),
        Err(NnError::InvalidConfig { param: "beta1", .. })
    ));
    assert_eq!(fresh.lr(), 0.5);

    // A parameter in two groups.
    let twice = Sgd::with_groups(vec![
        ParamGroup::new(vec![ps[0].clone()], SgdOptions::new(0.1)),
        ParamGroup::new(vec![ps[0].clone()], SgdOptions::new(0.1)),
    ]);
    assert!(twice.is_err());
}

#[test]
fn frozen_parameters_are_skipped_by_the_optimizers() {
    let ps = params(1);
    let before = values(&ps);
    let mut opt = Sgd::new(ps.clone(), SgdOptions::new(0.1)).unwrap();
    // A gradient that was there before freezing does not move the parameter.
    train(&mut opt, &ps, 0, 1);
    let after_one = values(&ps);
    assert_ne!(after_one[0], before[0]);
    ps[0].set_grad(Some(Tensor::ones(&[2, 3]))).unwrap();
    ps[0].requires_grad_(false).unwrap();
    opt.step().unwrap();
    assert_eq!(values(&ps)[0], after_one[0]);
}

#[test]
fn a_frozen_module_part_gets_no_gradient() {
    let mut rng = Rng::new(0);
    let mut net = Sequential::<f64>::new()
        .push(Linear::new(3, 4, true, &mut rng).unwrap())
        .push(ReLU::new())
        .push(Linear::new(4, 2, true, &mut rng).unwrap());
    net.children_mut()[0].1.requires_grad_(false).unwrap();
    let x = Var::constant(Tensor::from_vec(&[2, 3], vec![0.5, -1.0, 2.0, 1.0, 0.0, -0.5]).unwrap());
    net.forward(&x).unwrap().sum_all().backward().unwrap();
    let grads: Vec<(String, bool)> = net
        .named_parameters()
        .into_iter()
        .map(|(n, p)| (n, p.grad().is_some()))
        .collect();
    assert_eq!(
        grads,
        [
            ("0.weight".to_string(), false),
            ("0.bias".to_string(), false),
            ("2.weight".to_string(), true),
            ("2.bias".to_string(), true),
        ]
    );
    net.requires_grad_(true).unwrap();
    assert!(net.parameters().iter().all(Var::requires_grad));
}

proptest! {
    /// Loading arbitrary hyper-parameters never panics.
    #[test]
    fn arbitrary_saved_hyper_parameters_never_panic(
        lr in prop::num::f64::ANY, b1 in prop::num::f64::ANY, step in any::<u64>(),
    ) {
        let ps = params(3);
        let mut opt = Adam::new(ps.clone(), AdamOptions::adam(0.01)).unwrap();
        train(&mut opt, &ps, 0, 2);
        let mut s = opt.state_dict();
        s.param_groups[0].hyper.insert("lr".into(), lr);
        s.param_groups[0].hyper.insert("beta1".into(), b1);
        s.state.get_mut(&0).unwrap().step = Some(step);
        if opt.load_state_dict(&s).is_ok() {
            let _ = opt.step();
        }
    }
}
