//! A quick timing of the cases P1..P5 of `cargo xtask bench pool` (see
//! `PERF.md`) against a 2-thread copy of the input, in the same process
//! (medians of repeated runs). Ignored by default: speed goals live in
//! benchmarks, not in timed tests. Run with
//! `cargo test -p ops-pool --release --test timing -- --ignored --nocapture`.

use std::sync::Arc;
use std::time::Instant;

use core_tensor::{Par, Rng};
use ops_pool::kernels::{avg, max};
use ops_pool::{AvgPoolParams, Divisor, Geometry, MaxPoolParams};
use rayon::prelude::*;

fn median_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[reps / 2]
}

fn input(n: usize) -> Vec<f32> {
    let mut rng = Rng::new(1);
    (0..n).map(|_| rng.uniform() as f32).collect()
}

fn copy_ms(x: &[f32], reps: usize) -> f64 {
    let mut dst = vec![0f32; x.len()];
    median_ms(reps, || {
        dst.par_chunks_mut(1 << 16)
            .zip(x.par_chunks(1 << 16))
            .for_each(|(d, s)| d.copy_from_slice(s));
        std::hint::black_box(&dst);
    })
}

fn report(id: &str, ms: f64, copy: f64, torch: f64) {
    println!(
        "{id:10} {ms:8.3} ms  copy {copy:7.3} ms  ratio {:5.2}  (PyTorch quoted {torch} ms)",
        ms / copy
    );
}

fn min_ms(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    (0..reps)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .fold(f64::INFINITY, f64::min)
}

/// Single-thread kernel time over the first 128 planes of each case against
/// a single-thread copy of the same input bytes (minimum of repeated runs,
/// which is robust to other processes on the machine).
#[test]
#[ignore]
fn time_p1_to_p5_single_thread_min() {
    let reps = 31;
    for (id, mut shape, p) in [
        ("P1", vec![128usize, 56, 56], MaxPoolParams::new(&[2, 2])),
        (
            "P2",
            vec![128, 112, 112],
            MaxPoolParams::new(&[3, 3]).stride(&[2]).padding(&[1]),
        ),
        (
            "P5",
            vec![128, 1024],
            MaxPoolParams::new(&[3]).stride(&[2]).padding(&[1]),
        ),
    ] {
        if id == "P5" {
            shape = vec![2048, 1024];
        }
        let x = input(shape.iter().product());
        let g = Arc::new(p.geometry(&shape).unwrap());
        let dy = vec![1f32; g.planes() * g.plane_out()];
        let mut dst = vec![0f32; x.len()];
        let c = min_ms(reps, || {
            dst.copy_from_slice(&x);
            std::hint::black_box(&dst);
        });
        let f = min_ms(reps, || {
            std::hint::black_box(max::forward(&x, &g, Par::Seq));
        });
        let (_, am) = max::forward(&x, &g, Par::Seq);
        let b = min_ms(reps, || {
            std::hint::black_box(max::backward(&dy, &am, Par::Seq));
        });
        println!(
            "{id} 1-thread: fwd {f:.3} ms, bwd {b:.3} ms, copy {c:.3} ms; fwd/copy {:.2}, (fwd+bwd)/copy {:.2}",
            f / c,
            (f + b) / c
        );
    }
    let s3 = [128usize, 56, 56];
    let s4 = [4096usize, 7, 7];
    for (id, shape, g, div) in [
        (
            "P3",
            s3.to_vec(),
            AvgPoolParams::new(&[2, 2]).geometry(&s3).unwrap(),
            Divisor::IncludePad,
        ),
        (
            "P4",
            s4.to_vec(),
            Geometry::adaptive_for("p4", &s4, &[Some(1), Some(1)]).unwrap(),
            Divisor::InBounds,
        ),
    ] {
        let x = input(shape.iter().product());
        let dy = vec![1f32; g.planes() * g.plane_out()];
        let mut dst = vec![0f32; x.len()];
        let c = min_ms(reps, || {
            dst.copy_from_slice(&x);
            std::hint::black_box(&dst);
        });
        let f = min_ms(reps, || {
            std::hint::black_box(avg::forward(&x, &g, div, Par::Seq));
        });
        let b = min_ms(reps, || {
            std::hint::black_box(avg::backward(&dy, &g, div, Par::Seq));
        });
        println!(
            "{id} 1-thread: fwd {f:.3} ms, bwd {b:.3} ms, copy {c:.3} ms; fwd/copy {:.2}, (fwd+bwd)/copy {:.2}",
            f / c,
            (f + b) / c
        );
    }
}

#[test]
#[ignore]
fn time_p1_to_p5() {
    let reps = 21;
    for (id, shape, p, torch) in [
        (
            "P1",
            vec![32usize, 64, 56, 56],
            MaxPoolParams::new(&[2, 2]),
            (17.4, 20.2),
        ),
        (
            "P2",
            vec![32, 64, 112, 112],
            MaxPoolParams::new(&[3, 3]).stride(&[2]).padding(&[1]),
            (117.0, 149.0),
        ),
        (
            "P5",
            vec![64, 256, 1024],
            MaxPoolParams::new(&[3]).stride(&[2]).padding(&[1]),
            (13.3, 106.0),
        ),
    ] {
        let x = input(shape.iter().product());
        let g = Arc::new(p.geometry(&shape).unwrap());
        let dy = vec![1f32; g.planes() * g.plane_out()];
        let c = copy_ms(&x, reps);
        let f = median_ms(reps, || {
            std::hint::black_box(max::forward(&x, &g, Par::Rayon));
        });
        report(&format!("{id} fwd"), f, c, torch.0);
        // What a fresh output costs by itself: allocate zeroed y (f32) and the
        // 1-byte argmax and touch every page from 2 threads.
        let n_out = g.planes() * g.plane_out();
        let alloc = median_ms(reps, || {
            let mut y = vec![0f32; n_out];
            let mut t = vec![0u8; n_out];
            y.par_chunks_mut(1 << 14).for_each(|c| c.fill(1.0));
            t.par_chunks_mut(1 << 16).for_each(|c| c.fill(1));
            std::hint::black_box((&y, &t));
        });
        report(&format!("{id} alloc"), alloc, c, f64::NAN);
        let fb = median_ms(reps, || {
            let (y, am) = max::forward(&x, &g, Par::Rayon);
            std::hint::black_box(y);
            std::hint::black_box(max::backward(&dy, &am, Par::Rayon));
        });
        report(&format!("{id} fwd+bwd"), fb, c, torch.1);
    }
    let s3 = [32usize, 64, 56, 56];
    let s4 = [32usize, 512, 7, 7];
    for (id, shape, g, div, torch) in [
        (
            "P3",
            s3.to_vec(),
            AvgPoolParams::new(&[2, 2]).geometry(&s3).unwrap(),
            Divisor::IncludePad,
            (6.0, 12.2),
        ),
        (
            "P4",
            s4.to_vec(),
            Geometry::adaptive_for("p4", &s4, &[Some(1), Some(1)]).unwrap(),
            Divisor::InBounds,
            (0.060, 0.28),
        ),
    ] {
        let x = input(shape.iter().product());
        let dy = vec![1f32; g.planes() * g.plane_out()];
        let c = copy_ms(&x, reps);
        let f = median_ms(reps, || {
            std::hint::black_box(avg::forward(&x, &g, div, Par::Rayon));
        });
        report(&format!("{id} fwd"), f, c, torch.0);
        let fb = median_ms(reps, || {
            std::hint::black_box(avg::forward(&x, &g, div, Par::Rayon));
            std::hint::black_box(avg::backward(&dy, &g, div, Par::Rayon));
        });
        report(&format!("{id} fwd+bwd"), fb, c, torch.1);
    }
}
