//! Quick timing of `cargo xtask bench norm`'s N1..N5 cases against a parallel copy of the
//! input in the same process (medians of repeated runs).
//!
//! `cargo run --release -p ops-norm --example norm_timing`

use std::time::Instant;

use autograd::{BackwardOptions, Tensor, Var};
use core_tensor::Rng;
use ops_norm::{BatchNormConfig, RunningStats, batch_norm, group_norm, layer_norm};
use rayon::prelude::*;

/// (median, minimum) wall time in ms over `reps` runs after one warm-up.
fn timings(reps: usize, mut f: impl FnMut()) -> (f64, f64) {
    f();
    let mut t: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    (t[t.len() / 2], t[0])
}

fn median_ms(reps: usize, f: impl FnMut()) -> f64 {
    timings(reps, f).0
}

fn zero(vars: &[&Var<f32>]) {
    for v in vars {
        v.zero_grad();
    }
}

fn input(shape: &[usize]) -> Tensor<f32> {
    let mut rng = Rng::new(1);
    let n: usize = shape.iter().product();
    Tensor::from_vec(shape, (0..n).map(|_| rng.normal() as f32).collect()).expect("valid shape")
}

fn copy_ms(x: &Tensor<f32>, reps: usize) -> (f64, f64) {
    let src = x.as_slice();
    let mut dst = vec![0.0f32; src.len()];
    timings(reps, || {
        dst.par_chunks_mut(1 << 16)
            .zip(src.par_chunks(1 << 16))
            .for_each(|(d, s)| d.copy_from_slice(s));
        std::hint::black_box(&dst);
    })
}

fn main() {
    let reps = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(21);
    if std::env::args().nth(2).as_deref() == Some("kernels") {
        kernels_n4(reps);
        return;
    }
    let big = [32, 64, 56, 56];
    let cases: Vec<(&str, Vec<usize>)> = vec![
        ("N1/N2/N5", big.to_vec()),
        ("N3", vec![256, 1024]),
        ("N4", vec![64, 128, 768]),
    ];
    let only = std::env::args().nth(2);
    for (name, shape) in cases {
        if only.as_ref().is_some_and(|o| !name.contains(o.as_str())) {
            continue;
        }
        let x = input(&shape);
        let c = if name == "N4" { 768 } else { shape[1] };
        let (copy, copy_min) = copy_ms(&x, reps);
        println!("{name} {shape:?}: copy median {copy:.3} ms, min {copy_min:.3} ms");
        let g = input(&shape);
        let w = Var::leaf(Tensor::<f32>::ones(&[c]));
        let b = Var::leaf(Tensor::<f32>::zeros(&[c]));
        let report = |label: &str, (ms, min): (f64, f64)| {
            println!(
                "  {label:<26} median {ms:8.3} ms ratio {:5.2} | min {min:8.3} ms ratio {:5.2}",
                ms / copy,
                min / copy_min
            )
        };
        let xv = Var::leaf(x.clone());
        if name == "N4" {
            report(
                "layer_norm fwd",
                timings(reps, || {
                    std::hint::black_box(
                        layer_norm(&xv, &[768], Some(&w), Some(&b), 1e-5).unwrap(),
                    );
                }),
            );
            report(
                "layer_norm fwd+bwd",
                timings(reps, || {
                    zero(&[&xv, &w, &b]);
                    let y = layer_norm(&xv, &[768], Some(&w), Some(&b), 1e-5).unwrap();
                    y.backward_with(&g, BackwardOptions::default()).unwrap();
                }),
            );
            continue;
        }
        let mut st = RunningStats::<f32>::new(c);
        report(
            "batch_norm train fwd",
            timings(reps, || {
                std::hint::black_box(
                    batch_norm(
                        &xv,
                        Some(&w),
                        Some(&b),
                        Some(&mut st),
                        &BatchNormConfig::train(),
                    )
                    .unwrap(),
                );
            }),
        );
        report(
            "batch_norm train fwd+bwd",
            timings(reps, || {
                zero(&[&xv, &w, &b]);
                let y = batch_norm(
                    &xv,
                    Some(&w),
                    Some(&b),
                    Some(&mut st),
                    &BatchNormConfig::train(),
                )
                .unwrap();
                y.backward_with(&g, BackwardOptions::default()).unwrap();
            }),
        );
        if name == "N3" {
            continue;
        }
        report(
            "batch_norm eval fwd",
            timings(reps, || {
                std::hint::black_box(
                    batch_norm(
                        &xv,
                        Some(&w),
                        Some(&b),
                        Some(&mut st),
                        &BatchNormConfig::eval(),
                    )
                    .unwrap(),
                );
            }),
        );
        report(
            "group_norm 32 fwd",
            timings(reps, || {
                std::hint::black_box(group_norm(&xv, 32, Some(&w), Some(&b), 1e-5).unwrap());
            }),
        );
        report(
            "group_norm 32 fwd+bwd",
            timings(reps, || {
                zero(&[&xv, &w, &b]);
                let y = group_norm(&xv, 32, Some(&w), Some(&b), 1e-5).unwrap();
                y.backward_with(&g, BackwardOptions::default()).unwrap();
            }),
        );
    }
}

/// Kernel-level timings (no graph) of the row kernels on N4.
#[allow(dead_code)]
pub fn kernels_n4(reps: usize) {
    use core_tensor::Par;
    use ops_norm::kernels::row::{RowLayout, row_backward, row_forward};
    let x = input(&[64, 128, 768]);
    let g = input(&[64, 128, 768]);
    let w = vec![1.0f32; 768];
    let layout = RowLayout {
        rows: 64 * 128,
        len: 768,
        period: 1,
        group: 1,
    };
    let copy = copy_ms(&x, reps);
    for par in [Par::Rayon, Par::Seq] {
        let f = median_ms(reps, || {
            std::hint::black_box(
                row_forward(x.as_slice(), layout, true, 1e-5, Some(&w), Some(&w), par).unwrap(),
            );
        });
        let (_, st) =
            row_forward(x.as_slice(), layout, true, 1e-5, Some(&w), Some(&w), par).unwrap();
        let b = median_ms(reps, || {
            std::hint::black_box(
                row_backward(
                    x.as_slice(),
                    g.as_slice(),
                    layout,
                    true,
                    &st,
                    Some(&w),
                    true,
                    par,
                )
                .unwrap(),
            );
        });
        println!("kernels N4 {par:?}: copy {:.3}", copy.0);
        println!("   fwd {f:.3} ms bwd {b:.3} ms");
    }
}
