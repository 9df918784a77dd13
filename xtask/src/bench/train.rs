//! `cargo xtask bench train`: what a user of the whole network feels, timed
//! the way `xtask/pytorch_train_bench.py` times PyTorch on the same cases so
//! that both can run one after the other on one machine.
//!
//! - **T1**: one training step of the examples' CNN (Conv2d(1,16,3,p=1)-
//!   BatchNorm2d-ReLU-MaxPool2d(2), Conv2d(16,32,3,p=1)-BatchNorm2d-ReLU-
//!   MaxPool2d(2), Flatten, Linear(1568,10)) on a batch of 64 1x28x28 images
//!   in f32 with cross-entropy and SGD with momentum 0.9: medians of
//!   forward, backward, optimizer step and the whole step over the timed
//!   steps, minor page faults per step and the process's peak RSS.
//! - **C1-C4**: convolutions, forward (no graph) and forward + backward
//!   (input and weight gradients); **L1**: a linear layer, the same.
//!
//! Nothing here changes allocator settings: the process runs with what a
//! user gets by default.

use std::time::Instant;

use autograd::{BackwardOptions, Tensor, Var, no_grad};
use core_tensor::Rng;
use nn::prelude::*;
use nn::{BatchNorm2d, MaxPool2d};

use super::harness::{BenchOptions, Timing, time};

/// Steps of T1: untimed warm-up steps, then timed ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepOptions {
    /// Untimed steps first.
    pub warmup: usize,
    /// Timed steps (at least 1).
    pub steps: usize,
}

impl Default for StepOptions {
    fn default() -> Self {
        Self {
            warmup: 20,
            steps: 100,
        }
    }
}

/// Medians of T1's phases in milliseconds, and the memory figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepTiming {
    /// `zero_grad`, forward and loss.
    pub forward_ms: f64,
    /// `loss.backward()`.
    pub backward_ms: f64,
    /// `optimizer.step()`.
    pub step_ms: f64,
    /// The whole step.
    pub total_ms: f64,
    /// Median minor page faults per timed step (None where the OS does not
    /// report them).
    pub minor_faults: Option<u64>,
    /// Peak resident set size of the process in MiB after the steps.
    pub peak_rss_mib: Option<f64>,
}

fn random(shape: &[usize], seed: u64) -> Tensor<f32> {
    let mut rng = Rng::new(seed);
    let n: usize = shape.iter().product();
    Tensor::from_vec(shape, (0..n).map(|_| rng.normal() as f32).collect())
        .expect("the shapes below are valid")
}

/// The examples' CNN for 28x28 images and 10 classes.
fn cnn(rng: &mut Rng) -> Sequential<f32> {
    let pad1 = ConvOptions::default().padding(1);
    Sequential::new()
        .push(Conv2d::with_options(1, 16, [3, 3], pad1, rng).expect("valid layer"))
        .push(BatchNorm2d::new(16).expect("valid layer"))
        .push(ReLU::new())
        .push(MaxPool2d::new(2))
        .push(Conv2d::with_options(16, 32, [3, 3], pad1, rng).expect("valid layer"))
        .push(BatchNorm2d::new(32).expect("valid layer"))
        .push(ReLU::new())
        .push(MaxPool2d::new(2))
        .push(Flatten::new())
        .push(Linear::new(32 * 7 * 7, 10, true, rng).expect("valid layer"))
}

/// Minor page faults of this process so far (field 10 of /proc/self/stat).
fn minor_faults() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(7)?.parse().ok()
}

/// Peak resident set size in MiB (`VmHWM` of /proc/self/status).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Runs T1 and returns its medians.
pub fn train_step(opts: StepOptions) -> StepTiming {
    let mut rng = Rng::new(0);
    let mut model = cnn(&mut rng);
    model.train();
    let mut opt =
        Sgd::new(model.parameters(), SgdOptions::new(0.01).momentum(0.9)).expect("valid optimizer");
    let x = Var::constant(random(&[64, 1, 28, 28], 1));
    let targets: Vec<usize> = (0..64).map(|i| (i * 7) % 10).collect();
    let (mut fwd, mut bwd, mut stp, mut tot, mut faults) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..opts.warmup + opts.steps.max(1) {
        let f0 = minor_faults();
        let t0 = Instant::now();
        opt.zero_grad();
        let scores = model.forward(&x).expect("valid forward");
        let loss = cross_entropy(&scores, &targets, Reduction::Mean, 0.0).expect("valid loss");
        let t1 = Instant::now();
        loss.backward().expect("valid backward");
        let t2 = Instant::now();
        opt.step().expect("valid step");
        let t3 = Instant::now();
        let f1 = minor_faults();
        if i >= opts.warmup {
            let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
            fwd.push(ms(t0, t1));
            bwd.push(ms(t1, t2));
            stp.push(ms(t2, t3));
            tot.push(ms(t0, t3));
            if let (Some(a), Some(b)) = (f0, f1) {
                faults.push((b - a) as f64);
            }
        }
    }
    StepTiming {
        forward_ms: median(fwd),
        backward_ms: median(bwd),
        step_ms: median(stp),
        total_ms: median(tot),
        minor_faults: (!faults.is_empty()).then(|| median(faults) as u64),
        peak_rss_mib: peak_rss_mib(),
    }
}

/// A layer case: C1-C4 and L1.
pub struct LayerCase {
    /// `"C1"` .. `"L1"`.
    pub id: &'static str,
    /// What it runs.
    pub description: &'static str,
    /// The input shape.
    pub input: &'static [usize],
    make: fn(&mut Rng) -> Box<dyn Module<f32>>,
}

/// The layer cases of the issue.
pub fn layer_cases() -> Vec<LayerCase> {
    fn boxed(m: impl Module<f32> + 'static) -> Box<dyn Module<f32>> {
        Box::new(m)
    }
    vec![
        LayerCase {
            id: "C1",
            description: "Conv2d(1,16,3,p=1)",
            input: &[64, 1, 28, 28],
            make: |rng| {
                boxed(
                    Conv2d::with_options(1, 16, [3, 3], ConvOptions::default().padding(1), rng)
                        .expect("valid"),
                )
            },
        },
        LayerCase {
            id: "C2",
            description: "Conv2d(16,32,3,p=1)",
            input: &[64, 16, 14, 14],
            make: |rng| {
                boxed(
                    Conv2d::with_options(16, 32, [3, 3], ConvOptions::default().padding(1), rng)
                        .expect("valid"),
                )
            },
        },
        LayerCase {
            id: "C3",
            description: "Conv2d(64,64,3,p=1)",
            input: &[32, 64, 56, 56],
            make: |rng| {
                boxed(
                    Conv2d::with_options(64, 64, [3, 3], ConvOptions::default().padding(1), rng)
                        .expect("valid"),
                )
            },
        },
        LayerCase {
            id: "C4",
            description: "Conv1d(64,64,5,p=2)",
            input: &[32, 64, 1024],
            make: |rng| {
                boxed(
                    Conv1d::with_options(64, 64, [5], ConvOptions::default().padding(2), rng)
                        .expect("valid"),
                )
            },
        },
        LayerCase {
            id: "L1",
            description: "Linear(1024,1024)",
            input: &[256, 1024],
            make: |rng| boxed(Linear::new(1024, 1024, true, rng).expect("valid")),
        },
    ]
}

/// Forward (no graph) and forward + backward (input and weight gradients,
/// seeded with ones) medians of one layer case.
pub fn time_layer(case: &LayerCase, opts: BenchOptions) -> (Timing, Timing) {
    let mut rng = Rng::new(0);
    let mut layer = (case.make)(&mut rng);
    let x = random(case.input, 1);
    let xc = Var::constant(x.clone());
    let xl = Var::leaf(x);
    let fwd = time(
        || {
            let _g = no_grad();
            std::hint::black_box(layer.forward(&xc).expect("valid forward"));
        },
        opts,
    );
    let params = layer.parameters();
    let seed = Tensor::<f32>::ones(&layer.forward(&xc).expect("valid forward").shape());
    let fwd_bwd = time(
        || {
            xl.zero_grad();
            params.iter().for_each(Var::zero_grad);
            let y = layer.forward(&xl).expect("valid forward");
            y.backward_with(&seed, BackwardOptions::default())
                .expect("valid backward");
        },
        BenchOptions {
            iters: opts.iters.div_ceil(2).max(5),
            ..opts
        },
    );
    (fwd, fwd_bwd)
}
