//! Seeded gradcheck samples of every norm and mode for `cargo xtask gradcheck`.

use autograd::gradcheck::single;
use autograd::{GradcheckCase, GradcheckOptions, Result, Tensor, Var};
use core_tensor::Rng;

use crate::{
    BatchNormConfig, InstanceNormConfig, RunningStats, batch_norm, group_norm, instance_norm,
    layer_norm, local_response_norm, normalize, rms_norm,
};

fn rand_tensor(rng: &mut Rng, shape: &[usize], lo: f64, hi: f64) -> Result<Tensor<f64>> {
    let n = shape.iter().product();
    Ok(Tensor::from_vec(
        shape,
        (0..n).map(|_| rng.uniform_in(lo, hi)).collect(),
    )?)
}

/// A small `N, C, *` shape: rank 2..=4, at most ~24 elements.
fn small_shape(rng: &mut Rng, min_c: usize) -> Vec<usize> {
    let rank = 2 + rng.below(3);
    let mut s = vec![2 + rng.below(2), min_c.max(1) + rng.below(2)];
    for _ in 2..rank {
        s.push(1 + rng.below(3));
    }
    s
}

fn options(seed: u64) -> GradcheckOptions {
    GradcheckOptions {
        seed,
        full_jacobian_up_to: 24,
        ..GradcheckOptions::default()
    }
}

fn case(
    op: &'static str,
    label: String,
    inputs: Vec<Tensor<f64>>,
    seed: u64,
    f: impl Fn(&[Var<f64>]) -> Result<Var<f64>> + Send + Sync + 'static,
) -> GradcheckCase {
    GradcheckCase {
        op,
        label,
        inputs,
        func: Box::new(single(f)),
        second_order: true,
        options: options(seed),
    }
}

/// Gradcheck samples (first and second order, f64) of every op and mode:
/// batch norm in training (with and without affine) and in eval with
/// running statistics, instance norm with input and with running
/// statistics, layer norm, group norm, RMS norm, local response norm and
/// `Lp` normalization,
/// on `per_op` seeded
/// random small shapes each.
pub fn gradcheck_cases(seed: u64, per_op: usize) -> Vec<GradcheckCase> {
    let mut rng = Rng::new(seed ^ 0x6e6f_726d);
    let mut out = Vec::new();
    for i in 0..per_op {
        let s = seed.wrapping_add(i as u64);
        if let Ok(cases) = cases_for(&mut rng, s) {
            out.extend(cases);
        }
    }
    out
}

fn cases_for(rng: &mut Rng, seed: u64) -> Result<Vec<GradcheckCase>> {
    let mut out = Vec::new();

    // Batch norm, training, affine.
    let shape = small_shape(rng, 2);
    let c = shape[1];
    let x = rand_tensor(rng, &shape, -2.0, 2.0)?;
    let w = rand_tensor(rng, &[c], 0.5, 1.5)?;
    let b = rand_tensor(rng, &[c], -0.5, 0.5)?;
    out.push(case(
        "batch_norm",
        format!("train affine {shape:?}"),
        vec![x.clone(), w.clone(), b.clone()],
        seed,
        |v| {
            Ok(batch_norm(
                &v[0],
                Some(&v[1]),
                Some(&v[2]),
                None,
                &BatchNormConfig::train(),
            )?)
        },
    ));
    out.push(case(
        "batch_norm",
        format!("train plain {shape:?}"),
        vec![x.clone()],
        seed,
        |v| {
            Ok(batch_norm(
                &v[0],
                None,
                None,
                None,
                &BatchNormConfig::train(),
            )?)
        },
    ));

    // Batch norm, eval with running statistics.
    let rm = rand_tensor(rng, &[c], -0.5, 0.5)?;
    let rv = rand_tensor(rng, &[c], 0.5, 2.0)?;
    let stats = RunningStats::from_parts(rm, rv, 3);
    out.push(case(
        "batch_norm",
        format!("eval running {shape:?}"),
        vec![x.clone(), w.clone(), b.clone()],
        seed,
        move |v| {
            let mut st = stats.clone();
            Ok(batch_norm(
                &v[0],
                Some(&v[1]),
                Some(&v[2]),
                Some(&mut st),
                &BatchNormConfig::eval(),
            )?)
        },
    ));

    // Instance norm, input statistics (needs a spatial size > 1).
    let mut ishape = shape.clone();
    if ishape.len() == 2 {
        ishape.push(2);
    }
    if ishape[2..].iter().product::<usize>() == 1 {
        ishape[2] = 2;
    }
    let xi = rand_tensor(rng, &ishape, -2.0, 2.0)?;
    out.push(case(
        "instance_norm",
        format!("input stats affine {ishape:?}"),
        vec![xi.clone(), w.clone(), b.clone()],
        seed,
        |v| {
            Ok(instance_norm(
                &v[0],
                Some(&v[1]),
                Some(&v[2]),
                None,
                &InstanceNormConfig::default(),
            )?)
        },
    ));
    let stats_i = RunningStats::from_parts(
        rand_tensor(rng, &[c], -0.5, 0.5)?,
        rand_tensor(rng, &[c], 0.5, 2.0)?,
        0,
    );
    out.push(case(
        "instance_norm",
        format!("running stats {ishape:?}"),
        vec![xi, w.clone()],
        seed,
        move |v| {
            let mut st = stats_i.clone();
            let cfg = InstanceNormConfig {
                use_input_stats: false,
                ..Default::default()
            };
            Ok(instance_norm(
                &v[0],
                Some(&v[1]),
                None,
                Some(&mut st),
                &cfg,
            )?)
        },
    ));

    // Layer norm over the last one or two axes.
    let lshape = small_shape(rng, 2);
    let k = 1 + rng.below(2.min(lshape.len() - 1));
    let norm_shape = lshape[lshape.len() - k..].to_vec();
    let xl = rand_tensor(rng, &lshape, -2.0, 2.0)?;
    let wl = rand_tensor(rng, &norm_shape, 0.5, 1.5)?;
    let bl = rand_tensor(rng, &norm_shape, -0.5, 0.5)?;
    let ns = norm_shape.clone();
    out.push(case(
        "layer_norm",
        format!("{lshape:?} over {norm_shape:?}"),
        vec![xl.clone(), wl.clone(), bl],
        seed,
        move |v| Ok(layer_norm(&v[0], &ns, Some(&v[1]), Some(&v[2]), 1e-5)?),
    ));

    // RMS norm.
    let ns = norm_shape.clone();
    out.push(case(
        "rms_norm",
        format!("{lshape:?} over {norm_shape:?}"),
        vec![xl, wl],
        seed,
        move |v| Ok(rms_norm(&v[0], &ns, Some(&v[1]), None)?),
    ));

    // Group norm: C = groups * per_group.
    let groups = 1 + rng.below(2);
    let per_group = 1 + rng.below(2);
    let mut gshape = vec![2, groups * per_group];
    gshape.push(2 + rng.below(2));
    let cg = gshape[1];
    let xg = rand_tensor(rng, &gshape, -2.0, 2.0)?;
    let wg = rand_tensor(rng, &[cg], 0.5, 1.5)?;
    let bg = rand_tensor(rng, &[cg], -0.5, 0.5)?;
    out.push(case(
        "group_norm",
        format!("{gshape:?} groups {groups}"),
        vec![xg, wg, bg],
        seed,
        move |v| Ok(group_norm(&v[0], groups, Some(&v[1]), Some(&v[2]), 1e-5)?),
    ));

    // Local response norm: rank 3 or 4, 2 to 4 channels, a window of 1 to
    // 4 (odd and even), alpha large enough that the window matters.
    let mut rshape = vec![1 + rng.below(2), 2 + rng.below(3), 1 + rng.below(3)];
    if rng.below(2) == 1 {
        rshape.push(2);
    }
    let size = 1 + rng.below(4);
    let (alpha, beta, k) = (rng.uniform_in(0.5, 2.0), rng.uniform_in(0.3, 1.0), 1.0);
    let xr = rand_tensor(rng, &rshape, -2.0, 2.0)?;
    out.push(case(
        "local_response_norm",
        format!("{rshape:?} size {size} alpha {alpha:.3} beta {beta:.3}"),
        vec![xr],
        seed,
        move |v| Ok(local_response_norm(&v[0], size, alpha, beta, k)?),
    ));

    // Lp normalization: entries kept away from 0 and with distinct
    // magnitudes (no ties for p = ±inf), any axis.
    let nshape = small_shape(rng, 2);
    let dim = rng.below(nshape.len()) as isize
        - if rng.below(2) == 0 {
            nshape.len() as isize
        } else {
            0
        };
    let p = [2.0, 3.0, 1.5, 0.0, f64::INFINITY, f64::NEG_INFINITY][rng.below(6)];
    let n: usize = nshape.iter().product();
    let values = rng
        .distinct_vec(n, 0.5, 0.1)
        .into_iter()
        .map(|v| v * if rng.below(2) == 0 { -1.0 } else { 1.0 })
        .collect();
    let xn = Tensor::from_vec(&nshape, values)?;
    out.push(case(
        "normalize",
        format!("{nshape:?} p {p} dim {dim}"),
        vec![xn],
        seed,
        move |v| Ok(normalize(&v[0], p, dim, 1e-12)?),
    ));
    Ok(out)
}
