//! Criterion benchmarks of the cases P1..P5 (f32, NCHW): forward
//! and forward + backward kernels, next to a 2-thread copy of the input
//! (the memory-bound baseline the targets are stated against).
//!
//! Run with `cargo bench -p ops-pool`.

use std::hint::black_box;
use std::sync::Arc;

use core_tensor::{Par, Rng};
use criterion::{Criterion, Throughput};
use ops_pool::kernels::{avg, max};
use ops_pool::{AvgPoolParams, Divisor, Geometry, MaxPoolParams};
use rayon::prelude::*;

fn input(shape: &[usize]) -> Vec<f32> {
    let n: usize = shape.iter().product();
    let mut rng = Rng::new(1);
    (0..n).map(|_| rng.uniform() as f32).collect()
}

fn copy(src: &[f32], dst: &mut [f32]) {
    dst.par_chunks_mut(1 << 16)
        .zip(src.par_chunks(1 << 16))
        .for_each(|(d, s)| d.copy_from_slice(s));
}

fn bench_max(c: &mut Criterion, id: &str, shape: &[usize], p: &MaxPoolParams, with_bwd: bool) {
    let x = input(shape);
    let g = Arc::new(p.geometry(shape).expect("valid benchmark geometry"));
    let mut group = c.benchmark_group(id);
    group.sample_size(20);
    group.throughput(Throughput::Bytes((x.len() * 4) as u64));
    let mut dst = vec![0f32; x.len()];
    let mut evict = ratios::Evict::new(x.len() * 4);
    group.bench_function("copy", |b| {
        ratios::cold(b, &mut evict, || copy(black_box(&x), &mut dst))
    });
    // The inference forward (values only), as `max_pool` runs without a
    // recorded gradient and PyTorch under `no_grad`.
    group.bench_function("fwd", |b| {
        ratios::cold(b, &mut evict, || {
            black_box(max::forward_values(black_box(&x), &g, Par::Rayon))
        })
    });
    if with_bwd {
        let dy = vec![1f32; g.planes() * g.plane_out()];
        group.bench_function("fwd+bwd", |b| {
            ratios::cold(b, &mut evict, || {
                let (y, am) = max::forward(black_box(&x), &g, Par::Rayon);
                black_box(y);
                black_box(max::backward(&dy, &am, Par::Rayon))
            })
        });
    }
    group.finish();
}

fn bench_avg(c: &mut Criterion, id: &str, shape: &[usize], g: Geometry, div: Divisor) {
    let x = input(shape);
    let mut group = c.benchmark_group(id);
    group.sample_size(20);
    group.throughput(Throughput::Bytes((x.len() * 4) as u64));
    let mut dst = vec![0f32; x.len()];
    let mut evict = ratios::Evict::new(x.len() * 4);
    group.bench_function("copy", |b| {
        ratios::cold(b, &mut evict, || copy(black_box(&x), &mut dst))
    });
    group.bench_function("fwd", |b| {
        ratios::cold(b, &mut evict, || {
            black_box(avg::forward(black_box(&x), &g, div, Par::Rayon))
        })
    });
    let dy = vec![1f32; g.planes() * g.plane_out()];
    group.bench_function("fwd+bwd", |b| {
        ratios::cold(b, &mut evict, || {
            black_box(avg::forward(black_box(&x), &g, div, Par::Rayon));
            black_box(avg::backward(&dy, &g, div, Par::Rayon))
        })
    });
    group.finish();
}

fn pools(c: &mut Criterion) {
    bench_max(c, P1, &[32, 64, 56, 56], &MaxPoolParams::new(&[2, 2]), true);
    let p2 = MaxPoolParams::new(&[3, 3]).stride(&[2]).padding(&[1]);
    bench_max(c, P2, &[32, 64, 112, 112], &p2, true);
    let s3 = [32, 64, 56, 56];
    let p3 = AvgPoolParams::new(&[2, 2]);
    bench_avg(
        c,
        P3,
        &s3,
        p3.geometry(&s3).expect("valid"),
        Divisor::IncludePad,
    );
    let s4 = [32, 512, 7, 7];
    let g4 =
        Geometry::adaptive_for("adaptive_avg_pool2d", &s4, &[Some(1), Some(1)]).expect("valid");
    bench_avg(c, P4, &s4, g4, Divisor::InBounds);
    let p5 = MaxPoolParams::new(&[3]).stride(&[2]).padding(&[1]);
    bench_max(c, P5, &[64, 256, 1024], &p5, false);
}

#[path = "support/ratios.rs"]
mod ratios;

/// The criterion groups of [`pools`].
const P1: &str = "P1 max_pool2d k2 s2 (32,64,56,56)";
const P2: &str = "P2 max_pool2d k3 s2 p1 (32,64,112,112)";
const P3: &str = "P3 avg_pool2d k2 s2 (32,64,56,56)";
const P4: &str = "P4 adaptive_avg_pool2d 1x1 (32,512,7,7)";
const P5: &str = "P5 max_pool1d k3 s2 p1 (64,256,1024)";

fn main() {
    // As `cargo xtask bench` by default: freed large blocks are reused, not
    // unmapped and faulted in again on the next call (see core_tensor::alloc).
    core_tensor::alloc::retain_freed_memory();
    let mut c = Criterion::default().configure_from_args();
    pools(&mut c);
    c.final_summary();
    let case = |group, kernel, target| ratios::Ratio {
        group,
        copy: "copy",
        kernel,
        target,
    };
    let mut cases = Vec::new();
    for group in [P1, P2, P3, P4] {
        cases.push(case(group, "fwd", 1.5));
        cases.push(case(group, "fwd+bwd", 3.0));
    }
    cases.push(case(P5, "fwd", 1.5));
    ratios::print_ratios(&cases);
}
