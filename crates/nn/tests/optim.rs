//! Optimizer steps and schedules against hand-computed values.
//!
//! Every test minimizes `L(p) = c · p` with a constant gradient `c = 0.5`
//! from `p = 1` (unless weight decay makes the gradient depend on `p`), so
//! each update can be written down by hand from PyTorch's formulas.

use autograd::Var;
use core_tensor::Tensor;
use nn::prelude::*;

fn run(opt: &mut dyn Optimizer<f64>, p: &Var<f64>, steps: usize) -> Vec<f64> {
    let c = Var::constant(Tensor::from_vec(&[1], vec![0.5]).unwrap());
    let mut out = Vec::new();
    for _ in 0..steps {
        opt.zero_grad();
        p.mul(&c).unwrap().sum_all().backward().unwrap();
        opt.step().unwrap();
        out.push(p.value().as_slice()[0]);
    }
    out
}

fn param() -> Var<f64> {
    Var::leaf(Tensor::from_vec(&[1], vec![1.0]).unwrap())
}

fn close(a: &[f64], b: &[f64]) {
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() < 1e-12, "step {}: {x} vs {y}", i + 1);
    }
    assert_eq!(a.len(), b.len());
}

#[test]
fn sgd_plain_and_weight_decay() {
    let p = param();
    close(
        &run(
            &mut Sgd::new(vec![p.clone()], SgdOptions::new(0.1)).unwrap(),
            &p,
            2,
        ),
        &[0.95, 0.9],
    );
    // g = 0.5 + 0.1 p: 1 - 0.1·0.6 = 0.94; 0.94 - 0.1·(0.5 + 0.094) = 0.8806
    let p = param();
    close(
        &run(
            &mut Sgd::new(vec![p.clone()], SgdOptions::new(0.1).weight_decay(0.1)).unwrap(),
            &p,
            2,
        ),
        &[0.94, 0.8806],
    );
}

#[test]
fn sgd_momentum_dampening_nesterov() {
    // b = 0.5, 0.95, 1.355: p = 0.95, 0.855, 0.7195
    let p = param();
    close(
        &run(
            &mut Sgd::new(vec![p.clone()], SgdOptions::new(0.1).momentum(0.9)).unwrap(),
            &p,
            3,
        ),
        &[0.95, 0.855, 0.7195],
    );
    // Dampening 0.5: the first buffer is the raw gradient, then 0.9·0.5 + 0.5·0.5 = 0.7.
    let p = param();
    close(
        &run(
            &mut Sgd::new(
                vec![p.clone()],
                SgdOptions::new(0.1).momentum(0.9).dampening(0.5),
            )
            .unwrap(),
            &p,
            2,
        ),
        &[0.95, 0.88],
    );
    // Nesterov: d = g + 0.9 b: 0.95 then 1.355.
    let p = param();
    close(
        &run(
            &mut Sgd::new(
                vec![p.clone()],
                SgdOptions::new(0.1).momentum(0.9).nesterov(true),
            )
            .unwrap(),
            &p,
            2,
        ),
        &[0.905, 0.7695],
    );
    assert!(Sgd::new(vec![param()], SgdOptions::new(0.1).nesterov(true)).is_err());
    assert!(Sgd::new(vec![param()], SgdOptions::new(-0.1)).is_err());
}

#[test]
fn adam_and_adamw() {
    // With a constant gradient the bias-corrected moments are exactly g and
    // g², so every step moves by lr·g/(|g| + eps).
    let u = 0.1 * 0.5 / (0.5 + 1e-8);
    let p = param();
    close(
        &run(
            &mut Adam::new(vec![p.clone()], AdamOptions::adam(0.1)).unwrap(),
            &p,
            3,
        ),
        &[1.0 - u, 1.0 - 2.0 * u, 1.0 - 3.0 * u],
    );
    // AdamW: decay p by (1 - lr·wd) first.
    let p = param();
    let s1 = 0.99 - u;
    close(
        &run(
            &mut AdamW::new(vec![p.clone()], AdamOptions::adamw(0.1).weight_decay(0.1)).unwrap(),
            &p,
            2,
        ),
        &[s1, s1 * 0.99 - u],
    );
    // Adam with L2: g = 0.5 + 0.1 = 0.6 on the first step.
    let p = param();
    let u6 = 0.1 * 0.6 / (0.6 + 1e-8);
    close(
        &run(
            &mut Adam::new(vec![p.clone()], AdamOptions::adam(0.1).weight_decay(0.1)).unwrap(),
            &p,
            1,
        ),
        &[1.0 - u6],
    );
    assert!(Adam::new(vec![param()], AdamOptions::adam(0.1).betas(1.0, 0.9)).is_err());
}

/// Steps of `opt` on `p = [1, -2, 0.5]` whose gradients are `grads[k]` at
/// step `k` (the loss `Σ grads[k]·p`).
fn run_grads(opt: &mut dyn Optimizer<f64>, p: &Var<f64>, grads: &[[f64; 3]]) -> Vec<Vec<f64>> {
    grads
        .iter()
        .map(|g| {
            let c = Var::constant(Tensor::from_vec(&[3], g.to_vec()).unwrap());
            opt.zero_grad();
            p.mul(&c).unwrap().sum_all().backward().unwrap();
            opt.step().unwrap();
            p.value().to_vec()
        })
        .collect()
}

#[test]
fn amsgrad_matches_pytorch() {
    // torch 2.15, float64: Adam(lr=0.1, amsgrad=True) [with weight_decay=0.1],
    // AdamW(lr=0.1, amsgrad=True, weight_decay=0.1); the second gradient is
    // smaller than the first, so v falls while its running maximum holds.
    let grads = [
        [1.0, -3.0, 0.1],
        [0.1, 0.2, 0.0],
        [0.05, -0.1, 2.0],
        [0.0, 1.0, -0.5],
    ];
    let cases: [(AdamOptions, bool, [[f64; 3]; 4]); 3] = [
        (
            AdamOptions::adam(0.1).amsgrad(true),
            false,
            [
                [0.900000001, -1.9000000003333333, 0.400000009999999],
                [0.8259189377609657, -1.8380951209713756, 0.33302770534791665],
                [0.765547499005401, -1.788143361097076, 0.26664191566832696],
                [0.7161196224851801, -1.7676765851383498, 0.227968574699706],
            ],
        ),
        (
            AdamOptions::adam(0.1).amsgrad(true).weight_decay(0.1),
            false,
            [
                [0.9000000009090909, -1.9000000003125, 0.40000000666666624],
                [0.8213009837305494, -1.8332602292429867, 0.3160762123665641],
                [0.7533727330576971, -1.776206616024819, 0.24744216135673042],
                [0.6939631837739396, -1.7453677012133846, 0.20589929136715363],
            ],
        ),
        (
            AdamOptions::adamw(0.1).amsgrad(true).weight_decay(0.1),
            true,
            [
                [0.890000001, -1.8800000003333333, 0.395000009999999],
                [0.8070189377509657, -1.7992951209680423, 0.3240777052479166],
                [0.7385773096178913, -1.7313504098840624, 0.2544511385158478],
                [0.6817636600014915, -1.6935701298264956, 0.21323328616206833],
            ],
        ),
    ];
    for (options, decoupled, expect) in cases {
        let p = Var::leaf(Tensor::from_vec(&[3], vec![1.0, -2.0, 0.5]).unwrap());
        let got = if decoupled {
            run_grads(
                &mut AdamW::new(vec![p.clone()], options).unwrap(),
                &p,
                &grads,
            )
        } else {
            run_grads(
                &mut Adam::new(vec![p.clone()], options).unwrap(),
                &p,
                &grads,
            )
        };
        for (step, (g, e)) in got.iter().zip(&expect).enumerate() {
            for (a, b) in g.iter().zip(e) {
                assert!(
                    (a - b).abs() < 1e-14,
                    "{options:?} step {}: {a} vs {b}",
                    step + 1
                );
            }
        }
    }
    // Without AMSGrad the third element's second step differs (its v fell).
    let p = Var::leaf(Tensor::from_vec(&[3], vec![1.0, -2.0, 0.5]).unwrap());
    let plain = run_grads(
        &mut Adam::new(vec![p.clone()], AdamOptions::adam(0.1)).unwrap(),
        &p,
        &grads[..2],
    );
    assert!(
        (plain[1][2] - 0.33302770534791665).abs() > 1e-6,
        "{plain:?}"
    );
}

#[test]
fn parameters_without_gradients_are_skipped() {
    let (a, b) = (param(), param());
    let mut opt = Adam::new(vec![a.clone(), b.clone()], AdamOptions::adam(0.1)).unwrap();
    run(&mut opt, &a, 1);
    assert_eq!(b.value().as_slice(), &[1.0]);
}

#[test]
fn schedules() {
    let mut opt = Sgd::new(vec![param()], SgdOptions::new(1.0)).unwrap();
    let mut step = StepLR::new(&opt, 2, 0.5).unwrap();
    let mut lrs = Vec::new();
    for _ in 0..4 {
        step.step(&mut opt).unwrap();
        lrs.push(opt.lr());
    }
    assert_eq!(lrs, [1.0, 0.5, 0.5, 0.25]);
    let mut opt = Sgd::new(vec![param()], SgdOptions::new(1.0)).unwrap();
    let mut cos = CosineAnnealingLR::new(&opt, 4, 0.0).unwrap();
    let mut lrs = Vec::new();
    for _ in 0..4 {
        cos.step(&mut opt).unwrap();
        lrs.push(opt.lr());
    }
    close(
        &lrs,
        &[
            (1.0 + std::f64::consts::FRAC_1_SQRT_2) / 2.0,
            0.5,
            (1.0 - std::f64::consts::FRAC_1_SQRT_2) / 2.0,
            0.0,
        ],
    );
    assert!(StepLR::new(&opt, 0, 0.5).is_err());
}
