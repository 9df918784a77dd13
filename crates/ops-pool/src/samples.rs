//! Seeded gradcheck samples of every pooling op for `cargo xtask gradcheck`.

use autograd::gradcheck::single;
use autograd::{GradcheckCase, GradcheckOptions, Var};
use core_tensor::{Rng, Tensor};

use crate::op_names::OPS;
use crate::params::{AvgPoolParams, LpPoolParams, MaxPoolParams, MaxUnpoolParams, Padding};
use crate::{adaptive_avg_pool, adaptive_max_pool, avg_pool, lp_pool, max_pool, max_unpool};

/// Random small window parameters for `dims` axes: kernel, stride,
/// dilation (1 unless `dilate`), padding pairs within the effective kernel,
/// ceil mode, and a spatial input size that admits at least one window.
pub(crate) struct RandomWindow {
    pub(crate) kernel: Vec<usize>,
    pub(crate) stride: Vec<usize>,
    pub(crate) dilation: Vec<usize>,
    pub(crate) padding: Vec<[usize; 2]>,
    pub(crate) ceil: bool,
    pub(crate) spatial: Vec<usize>,
}

impl RandomWindow {
    pub(crate) fn draw(rng: &mut Rng, dims: usize, dilate: bool, max_len_extra: usize) -> Self {
        let mut w = RandomWindow {
            kernel: vec![],
            stride: vec![],
            dilation: vec![],
            padding: vec![],
            ceil: rng.below(2) == 1,
            spatial: vec![],
        };
        let kmax = if dims == 3 { 2 } else { 3 };
        for _ in 0..dims {
            let k = 1 + rng.below(kmax);
            let d = if dilate { 1 + rng.below(2) } else { 1 };
            let eff = d * (k - 1) + 1;
            // Padding up to half the effective kernel keeps every window holding an input element.
            let pmax = eff / 2;
            w.kernel.push(k);
            w.stride.push(1 + rng.below(2));
            w.dilation.push(d);
            w.padding.push([rng.below(pmax + 1), rng.below(pmax + 1)]);
            w.spatial.push(eff + rng.below(max_len_extra + 1));
        }
        w
    }
}

fn lead(rng: &mut Rng) -> Vec<usize> {
    match rng.below(3) {
        0 => vec![2],
        1 => vec![1, 2],
        _ => vec![2, 1],
    }
}

fn shape_of(lead: &[usize], spatial: &[usize]) -> Vec<usize> {
    let mut s = lead.to_vec();
    s.extend_from_slice(spatial);
    s
}

/// Tie-free inputs whose values are at least 0.05 away from 0.
fn distinct(rng: &mut Rng, n: usize) -> Vec<f64> {
    rng.distinct_vec(n, -(n as f64) * 0.05 + 0.025, 0.1)
}

fn case(
    op: &'static str,
    label: String,
    inputs: Vec<Tensor<f64>>,
    f: impl Fn(&[Var<f64>]) -> autograd::Result<Var<f64>> + Send + Sync + 'static,
) -> GradcheckCase {
    GradcheckCase {
        op,
        label,
        inputs,
        func: Box::new(single(f)),
        second_order: true,
        options: GradcheckOptions::default(),
    }
}

/// Seeded gradcheck cases: `per_op` random small shapes and parameters for
/// every op in [`OPS`], with tie-free inputs and second order enabled.
pub fn gradcheck_cases(seed: u64, per_op: usize) -> Vec<GradcheckCase> {
    let mut out = Vec::new();
    for (k, &op) in OPS.iter().enumerate() {
        for i in 0..per_op {
            let mut rng =
                Rng::new(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ ((k as u64) << 32) ^ i as u64);
            if let Some(c) = make_case(op, &mut rng) {
                out.push(c);
            }
        }
    }
    out
}

fn make_case(op: &'static str, rng: &mut Rng) -> Option<GradcheckCase> {
    let dims = (op.as_bytes()[op.len() - 2] - b'0') as usize;
    let extra = if dims == 3 { 1 } else { 3 };
    let ld = lead(rng);
    if op.starts_with("fractional") {
        return Some(fractional_case(op, dims, &ld, rng));
    }
    // Retry a few draws until the parameters are valid for the shape.
    for _ in 0..32 {
        let w = RandomWindow::draw(rng, dims, op.starts_with("max_pool"), extra);
        let shape = shape_of(&ld, &w.spatial);
        let n: usize = shape.iter().product();
        let x = Tensor::from_vec(&shape, distinct(rng, n)).ok()?;
        let label = format!(
            "x {shape:?} k {:?} s {:?} d {:?} pad {:?} ceil {}",
            w.kernel, w.stride, w.dilation, w.padding, w.ceil
        );
        match op {
            "max_pool1d" | "max_pool2d" | "max_pool3d" => {
                let p = MaxPoolParams::new(&w.kernel)
                    .stride(&w.stride)
                    .dilation(&w.dilation)
                    .padding_mode(Padding::Explicit(w.padding.clone()))
                    .ceil_mode(w.ceil);
                if p.geometry(&shape).is_err() {
                    continue;
                }
                return Some(case(op, label, vec![x], move |v| Ok(max_pool(&v[0], &p)?)));
            }
            "avg_pool1d" | "avg_pool2d" | "avg_pool3d" => {
                let p = AvgPoolParams::new(&w.kernel)
                    .stride(&w.stride)
                    .padding_mode(Padding::Explicit(w.padding.clone()))
                    .ceil_mode(w.ceil)
                    .count_include_pad(rng.below(2) == 0)
                    .divisor_override(if rng.below(4) == 0 {
                        Some(1 + rng.below(5) as i64)
                    } else {
                        None
                    });
                if p.geometry(&shape).is_err() {
                    continue;
                }
                let label = format!(
                    "{label} cip {} div {:?}",
                    p.count_include_pad, p.divisor_override
                );
                return Some(case(op, label, vec![x], move |v| Ok(avg_pool(&v[0], &p)?)));
            }
            "lp_pool1d" | "lp_pool2d" | "lp_pool3d" => {
                let norm = [1.0, 1.5, 2.0, 3.0][rng.below(4)];
                let p = LpPoolParams::new(norm, &w.kernel)
                    .stride(&w.stride)
                    .padding_mode(Padding::Explicit(w.padding.clone()))
                    .ceil_mode(w.ceil);
                if p.geometry(&shape).is_err() {
                    continue;
                }
                let label = format!("{label} p {norm}");
                return Some(case(op, label, vec![x], move |v| Ok(lp_pool(&v[0], &p)?)));
            }
            "adaptive_avg_pool1d"
            | "adaptive_avg_pool2d"
            | "adaptive_avg_pool3d"
            | "adaptive_max_pool1d"
            | "adaptive_max_pool2d"
            | "adaptive_max_pool3d" => {
                let osz: Vec<Option<usize>> = w
                    .spatial
                    .iter()
                    .map(|&l| {
                        if rng.below(5) == 0 {
                            None
                        } else {
                            Some(1 + rng.below(l + 1))
                        }
                    })
                    .collect();
                let label = format!("x {shape:?} output_size {osz:?}");
                return Some(if op.starts_with("adaptive_avg") {
                    case(op, label, vec![x], move |v| {
                        Ok(adaptive_avg_pool(&v[0], &osz)?)
                    })
                } else {
                    case(op, label, vec![x], move |v| {
                        Ok(adaptive_max_pool(&v[0], &osz)?)
                    })
                });
            }
            _ => {
                // max_unpool: unique indices per plane, so the gather backward is the exact derivative.
                let p = MaxUnpoolParams::new(&w.kernel)
                    .stride(&w.stride)
                    .padding_pairs(&w.padding);
                let xs: Vec<usize> = w.spatial.iter().map(|&l| 1 + l / 2).collect();
                let xshape = shape_of(&ld, &xs);
                let Ok(g) = crate::geometry::UnpoolGeometry::new(op, &xshape, &p) else {
                    continue;
                };
                let (pin, pout) = (g.plane_in(), g.plane_out());
                if pout < pin {
                    continue;
                }
                let mut idx = Vec::with_capacity(g.planes() * pin);
                for _ in 0..g.planes() {
                    let mut all: Vec<i64> = (0..pout as i64).collect();
                    rng.shuffle(&mut all);
                    idx.extend_from_slice(&all[..pin]);
                }
                let idx = Tensor::from_vec(&xshape, idx).ok()?;
                let n = xshape.iter().product();
                let x = Tensor::from_vec(&xshape, distinct(rng, n)).ok()?;
                let label = format!(
                    "x {xshape:?} k {:?} s {:?} pad {:?}",
                    w.kernel, w.stride, w.padding
                );
                return Some(case(op, label, vec![x], move |v| {
                    Ok(max_unpool(&v[0], &idx, &p)?)
                }));
            }
        }
    }
    None
}

/// Fractional max pooling: windows of 1 or 2 per axis, inputs a little
/// larger, any output size PyTorch accepts (overlapping windows included),
/// random samples per plane.
fn fractional_case(op: &'static str, dims: usize, ld: &[usize], rng: &mut Rng) -> GradcheckCase {
    // 3-d pooling needs O + k − 1 < L, 2-d only O + k − 1 <= L.
    let strict = usize::from(dims == 3);
    let grow = if dims == 3 { 1 } else { 3 };
    let kernel: Vec<usize> = (0..dims).map(|_| 1 + rng.below(2)).collect();
    let spatial: Vec<usize> = kernel
        .iter()
        .map(|&k| k + strict + 1 + rng.below(grow))
        .collect();
    let output: Vec<usize> = spatial
        .iter()
        .zip(&kernel)
        .map(|(&l, &k)| 1 + rng.below(l + 1 - k - strict))
        .collect();
    let shape = shape_of(ld, &spatial);
    let x = Tensor::from_vec(&shape, distinct(rng, shape.iter().product()))
        .expect("length matches the shape");
    let (n, c) = match ld {
        [n, c] => (*n, *c),
        _ => (1, ld[0]),
    };
    let samples = Tensor::from_vec(&[n, c, dims], rng.uniform_vec(n * c * dims, 0.0, 1.0))
        .expect("length matches the shape");
    let label = format!("x {shape:?} k {kernel:?} output_size {output:?}");
    let p = crate::params::FractionalMaxPoolParams::with_output_size(&kernel, &output);
    let mut c = case(op, label, vec![x], move |v| {
        Ok(crate::fractional_max_pool(&v[0], &p, &samples)?)
    });
    // Up to 128 input elements: compare the second-order Jacobian in full
    // rather than through projections.
    c.options.full_jacobian_up_to = 128;
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_gets_cases_that_check_both_orders() {
        let cases = gradcheck_cases(7, 2);
        assert_eq!(cases.len(), 2 * OPS.len());
        for c in &cases {
            let out = c.run().unwrap();
            assert!(
                out.passed(),
                "{} {}: {} {:?}",
                c.op,
                c.label,
                out.first,
                out.second
            );
            assert!(out.first.compared > 0, "{} {}", c.op, c.label);
            assert!(
                out.second
                    .as_ref()
                    .is_some_and(|r| r.compared > out.first.compared),
                "{}",
                c.op
            );
        }
    }
}
