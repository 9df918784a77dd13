//! Criterion benchmarks of `cargo xtask bench norm`'s N1..N5 cases (f32), and of local
//! response norm on N1's input, through the public autograd API, beside a
//! parallel copy of the same input bytes: `cargo bench -p ops-norm`.

use autograd::{BackwardOptions, Tensor, Var};
use core_tensor::Rng;
use criterion::{Criterion, Throughput};
use ops_norm::{
    BatchNormConfig, RunningStats, batch_norm, group_norm, layer_norm, local_response_norm,
};
use rayon::prelude::*;

fn input(shape: &[usize], seed: u64) -> Tensor<f32> {
    let mut rng = Rng::new(seed);
    let n: usize = shape.iter().product();
    Tensor::from_vec(shape, (0..n).map(|_| rng.normal() as f32).collect()).expect("valid shape")
}

fn zero(vars: &[&Var<f32>]) {
    for v in vars {
        v.zero_grad();
    }
}

fn bench(c: &mut Criterion) {
    let nchw = [32, 64, 56, 56];
    let cases: [(&str, Vec<usize>, usize); 3] = [
        ("nchw", nchw.to_vec(), 64),
        ("n3", vec![256, 1024], 1024),
        ("n4", vec![64, 128, 768], 768),
    ];
    for (name, shape, ch) in cases {
        let x = input(&shape, 1);
        let g = input(&shape, 2);
        let bytes = (x.len() * 4) as u64;
        let mut group = c.benchmark_group(name);
        group.sample_size(20);
        group.throughput(Throughput::Bytes(bytes));
        let src = x.as_slice().to_vec();
        let mut dst = vec![0.0f32; src.len()];
        let mut evict = ratios::Evict::new(src.len() * 4);
        group.bench_function("copy of the input", |b| {
            ratios::cold(b, &mut evict, || {
                dst.par_chunks_mut(1 << 16)
                    .zip(src.par_chunks(1 << 16))
                    .for_each(|(d, s)| d.copy_from_slice(s))
            })
        });
        let xv = Var::leaf(x.clone());
        let w = Var::leaf(Tensor::<f32>::ones(&[ch]));
        let bias = Var::leaf(Tensor::<f32>::zeros(&[ch]));
        let mut st = RunningStats::<f32>::new(ch);
        if name == "n4" {
            group.bench_function("N4 layer_norm fwd+bwd", |b| {
                ratios::cold(b, &mut evict, || {
                    zero(&[&xv, &w, &bias]);
                    let y = layer_norm(&xv, &[768], Some(&w), Some(&bias), 1e-5).unwrap();
                    y.backward_with(&g, BackwardOptions::default()).unwrap();
                })
            });
            group.bench_function("N4 layer_norm fwd", |b| {
                ratios::cold(b, &mut evict, || {
                    layer_norm(&xv, &[768], Some(&w), Some(&bias), 1e-5).unwrap()
                })
            });
            group.finish();
            continue;
        }
        let id = if name == "n3" { "N3" } else { "N1" };
        group.bench_function(format!("{id} batch_norm train fwd"), |b| {
            ratios::cold(b, &mut evict, || {
                batch_norm(
                    &xv,
                    Some(&w),
                    Some(&bias),
                    Some(&mut st),
                    &BatchNormConfig::train(),
                )
                .unwrap()
            })
        });
        group.bench_function(format!("{id} batch_norm train fwd+bwd"), |b| {
            ratios::cold(b, &mut evict, || {
                zero(&[&xv, &w, &bias]);
                let y = batch_norm(
                    &xv,
                    Some(&w),
                    Some(&bias),
                    Some(&mut st),
                    &BatchNormConfig::train(),
                )
                .unwrap();
                y.backward_with(&g, BackwardOptions::default()).unwrap();
            })
        });
        if name == "nchw" {
            group.bench_function("N2 batch_norm eval fwd", |b| {
                ratios::cold(b, &mut evict, || {
                    batch_norm(
                        &xv,
                        Some(&w),
                        Some(&bias),
                        Some(&mut st),
                        &BatchNormConfig::eval(),
                    )
                    .unwrap()
                })
            });
            group.bench_function("N5 group_norm 32 fwd+bwd", |b| {
                ratios::cold(b, &mut evict, || {
                    zero(&[&xv, &w, &bias]);
                    let y = group_norm(&xv, 32, Some(&w), Some(&bias), 1e-5).unwrap();
                    y.backward_with(&g, BackwardOptions::default()).unwrap();
                })
            });
            // Not an issue case (no target): local response norm with
            // PyTorch's defaults and a window of 5 channels.
            group.bench_function("local_response_norm 5 fwd", |b| {
                ratios::cold(b, &mut evict, || {
                    local_response_norm(&xv, 5, 1e-4, 0.75, 1.0).unwrap()
                })
            });
            group.bench_function("local_response_norm 5 fwd+bwd", |b| {
                ratios::cold(b, &mut evict, || {
                    zero(&[&xv]);
                    let y = local_response_norm(&xv, 5, 1e-4, 0.75, 1.0).unwrap();
                    y.backward_with(&g, BackwardOptions::default()).unwrap();
                })
            });
        }
        group.finish();
    }
}

#[path = "../../ops-pool/benches/support/ratios.rs"]
mod ratios;

fn main() {
    // As `cargo xtask bench` by default: freed large blocks are reused, not
    // unmapped and faulted in again on the next call (see core_tensor::alloc).
    core_tensor::alloc::retain_freed_memory();
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
    let case = |group, kernel, target| ratios::Ratio {
        group,
        copy: "copy of the input",
        kernel,
        target,
    };
    ratios::print_ratios(&[
        case("nchw", "N1 batch_norm train fwd", 2.5),
        case("nchw", "N1 batch_norm train fwd+bwd", 5.0),
        case("nchw", "N2 batch_norm eval fwd", 1.3),
        case("n3", "N3 batch_norm train fwd", 2.5),
        case("n3", "N3 batch_norm train fwd+bwd", 5.0),
        case("n4", "N4 layer_norm fwd", 2.5),
        case("n4", "N4 layer_norm fwd+bwd", 5.0),
        case("nchw", "N5 group_norm 32 fwd+bwd", 5.0),
    ]);
}
