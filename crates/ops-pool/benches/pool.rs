//! Criterion benchmarks of the cases P1..P5 (f32, NCHW): forward
//! and forward + backward kernels, next to a 2-thread copy of the input
//! (the memory-bound baseline the targets are stated against).
//!
//! Run with `cargo bench -p ops-pool`.

use std::hint::black_box;
use std::sync::Arc;

use core_tensor::{Par, Rng};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ops_pool::{AvgPoolParams, Divisor, Geometry, MaxPoolParams, avg, max};
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
    group.bench_function("copy", |b| b.iter(|| copy(black_box(&x), &mut dst)));
    group.bench_function("fwd", |b| {
        b.iter(|| black_box(max::forward(black_box(&x), &g, Par::Rayon)))
    });
    if with_bwd {
        let dy = vec![1f32; g.planes() * g.plane_out()];
        group.bench_function("fwd+bwd", |b| {
            b.iter(|| {
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
    group.bench_function("copy", |b| b.iter(|| copy(black_box(&x), &mut dst)));
    group.bench_function("fwd", |b| {
        b.iter(|| black_box(avg::forward(black_box(&x), &g, div, Par::Rayon)))
    });
    let dy = vec![1f32; g.planes() * g.plane_out()];
    group.bench_function("fwd+bwd", |b| {
        b.iter(|| {
            black_box(avg::forward(black_box(&x), &g, div, Par::Rayon));
            black_box(avg::backward(&dy, &g, div, Par::Rayon))
        })
    });
    group.finish();
}

fn pools(c: &mut Criterion) {
    bench_max(
        c,
        "P1 max_pool2d k2 s2 (32,64,56,56)",
        &[32, 64, 56, 56],
        &MaxPoolParams::new(&[2, 2]),
        true,
    );
    let p2 = MaxPoolParams::new(&[3, 3]).stride(&[2]).padding(&[1]);
    bench_max(
        c,
        "P2 max_pool2d k3 s2 p1 (32,64,112,112)",
        &[32, 64, 112, 112],
        &p2,
        true,
    );
    let s3 = [32, 64, 56, 56];
    let p3 = AvgPoolParams::new(&[2, 2]);
    bench_avg(
        c,
        "P3 avg_pool2d k2 s2 (32,64,56,56)",
        &s3,
        p3.geometry(&s3).expect("valid"),
        Divisor::IncludePad,
    );
    let s4 = [32, 512, 7, 7];
    let g4 =
        Geometry::adaptive_for("adaptive_avg_pool2d", &s4, &[Some(1), Some(1)]).expect("valid");
    bench_avg(
        c,
        "P4 adaptive_avg_pool2d 1x1 (32,512,7,7)",
        &s4,
        g4,
        Divisor::InBounds,
    );
    let p5 = MaxPoolParams::new(&[3]).stride(&[2]).padding(&[1]);
    bench_max(
        c,
        "P5 max_pool1d k3 s2 p1 (64,256,1024)",
        &[64, 256, 1024],
        &p5,
        false,
    );
}

criterion_group!(benches, pools);
criterion_main!(benches);
