//! Benchmark cases of ops-pool for `cargo xtask bench pool`: the issue's
//! P1..P5 (f32, NCHW), forward and forward + backward, timed on the
//! kernels with `Par::Rayon` (what the autograd ops call).
//!
//! The max pooling "fwd" cases time the inference forward
//! (`max::forward_values`: values only, no argmax, what `max_pool` runs
//! under `no_grad`, as PyTorch's forward under `torch.no_grad()`); the
//! "fwd+bwd" cases time the training path (`max::forward` with its argmax,
//! then `max::backward`).
//!
//! `ideal_bytes` counts what an ideal kernel must move: forward reads the
//! input and writes the output (plus, for the training max pooling forward,
//! the 1-byte in-window argmax it keeps for backward); backward reads the
//! output gradient (and the argmax) and writes the input gradient.

use std::sync::Arc;

use core_tensor::{Par, Rng};
use ops_pool::kernels::{avg, max};
use ops_pool::{AvgPoolParams, Divisor, Geometry, MaxPoolParams};

use super::BenchCase;

const F32: usize = 4;

fn input(n: usize) -> Vec<f32> {
    let mut rng = Rng::new(0x9001);
    (0..n).map(|_| rng.uniform() as f32).collect()
}

fn label(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(usize::to_string).collect();
    format!("({})", dims.join(","))
}

fn max_cases(
    out: &mut Vec<BenchCase>,
    ids: (&'static str, &'static str),
    what: &str,
    shape: &[usize],
    p: &MaxPoolParams,
    pytorch: (f64, f64),
) {
    let Ok(g) = p.geometry(shape) else {
        return;
    };
    let g = Arc::new(g);
    let n_in = g.planes() * g.plane_in();
    let n_out = g.planes() * g.plane_out();
    let x = Arc::new(input(n_in));
    let fwd_bytes = n_in * F32 + n_out * F32 + n_out;
    let description = format!("{what} {} f32", label(shape));
    {
        let (x, g) = (Arc::clone(&x), Arc::clone(&g));
        out.push(BenchCase {
            id: ids.0,
            description: format!("{description}, inference forward (values only, no argmax; as PyTorch under no_grad)"),
            ideal_bytes: (n_in + n_out) * F32,
            input_bytes: n_in * F32,
            target_copy_ratio: 1.5,
            pytorch_ms: Some(pytorch.0),
            run: Box::new(move || {
                std::hint::black_box(max::forward_values(&x, &g, Par::Rayon));
            }),
        });
    }
    let dy = vec![1f32; n_out];
    out.push(BenchCase {
        id: ids.1,
        description: format!("{description}, training forward (with argmax) + backward"),
        ideal_bytes: fwd_bytes + n_out * F32 + n_out + n_in * F32,
        input_bytes: n_in * F32,
        target_copy_ratio: 3.0,
        pytorch_ms: Some(pytorch.1),
        run: Box::new(move || {
            let (y, am) = max::forward(&x, &g, Par::Rayon);
            std::hint::black_box(y);
            std::hint::black_box(max::backward(&dy, &am, Par::Rayon));
        }),
    });
}

fn avg_cases(
    out: &mut Vec<BenchCase>,
    ids: (&'static str, &'static str),
    what: &str,
    shape: &[usize],
    g: Geometry,
    div: Divisor,
    pytorch: (f64, f64),
) {
    let g = Arc::new(g);
    let n_in = g.planes() * g.plane_in();
    let n_out = g.planes() * g.plane_out();
    let x = Arc::new(input(n_in));
    let description = format!("{what} {} f32", label(shape));
    {
        let (x, g) = (Arc::clone(&x), Arc::clone(&g));
        out.push(BenchCase {
            id: ids.0,
            description: description.clone(),
            ideal_bytes: (n_in + n_out) * F32,
            input_bytes: n_in * F32,
            target_copy_ratio: 1.5,
            pytorch_ms: Some(pytorch.0),
            run: Box::new(move || {
                std::hint::black_box(avg::forward(&x, &g, div, Par::Rayon));
            }),
        });
    }
    let dy = vec![1f32; n_out];
    out.push(BenchCase {
        id: ids.1,
        description,
        ideal_bytes: 2 * (n_in + n_out) * F32,
        input_bytes: n_in * F32,
        target_copy_ratio: 3.0,
        pytorch_ms: Some(pytorch.1),
        run: Box::new(move || {
            std::hint::black_box(avg::forward(&x, &g, div, Par::Rayon));
            std::hint::black_box(avg::backward(&dy, &g, div, Par::Rayon));
        }),
    });
}

/// The benchmark cases of ops-pool: P1..P5 of issue 3, each forward
/// (target 1.5x a copy of the input) and forward + backward (target 3x).
pub fn cases() -> Vec<BenchCase> {
    let mut out = Vec::new();
    max_cases(
        &mut out,
        ("P1 fwd", "P1 fwd+bwd"),
        "max_pool2d k=2 s=2",
        &[32, 64, 56, 56],
        &MaxPoolParams::new(&[2, 2]),
        (17.4, 20.2),
    );
    max_cases(
        &mut out,
        ("P2 fwd", "P2 fwd+bwd"),
        "max_pool2d k=3 s=2 p=1",
        &[32, 64, 112, 112],
        &MaxPoolParams::new(&[3, 3]).stride(&[2]).padding(&[1]),
        (117.0, 149.0),
    );
    let s3 = [32, 64, 56, 56];
    if let Ok(g) = AvgPoolParams::new(&[2, 2]).geometry(&s3) {
        avg_cases(
            &mut out,
            ("P3 fwd", "P3 fwd+bwd"),
            "avg_pool2d k=2 s=2",
            &s3,
            g,
            Divisor::IncludePad,
            (6.0, 12.2),
        );
    }
    let s4 = [32, 512, 7, 7];
    if let Ok(g) = Geometry::adaptive_for("adaptive_avg_pool2d", &s4, &[Some(1), Some(1)]) {
        avg_cases(
            &mut out,
            ("P4 fwd", "P4 fwd+bwd"),
            "adaptive_avg_pool2d to 1x1",
            &s4,
            g,
            Divisor::InBounds,
            (0.060, 0.28),
        );
    }
    max_cases(
        &mut out,
        ("P5 fwd", "P5 fwd+bwd"),
        "max_pool1d k=3 s=2 p=1",
        &[64, 256, 1024],
        &MaxPoolParams::new(&[3]).stride(&[2]).padding(&[1]),
        (13.3, 106.0),
    );
    out
}
