//! Learning-rate schedules against the sequences PyTorch 2.15 prints
//! (`torch.optim.lr_scheduler`, SGD/Adam over one zero parameter, one
//! `optimizer.step(); scheduler.step()` per entry after the initial value).

use autograd::Var;
use core_tensor::Tensor;
use nn::optim::{
    AnnealStrategy, LinearLR, LrScheduler, OneCycleLR, OneCycleOptions, ParamGroup, PlateauMode,
    PlateauOptions, ReduceLROnPlateau, SchedulerState, SequentialLR, ThresholdMode,
};
use nn::{Adam, AdamOptions, CosineAnnealingLR, NnError, Optimizer, Sgd, SgdOptions, StepLR};
use proptest::prelude::*;

fn param() -> Var<f64> {
    Var::leaf(Tensor::zeros(&[1]))
}

fn close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-15 + 1e-12 * w.abs(),
            "entry {i}: {g} vs {w}\n{got:?}"
        );
    }
}

/// The initial rate, then the rate after each of `n` steps.
fn lrs(s: &mut dyn LrScheduler<f64>, opt: &mut dyn Optimizer<f64>, n: usize) -> Vec<f64> {
    let mut v = vec![opt.lr()];
    for _ in 0..n {
        s.step(opt).unwrap();
        v.push(opt.lr());
    }
    v
}

// o = SGD([p], lr=0.1); s = LinearLR(o)
#[test]
fn linear_lr_defaults() {
    let mut opt = Sgd::new(vec![param()], SgdOptions::new(0.1)).unwrap();
    let mut s = LinearLR::with_defaults(&mut opt).unwrap();
    #[rustfmt::skip]
    close(&lrs(&mut s, &mut opt, 7), &[0.03333333333333333, 0.04666666666666667, 0.060000000000000005,
        0.07333333333333335, 0.08666666666666668, 0.1, 0.1, 0.1]);
}

// o = SGD([p], lr=0.2); s = LinearLR(o, start_factor=0.5, end_factor=0.25, total_iters=3)
#[test]
fn linear_lr_decreasing() {
    let mut opt = Sgd::new(vec![param()], SgdOptions::new(0.2)).unwrap();
    let mut s = LinearLR::new(&mut opt, 0.5, 0.25, 3).unwrap();
    #[rustfmt::skip]
    close(&lrs(&mut s, &mut opt, 5), &[0.1, 0.08333333333333334, 0.06666666666666668,
        0.05000000000000001, 0.05000000000000001, 0.05000000000000001]);
    assert!(LinearLR::new(&mut opt, 0.0, 1.0, 3).is_err());
    assert!(LinearLR::new(&mut opt, 1.5, 1.0, 3).is_err());
    assert!(LinearLR::new(&mut opt, 0.5, -0.1, 3).is_err());
}

// o = SGD([p], lr=0.01, momentum=0.9); s = OneCycleLR(o, max_lr=0.1, total_steps=12)
#[test]
fn one_cycle_cosine_with_sgd_momentum() {
    let mut opt = Sgd::new(vec![param()], SgdOptions::new(0.01).momentum(0.9)).unwrap();
    let mut s = OneCycleLR::new(&mut opt, &[0.1], 12, OneCycleOptions::default()).unwrap();
    let mut lr = vec![opt.lr()];
    let mut mom = vec![opt.group_momentum(0).unwrap()];
    for _ in 0..12 {
        s.step(&mut opt).unwrap();
        lr.push(opt.lr());
        mom.push(opt.group_momentum(0).unwrap());
    }
    #[rustfmt::skip]
    close(&lr, &[0.0040000000000000036, 0.0349789654219583, 0.08792851591221287, 0.09944154354509119,
        0.09330129698414118, 0.0811745653949763, 0.06473789976951033, 0.046263710266697504,
        0.028306099820869922, 0.01334775301888306, 0.0034566987425395223, 4e-07, 0.0034566987425395167]);
    #[rustfmt::skip]
    close(&mom, &[0.95, 0.9177302443521267, 0.8625744625914449, 0.8505584586887436, 0.856698729810778,
        0.8688255099070633, 0.8852622412794547, 0.9037365046793212, 0.9216941869558779,
        0.9366525935914912, 0.9465436874322102, 0.95, 0.9465436874322102]);
    let e = s.step(&mut opt).unwrap_err();
    assert!(e.to_string().contains("tried to step 13 times"), "{e}");
}

// o = Adam([p], lr=0.01); s = OneCycleLR(o, max_lr=0.05, total_steps=10, pct_start=0.25,
//     anneal_strategy='linear', three_phase=True, div_factor=10, final_div_factor=100)
#[test]
fn one_cycle_linear_three_phase_with_adam_beta1() {
    let mut opt = Adam::new(vec![param()], AdamOptions::adam(0.01)).unwrap();
    let options = OneCycleOptions {
        pct_start: 0.25,
        anneal_strategy: AnnealStrategy::Linear,
        three_phase: true,
        div_factor: 10.0,
        final_div_factor: 100.0,
        ..OneCycleOptions::default()
    };
    let mut s = OneCycleLR::new(&mut opt, &[0.05], 10, options).unwrap();
    let mut lr = vec![opt.lr()];
    let mut b1 = vec![opt.group_momentum(0).unwrap()];
    for _ in 0..10 {
        s.step(&mut opt).unwrap();
        lr.push(opt.lr());
        b1.push(opt.options(0).unwrap().betas.0);
    }
    #[rustfmt::skip]
    close(&lr, &[0.005, 0.035, 0.035, 0.0049999999999999975, 0.004175, 0.00335, 0.002525,
        0.0017000000000000001, 0.0008749999999999999, 4.99999999999997e-05, -0.0007750000000000005]);
    #[rustfmt::skip]
    close(&b1, &[0.95, 0.8833333333333333, 0.8833333333333333, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95, 0.95]);
}

#[test]
fn one_cycle_rejects_bad_settings() {
    let mut opt = Sgd::new(vec![param()], SgdOptions::new(0.01)).unwrap();
    let d = OneCycleOptions::default();
    assert!(OneCycleLR::new(&mut opt, &[0.1], 0, d).is_err());
    assert!(OneCycleLR::new(&mut opt, &[0.1, 0.2], 10, d).is_err());
    assert!(OneCycleLR::new(&mut opt, &[-0.1], 10, d).is_err());
    let bad = OneCycleOptions {
        pct_start: 1.5,
        ..d
    };
    assert!(matches!(
        OneCycleLR::new(&mut opt, &[0.1], 10, bad),
        Err(NnError::InvalidConfig {
            param: "pct_start",
            ..
        })
    ));
}

// o = SGD([p], lr=1.0); s = ReduceLROnPlateau(o, mode='min', factor=0.5, patience=2,
//     threshold=0.1, cooldown=1, min_lr=0.1); s.step(metric) per entry
#[test]
fn plateau_min_relative_with_cooldown_and_floor() {
    let mut opt = Sgd::new(vec![param()], SgdOptions::new(1.0)).unwrap();
    let options = PlateauOptions {
        factor: 0.5,
        patience: 2,
        threshold: 0.1,
        cooldown: 1,
        min_lr: vec![0.1],
        ..PlateauOptions::default()
    };
    let mut s = ReduceLROnPlateau::new(&opt, options).unwrap();
    let metrics = [
        1.0, 0.95, 0.8, 0.79, 0.78, 0.77, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6,
    ];
    let got: Vec<f64> = metrics
        .iter()
        .map(|&m| {
            s.step(&mut opt, m);
            opt.lr()
        })
        .collect();
    #[rustfmt::skip]
    close(&got, &[1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25, 0.125, 0.125, 0.125]);
}

// s = ReduceLROnPlateau(o, mode='max', factor=0.3, patience=1, threshold=0.05, threshold_mode='abs')
#[test]
fn plateau_max_absolute_counts_nan_as_bad() {
    let mut opt = Sgd::new(vec![param()], SgdOptions::new(1.0)).unwrap();
    let options = PlateauOptions {
        mode: PlateauMode::Max,
        factor: 0.3,
        patience: 1,
        threshold: 0.05,
        threshold_mode: ThresholdMode::Abs,
        ..PlateauOptions::default()
    };
    let mut s = ReduceLROnPlateau::new(&opt, options).unwrap();
    let metrics = [
        0.1,
        0.2,
        0.22,
        0.24,
        0.3,
        0.31,
        0.32,
        0.4,
        f64::NAN,
        0.41,
        0.42,
    ];
    let got: Vec<f64> = metrics
        .iter()
        .map(|&m| {
            s.step(&mut opt, m);
            opt.lr()
        })
        .collect();
    close(
        &got,
        &[1.0, 1.0, 1.0, 0.3, 0.3, 0.3, 0.09, 0.09, 0.09, 0.027, 0.027],
    );
    let bad = PlateauOptions {
        factor: 1.0,
        ..PlateauOptions::default()
    };
    assert!(ReduceLROnPlateau::new(&opt, bad).is_err());
}

// o = SGD([p], lr=0.5); s1 = LinearLR(o, 0.1, 1.0, 3); s2 = CosineAnnealingLR(o, T_max=5, eta_min=0.01)
// s = SequentialLR(o, [s1, s2], milestones=[3])
#[test]
fn sequential_warm_up_then_cosine() {
    let mut opt = Sgd::new(vec![param()], SgdOptions::new(0.5)).unwrap();
    let warm = LinearLR::new(&mut opt, 0.1, 1.0, 3).unwrap();
    let cos = CosineAnnealingLR::new(&opt, 5, 0.01).unwrap();
    let mut s = SequentialLR::new(&mut opt, vec![Box::new(warm), Box::new(cos)], &[3]).unwrap();
    #[rustfmt::skip]
    close(&lrs(&mut s, &mut opt, 10), &[0.05, 0.19999999999999998, 0.35, 0.5, 0.45320916362186214,
        0.33070916362186215, 0.1792908363781379, 0.0567908363781379, 0.01, 0.05679083637813787,
        0.17929083637813795]);
    let warm = LinearLR::new(&mut opt, 0.1, 1.0, 3).unwrap();
    assert!(SequentialLR::new(&mut opt, vec![Box::new(warm)], &[3]).is_err());
}

// o = SGD([{'params': a, 'lr': 0.1}, {'params': b, 'lr': 1.0, 'weight_decay': 0.01}], lr=0.5)
// s = StepLR(o, 2, 0.5)
#[test]
fn schedules_scale_each_group_from_its_own_rate() {
    let groups = vec![
        ParamGroup::new(vec![param()], SgdOptions::new(0.1)),
        ParamGroup::new(vec![param()], SgdOptions::new(1.0).weight_decay(0.01)),
    ];
    let mut opt = Sgd::with_groups(groups).unwrap();
    let mut s = StepLR::new(&opt, 2, 0.5).unwrap();
    let mut got = Vec::new();
    for _ in 0..4 {
        s.step(&mut opt).unwrap();
        got.push([opt.group_lr(0).unwrap(), opt.group_lr(1).unwrap()]);
    }
    assert_eq!(got, [[0.1, 1.0], [0.05, 0.5], [0.05, 0.5], [0.025, 0.25]]);
}

/// Saving a schedule midway and loading it into a fresh one continues
/// the same sequence, for every kind (through the metadata strings).
#[test]
fn a_restored_schedule_continues_the_sequence() {
    type Make = fn(&mut Sgd<f64>) -> Box<dyn LrScheduler<f64>>;
    let makers: [Make; 5] = [
        |o| Box::new(StepLR::new(o, 3, 0.7).unwrap()),
        |o| Box::new(CosineAnnealingLR::new(o, 7, 0.001).unwrap()),
        |o| Box::new(LinearLR::new(o, 0.2, 0.9, 6).unwrap()),
        |o| Box::new(OneCycleLR::new(o, &[0.3], 12, OneCycleOptions::default()).unwrap()),
        |o| {
            let w = LinearLR::new(o, 0.1, 1.0, 3).unwrap();
            let c = CosineAnnealingLR::new(o, 5, 0.0).unwrap();
            Box::new(SequentialLR::new(o, vec![Box::new(w), Box::new(c)], &[3]).unwrap())
        },
    ];
    for make in makers {
        let mut opt = Sgd::new(vec![param()], SgdOptions::new(0.1).momentum(0.9)).unwrap();
        let mut s = make(&mut opt);
        let whole = lrs(s.as_mut(), &mut opt, 10);
        let mut opt = Sgd::new(vec![param()], SgdOptions::new(0.1).momentum(0.9)).unwrap();
        let mut s = make(&mut opt);
        let mut first = lrs(s.as_mut(), &mut opt, 4);
        let meta = s.state_dict().to_metadata("scheduler.");
        let saved = SchedulerState::from_metadata("scheduler.", &meta).unwrap();
        assert_eq!(saved, s.state_dict());
        let mut opt2 = Sgd::new(vec![param()], SgdOptions::new(0.1).momentum(0.9)).unwrap();
        let mut fresh = make(&mut opt2);
        fresh.load_state_dict(&saved).unwrap();
        opt2.load_state_dict(&opt.state_dict()).unwrap();
        let rest = lrs(fresh.as_mut(), &mut opt2, 6);
        first.extend_from_slice(&rest[1..]);
        assert_eq!(first, whole, "{}", s.name());
    }
}

#[test]
fn a_state_of_another_schedule_is_refused() {
    let mut opt = Sgd::new(vec![param()], SgdOptions::new(0.1)).unwrap();
    let step = StepLR::new(&opt, 2, 0.5).unwrap();
    let mut lin = LinearLR::with_defaults(&mut opt).unwrap();
    let e = LrScheduler::<f64>::load_state_dict(&mut lin, &LrScheduler::<f64>::state_dict(&step))
        .unwrap_err();
    assert!(
        matches!(
            e,
            NnError::StateMismatch {
                module: "LinearLR",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("StepLR"), "{e}");
}

proptest! {
    /// Arbitrary settings and step counts never panic.
    #[test]
    fn arbitrary_settings_never_panic(
        a in prop::num::f64::ANY,
        b in prop::num::f64::ANY,
        n in 0usize..40,
        steps in 0usize..50,
        metric in prop::collection::vec(prop::num::f64::ANY, 0..20),
    ) {
        let mut opt = Sgd::new(vec![param()], SgdOptions::new(0.1).momentum(0.5)).unwrap();
        if let Ok(mut s) = LinearLR::new(&mut opt, a, b, n) {
            for _ in 0..steps { s.step(&mut opt).unwrap(); }
        }
        let o = OneCycleOptions { pct_start: a, div_factor: b, ..OneCycleOptions::default() };
        if let Ok(mut s) = OneCycleLR::new(&mut opt, &[b], n, o) {
            for _ in 0..steps { let _ = s.step(&mut opt); }
        }
        let _ = StepLR::new(&opt, n, a).map(|mut s| s.step(&mut opt));
        let _ = CosineAnnealingLR::new(&opt, n, a).map(|mut s| s.step(&mut opt));
        let p = PlateauOptions { factor: a, threshold: b.abs(), patience: n, ..PlateauOptions::default() };
        if let Ok(mut s) = ReduceLROnPlateau::new(&opt, p) {
            for &m in &metric { s.step(&mut opt, m); }
        }
    }

    /// Linear warm-up rates stay between the start and end rates.
    #[test]
    fn linear_rates_stay_between_the_ends(
        start in 0.01f64..=1.0, end in 0.0f64..=1.0, n in 1usize..20, steps in 0usize..30,
    ) {
        let mut opt = Sgd::new(vec![param()], SgdOptions::new(2.0)).unwrap();
        let mut s = LinearLR::new(&mut opt, start, end, n).unwrap();
        let (lo, hi) = (2.0 * start.min(end), 2.0 * start.max(end));
        for _ in 0..steps {
            s.step(&mut opt).unwrap();
            prop_assert!(opt.lr() >= lo - 1e-12 && opt.lr() <= hi + 1e-12);
        }
    }
}
